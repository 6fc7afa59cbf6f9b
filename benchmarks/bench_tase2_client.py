"""TASE.2 client ingest: full InformationReports -> decoded -> scaled -> applied to the bus.

What it measures: :meth:`ReportIngest.handle_pdu` on pre-encoded unconfirmed PDUs (the MMS
PDU, without the ISO upper layers) of one data set of 1,000 Data_RealQTimeTag points plus
the three special members (Transfer_Set_Name, DSConditions_Detected,
Transfer_Set_Time_Stamp): decode (the column fast path), scale/offset and ISN ax+b, group by
quality and time stamp, ``PointBus.update_many``, and build the critical-report ACK. Values
random-walk so nearly every point is a recorded change; flags vary (valid/held/suspect);
time stamps spread over four seconds. No subscriber is attached to the bus.
"""

from __future__ import annotations

import random

from adapters.tase2.client.ingest import PointSlot, ReportIngest, SetLayout
from adapters.tase2.client.plan import SPECIAL_MEMBERS
from adapters.tase2.mms.access import VariableListName
from adapters.tase2.mms.data import Integer
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.report_fast import encode_realq_timetag_report
from adapters.tase2.model.objects import DSConditions, ds_conditions_to_data, encode_mms_object_name
from adapters.tase2.model.points import PointType
from benchmarks.common import best_rate, report
from gateway.bus import PointBus
from gateway.points import PointDef, PointKind

POINTS = 1000
FRAMES = 8


def main() -> None:
    """Print ``BENCH tase2_client_ingest <n> points/s``."""
    rng = random.Random(7)
    bus = PointBus()
    bus.add_owner("client")
    domain = "ICC1"
    slots = []
    for i in range(POINTS):
        bus.register(PointDef(id=f"C{i}", usage_multiplier=0.5, deadband=0.0), "client")
        slots.append(
            PointSlot(
                f"C{i}",
                ObjectName.dom(domain, f"P{i}"),
                PointKind.REAL,
                PointType.DATA_REALQ_TIMETAG,
                a=0.5,
                b=1.0,
            )
        )
    name = ObjectName.dom(domain, "DS_01")
    ts_name = ObjectName.dom(domain, "DSTransferSet01")
    ingest = ReportIngest(bus, domain)
    ingest.set_slots(slots)
    layout = SetLayout(name, (*SPECIAL_MEMBERS, *slots), critical=True)
    ingest.add_layout(layout)
    ingest.bind(layout, ts_name)

    values = [rng.uniform(0, 1000) for _ in range(POINTS)]
    pdus = []
    for frame in range(FRAMES):
        values = [v + rng.choice((-1.0, 1.0)) for v in values]
        stamps = [1_700_000_000 + frame * 4 + (i % 4) for i in range(POINTS)]
        flags = [rng.choice((0x00, 0x00, 0x00, 0x10, 0x20)) for _ in range(POINTS)]
        prefix = (
            encode_mms_object_name(ts_name),
            ds_conditions_to_data(DSConditions.INTERVAL_TIMEOUT),
            Integer(1_700_000_000 + frame),
        )
        pdus.append(
            encode_realq_timetag_report(VariableListName(name), values, stamps, flags, prefix)
        )
    state = {"i": 0}

    def work() -> int:
        pdu = pdus[state["i"] % FRAMES]
        state["i"] += 1
        outcome = ingest.handle_pdu(pdu)
        assert outcome.points == POINTS and outcome.reply is not None
        return POINTS

    report("tase2_client_ingest", best_rate(work), "points/s")


if __name__ == "__main__":
    main()
