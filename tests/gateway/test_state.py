"""The local state store: values by namespace, on disk before a write returns, clear
errors for a directory or file that cannot be used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.state import STATE_FILE, StateStore, StateStoreError, check_state_dir
from tests.support import REPO


def test_values_by_namespace_round_trip(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state") as store:
        store.put("a", "k", {"state": 1, "reason": "crew"})
        store.put("b", "k", [1, 2])
        store.put("a", "k", {"state": 2, "reason": "x"})  # replaces
        assert store.get("a", "k") == {"state": 2, "reason": "x"}
        assert store.items("b") == {"k": [1, 2]}
        store.delete("b", "k")
        store.delete("b", "missing")
        assert store.get("b", "k") is None and list(store) == ["a"]
    with StateStore(tmp_path / "state") as again:
        assert again.items("a") == {"k": {"state": 2, "reason": "x"}}


def test_a_write_is_on_disk_when_put_returns_even_if_the_process_dies(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from gateway.state import StateStore\n"
        "s = StateStore(sys.argv[1])\n"
        "s.put('tags', 'BRK1', {'state': 1})\n"
        "os._exit(0)\n"  # no close, no atexit: as a kill -9 right after the answer
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env, timeout=30)
    with StateStore(tmp_path) as store:
        assert store.get("tags", "BRK1") == {"state": 1}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StateStoreError, match=f"state directory {locked} is not writable"):
            StateStore(locked)
        with pytest.raises(StateStoreError, match="cannot be created"):
            StateStore(locked / "sub")
    finally:
        locked.chmod(0o700)


def test_a_file_that_is_no_database_is_a_clear_error_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    path.write_bytes(b"not a database, half written" * 10)
    with pytest.raises(StateStoreError, match=f"state file {path}"):
        StateStore(tmp_path)
    assert path.read_bytes().startswith(b"not a database")


def test_checking_a_state_dir_creates_nothing_and_names_what_is_wrong(tmp_path: Path) -> None:
    check_state_dir(tmp_path / "a" / "b")  # can be created: fine, and not created yet
    assert list(tmp_path.iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateStoreError, match=f"{blocker} is not a directory"):
        check_state_dir(blocker / "state")


def test_sqlite3_is_imported_only_when_a_store_is_opened(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from gateway.state import StateStore, check_state_dir\n"
        "check_state_dir(sys.argv[1])\n"
        "print('sqlite3' in sys.modules)\n"
        "StateStore(sys.argv[1]).close()\n"
        "print('sqlite3' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=30,
    )
    assert done.stdout.split() == ["False", "True"]
