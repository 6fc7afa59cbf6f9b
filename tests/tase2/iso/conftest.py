"""Fixtures for the ISO layer tests: the Annex A frames of the TASE.2 reference.

The frames were checked with tshark by the reference's authors; tests take them through the
``annex_a`` fixture (pytest runs with ``--import-mode=importlib``, so helpers cannot be
imported by module name).
"""

from __future__ import annotations

import os
import shutil
from types import SimpleNamespace

import pytest


def frame(text: str) -> bytes:
    """Bytes from the reference's spaced hex."""
    return bytes.fromhex("".join(text.split()))


COTP_CR = frame("03 00 00 16  11 e0 00 00 00 01 00  c0 01 0d  c2 02 00 01  c1 02 00 01")
COTP_CC = frame("03 00 00 16  11 d0 00 01 00 01 00  c0 01 0d  c2 02 00 01  c1 02 00 01")

ASSOCIATE_REQUEST = frame(
    """
03 00 00 bb 02 f0 80 0d b2 05 06 13 01 00 16 01 02 14 02 00 02 33 02 00 01 34 02 00 01 c1 9c
31 81 99 a0 03 80 01 01 a2 81 91 81 04 00 00 00 01 82 04 00 00 00 01 a4 23 30 0f 02 01 01 06 04
52 01 00 01 30 04 06 02 51 01 30 10 02 01 03 06 05 28 ca 22 02 01 30 04 06 02 51 01 61 5e 30 5c
02 01 01 a0 57 60 55 a1 07 06 05 28 ca 22 02 03 a2 07 06 05 29 01 87 67 01 a3 03 02 01 0c a6 06
06 04 29 01 87 67 a7 03 02 01 0c be 2f 28 2d 02 01 03 a0 28 a8 26 80 03 00 fd e8 81 01 05 82 01
05 83 01 0a a4 16 80 01 01 81 03 05 f1 00 82 0c 03 ee 1c 00 00 04 08 00 00 79 ef 18
"""
)
INITIATE_REQUEST = frame(
    """
a8 26 80 03 00 fd e8 81 01 05 82 01 05 83 01 0a a4 16 80 01 01 81 03 05 f1 00 82 0c 03 ee 1c 00
00 04 08 00 00 79 ef 18
"""
)

ASSOCIATE_RESPONSE = frame(
    """
03 00 00 8f 02 f0 80 0e 86 05 06 13 01 00 16 01 02 14 02 00 02 34 02 00 01 c1 74 31 72 a0 03 80
01 01 a2 6b 83 04 00 00 00 01 a5 12 30 07 80 01 00 81 02 51 01 30 07 80 01 00 81 02 51 01 61 4f
30 4d 02 01 01 a0 48 61 46 a1 07 06 05 28 ca 22 02 03 a2 03 02 01 00 a3 05 a1 03 02 01 00 be 2f
28 2d 02 01 03 a0 28 a9 26 80 03 00 fd e8 81 01 05 82 01 05 83 01 0a a4 16 80 01 01 81 03 05 f1
00 82 0c 03 6e 1c 00 00 00 00 00 00 00 01 18
"""
)
INITIATE_RESPONSE = frame(
    """
a9 26 80 03 00 fd e8 81 01 05 82 01 05 83 01 0a a4 16 80 01 01 81 03 05 f1 00 82 0c 03 6e 1c 00
00 00 00 00 00 00 01 18
"""
)

GET_NAME_LIST_DOMAINS = frame("a0 0e 02 01 03 a1 09 a0 03 80 01 09 a1 02 80 00")
CONCLUDE_TSDU = frame("01 00 01 00 61 09 30 07 02 01 03 a0 02 8b 00")
FINISH = frame("03 00 00 19 02 f0 80 09 10 c1 0e 61 0c 30 0a 02 01 01 a0 05 62 03 80 01 00")
DISCONNECT = frame("03 00 00 16 02 f0 80 0a 0d c1 0b 61 09 30 07 02 01 01 a0 02 63 00")


def tsdu_of(tpkt_frame: bytes) -> bytes:
    """The TSDU inside a single-segment frame: skip TPKT (4) and the DT header (3)."""
    assert tpkt_frame[4:7] == b"\x02\xf0\x80"
    return tpkt_frame[7:]


@pytest.fixture(scope="session")
def annex_a() -> SimpleNamespace:
    """The Annex A frames and the PDUs inside them, by name."""
    return SimpleNamespace(
        cotp_cr=COTP_CR,
        cotp_cc=COTP_CC,
        associate_request=ASSOCIATE_REQUEST,
        initiate_request=INITIATE_REQUEST,
        associate_response=ASSOCIATE_RESPONSE,
        initiate_response=INITIATE_RESPONSE,
        get_name_list_domains=GET_NAME_LIST_DOMAINS,
        conclude_tsdu=CONCLUDE_TSDU,
        finish=FINISH,
        disconnect=DISCONNECT,
        tsdu_of=tsdu_of,
    )


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path of tshark; skip without it (fail when GATEWAY_REQUIRE_PEERS=1)."""
    path = shutil.which("tshark")
    if path is None:
        reason = "tshark not installed (Debian package tshark)"
        if os.environ.get("GATEWAY_REQUIRE_PEERS") == "1":
            pytest.fail(f"{reason}, and GATEWAY_REQUIRE_PEERS=1")
        pytest.skip(reason)
    return path
