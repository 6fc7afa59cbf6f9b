"""The frames of the TASE.2 reference's Annex A, checked with tshark by its authors.

The ISO, association and MMS tests use them as ``from tests.support.tase2 import annex_a``:
whole frames of the association (:data:`COTP_CR` ... :data:`DISCONNECT`), the Initiate
bodies inside them, the data-phase MMS PDUs by purpose (:data:`MMS_PDUS`), and
:func:`tsdu_of` to take the TSDU out of a single-segment frame.
"""

from __future__ import annotations


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


# The data-phase MMS PDUs of Annex A (each travels as
# 03 00 LL LL 02 f0 80 01 00 01 00 61 L 30 L 02 01 03 a0 L <pdu>), by purpose.
MMS_PDUS: dict[str, bytes] = {
    "Read ICC1/Next_DSTransfer_Set": frame(
        """
a0 2a 02 01 01 a4 25 a1 23 a0 21 30 1f a0 1d a1 1b 1a 04 49 43 43 31 1a 13 4e 65 78 74 5f 44 53
54 72 61 6e 73 66 65 72 5f 53 65 74
"""
    ),
    "its response": frame(
        """
a1 23 02 01 01 a4 1e a1 1c a2 1a 86 01 01 8a 04 49 43 43 31 8a 0f 44 53 54 72 61 6e 73 66 65 72
53 65 74 30 31
"""
    ),
    "Write DSTS (2000 model)": frame(
        """
a0 5d 02 01 02 a5 58 a0 1d 30 1b a0 19 a1 17 1a 04 49 43 43 31 1a 0f 44 53 54 72 61 6e 73 66 65
72 53 65 74 30 31 a0 37 a2 35 a2 0e 86 01 01 8a 04 49 43 43 31 8a 03 44 53 31 85 01 00 85 01 0a
85 01 00 85 01 02 85 01 3c 84 02 03 e0 83 01 00 83 01 00 83 01 ff 83 01 00 83 01 ff 85 01 00
"""
    ),
    "GetNameList domains": GET_NAME_LIST_DOMAINS,
    "GetNameList variables in ICC1": frame(
        "a0 12 02 01 04 a1 0d a0 03 80 01 00 a1 06 81 04 49 43 43 31"
    ),
    "DeleteNamedVariableList ICC1/DS1": frame(
        "a0 14 02 01 07 ad 0f a1 0d a1 0b 1a 04 49 43 43 31 1a 03 44 53 31"
    ),
    "Select ICC1/Breaker1_SBO": frame(
        """
a0 23 02 01 08 a4 1e a1 1c a0 1a 30 18 a0 16 a1 14 1a 04 49 43 43 31 1a 0c 42 72 65 61 6b 65 72
31 5f 53 42 4f
"""
    ),
    "Operate ICC1/Breaker1 := 1": frame(
        """
a0 22 02 01 09 a5 1d a0 16 30 14 a0 12 a1 10 1a 04 49 43 43 31 1a 08 42 72 65 61 6b 65 72 31 a0
03 85 01 01
"""
    ),
    "Error: access denied": frame("a2 0a 80 01 07 a2 05 a0 03 87 01 03"),
}

DSTS_WRITE_DATA = frame(
    """
a2 35 a2 0e 86 01 01 8a 04 49 43 43 31 8a 03 44 53 31 85 01 00 85 01 0a 85 01 00 85 01 02 85 01
3c 84 02 03 e0 83 01 00 83 01 00 83 01 ff 83 01 00 83 01 ff 85 01 00
"""
)
"""The Data element of the "Write DSTS (2000 model)" request: one DSTransferSet value."""


def tsdu_of(tpkt_frame: bytes) -> bytes:
    """The TSDU inside a single-segment frame: skip TPKT (4) and the DT header (3)."""
    assert tpkt_frame[4:7] == b"\x02\xf0\x80"
    return tpkt_frame[7:]
