"""Shared test helpers: peers that may be missing on a developer machine."""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import settings

# These machines are shared and noisy: a per-example deadline only makes property tests
# flaky. Speed is measured by `make bench`, never asserted in tests.
settings.register_profile("gateway", deadline=None)
settings.load_profile("gateway")

REQUIRE_PEERS = os.environ.get("GATEWAY_REQUIRE_PEERS") == "1"


def require_program(name: str, package: str) -> str:
    """The path of a peer program; skip the test without it (fail under CI)."""
    # Debian puts daemons such as mosquitto in /usr/sbin, which is not on every PATH.
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    path = shutil.which(name, path=search)
    if path is None:
        reason = f"{name} not installed (Debian package {package})"
        if REQUIRE_PEERS:
            pytest.fail(f"{reason}, and GATEWAY_REQUIRE_PEERS=1")
        pytest.skip(reason)
    return path
