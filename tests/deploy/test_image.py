"""The `Dockerfile` read where no container engine runs: its stages and what they promise.

Multi-stage (a wheel built in the first stage, installed without the test extra in the
second), a non-root user, configuration and state as volumes, the health check through
``iccp-gateway status``, port 102 through a file capability; and every file it copies is in
the repository and not left out of the build context by ``.dockerignore``.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field

from tests.support import REPO

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    """One ``FROM ... AS name`` stage: its instructions as (keyword, arguments)."""

    base: str
    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for word, rest in self.steps if word == keyword]


def stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())  # continuation lines joined
    out: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            out.append(Stage(words[0], name))
        elif out:
            out[-1].steps.append((keyword, rest.strip()))
    return out


def test_two_stages_on_a_slim_python_the_second_from_the_first_wheel() -> None:
    build, runtime = stages()
    assert (build.name, runtime.name) == ("build", "runtime")
    args = DOCKERFILE.read_text()
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", args)
    assert build.base == runtime.base == "${PYTHON_IMAGE}"
    assert any("pip wheel" in r and "--no-deps" in r for r in build.args("RUN"))
    assert any(r.startswith("--from=build /wheels") for r in runtime.args("COPY"))
    installs = [r for r in runtime.args("RUN") if "pip install" in r]
    assert installs and all("[test]" not in r and "-e " not in r for r in installs)


def test_runs_as_a_dedicated_user_with_config_and_state_as_volumes() -> None:
    runtime = stages()[-1]
    (user,) = runtime.args("USER")
    assert user == "10102:10102"  # numeric, not root, the user created below
    assert any(
        "groupadd --system --gid 10102 iccp-gateway" in r
        and "useradd --system --uid 10102 --gid 10102" in r
        for r in runtime.args("RUN")
    )
    (volumes,) = runtime.args("VOLUME")
    assert set(json.loads(volumes)) == {"/etc/iccp-gateway", "/var/lib/iccp-gateway"}
    assert runtime.args("ENTRYPOINT") == ['["iccp-gateway"]']
    assert runtime.args("CMD") == ['["run", "/etc/iccp-gateway/gateway.yaml"]']


def test_health_check_is_the_status_command_and_port_102_needs_no_root() -> None:
    runtime = stages()[-1]
    (health,) = runtime.args("HEALTHCHECK")
    assert health.endswith('CMD ["iccp-gateway", "status"]')
    assert not any("setcap" in r for r in runtime.args("RUN"))  # runs under --cap-drop ALL
    assert "102" in runtime.args("EXPOSE")[0].split()
    env = " ".join(runtime.args("ENV"))
    assert "ICCP_GATEWAY_URL=http://127.0.0.1:8080" in env
    assert "ICCP_LISTEN=0.0.0.0" in env  # ICCP reachable from outside the container


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether ``.dockerignore`` leaves ``path`` out (last matching pattern wins; a pattern
    also matches everything under the directory it names)."""
    out = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes) or fnmatch.fnmatchcase(
            path, pattern.replace("**/", "*")
        ):
            out = not negate
    return out


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for stage in stages():
        for args in stage.args("COPY"):
            words = shlex.split(args)
            if words[0].startswith("--from="):
                continue
            copied += words[:-1]
    assert {"pyproject.toml", "gateway", "adapters"} <= set(copied)
    for source in copied:
        path = REPO / source
        assert path.exists(), f"COPY {source}: not in the repository"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for f in files:
            rel = f.relative_to(REPO).as_posix()
            if "__pycache__" in rel:
                continue
            assert not ignored(rel, patterns), f"{rel} is copied but .dockerignore leaves it out"
    # what the image does not need stays out of the context
    for rel in ("tests/conftest.py", "benchmarks/__main__.py", ".git/HEAD", "mappings/demo.yaml"):
        assert ignored(rel, patterns), rel
