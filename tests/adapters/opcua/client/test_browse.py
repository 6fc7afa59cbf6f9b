"""`iccp-gateway opcua browse` against an asyncua server in another process."""

from __future__ import annotations

import argparse
import io
import tomllib
from importlib.metadata import EntryPoint

import pytest

from adapters.opcua.client.browse import add_opcua_command, run_browse
from gateway.cli import COMMAND_ENTRY_POINTS
from tests.support import REPO, free_port
from tests.support.peers.opcua_server_peer import OpcUaServerPeer


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_opcua_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def test_the_command_is_declared_as_an_entry_point() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    target = declared[COMMAND_ENTRY_POINTS]["opcua"]
    assert EntryPoint("x", target, COMMAND_ENTRY_POINTS).load() is add_opcua_command


def test_browse_lists_node_ids_names_and_types() -> None:
    server = OpcUaServerPeer(free_port()).start()
    try:
        out, err = io.StringIO(), io.StringIO()
        assert run_browse(parse("opcua", "browse", server.url, "--depth", "2"), out, err) == 0
    finally:
        server.stop()
    lines = out.getvalue().splitlines()
    assert any("ns=2;s=Plant" in line and "2:Plant" in line for line in lines)
    p2 = next(line for line in lines if "ns=2;s=P2" in line)
    assert p2.startswith("  ") and "2:P2" in p2 and "Variable" in p2 and "Int32" in p2
    assert any("ns=2;s=S1" in line and "Boolean" in line for line in lines)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("http://x",), 2, "no opc.tcp:// URL"),
        (("opc.tcp://127.0.0.1:1", "--depth", "0"), 2, "--depth"),
    ],
)
def test_bad_arguments(argv: tuple[str, ...], code: int, message: str) -> None:
    err = io.StringIO()
    assert run_browse(parse("opcua", "browse", *argv), io.StringIO(), err) == code
    assert message in err.getvalue()


def test_unreachable_server_is_one_line() -> None:
    err = io.StringIO()
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    args = parse("opcua", "browse", url, "--timeout", "2")
    assert run_browse(args, io.StringIO(), err) == 3
    assert err.getvalue().count("\n") == 1 and url in err.getvalue()
