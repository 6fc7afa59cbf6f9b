"""MMS report codec throughput: InformationReports of 1,000 Data_RealQTimeTag points."""

from __future__ import annotations

import random

from adapters.tase2.mms.access import VariableListName
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.report_fast import (
    decode_realq_timetag_report,
    encode_realq_timetag_report,
)
from benchmarks.common import best_rate, report

POINTS = 1000


def main() -> None:
    """Print ``BENCH mms_encode_report`` and ``BENCH mms_decode_report`` in points/s."""
    rng = random.Random(42)
    spec = VariableListName(ObjectName.dom("ICC1", "DS1"))
    values = [rng.uniform(-1e4, 1e4) for _ in range(POINTS)]
    timestamps = [1_700_000_000 + i for i in range(POINTS)]
    flags = [rng.choice((0x00, 0x10, 0x20, 0x30, 0x04)) for _ in range(POINTS)]

    def encode() -> int:
        encode_realq_timetag_report(spec, values, timestamps, flags)
        return POINTS

    pdu = encode_realq_timetag_report(spec, values, timestamps, flags)

    def decode() -> int:
        decoded = decode_realq_timetag_report(pdu)
        assert decoded is not None
        return len(decoded.points.values)

    report("mms_encode_report", best_rate(encode), "points/s")
    report("mms_decode_report", best_rate(decode), "points/s")


if __name__ == "__main__":
    main()
