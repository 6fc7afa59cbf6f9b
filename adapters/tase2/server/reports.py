"""DS transfer set reports: what one report holds, how big it can get, and its bytes.

A :class:`ReportRequest` is what the transfer engine (:mod:`adapters.tase2.server.transfer`) asks
the shell to send. Its shape follows reference section 6.9:

* **full report** (``full`` True): InformationReport with ``variableListName`` = the data
  set's name and one AccessResult per data-set member, in member order; the special members
  are filled in place (Transfer_Set_Name = MMSObjectName of the transfer set,
  DSConditions_Detected = the trigger bits, Event_Code_Detected, Transfer_Set_Time_Stamp =
  report time in GMTBasedS).
* **changed-points (RBE) report** (``full`` False): InformationReport with
  ``listOfVariable``: first the special variables the data set contains, in the fixed order
  Transfer_Set_Name, DSConditions_Detected, Event_Code_Detected, Transfer_Set_Time_Stamp,
  each named by its own ICC name; then one entry per changed point named by its own (ICC or
  VCC) name, with its value. With AllChangesReported a point may appear several times, in
  the order of its changes.

:func:`encode_report` builds the unconfirmed MMS PDU (``A3 ...``, what goes into P-DATA),
taking the values of runs of points of one type at once and their encodings from the
server's :class:`~adapters.tase2.server.encoded.EncodedValues` (shared with Reads: a value
reported every interval, or read by pollers, is encoded once).
:func:`full_report_max_size` is the start-time check against the negotiated PDU size.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from adapters.tase2.asn1.ber import encode_integer, tlv, tlv_size
from adapters.tase2.mms.data import (
    Integer,
    encode_data,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.service_error import ErrorClass, ResourceCode, ServiceError
from adapters.tase2.model.objects import (
    DS_CONDITIONS_DETECTED,
    EVENT_CODE_DETECTED,
    TRANSFER_SET_NAME,
    DSConditions,
    ds_conditions_to_data,
    encode_mms_object_name,
)
from adapters.tase2.model.points import PointType
from adapters.tase2.server.datasets import DataSet, DataSetError
from adapters.tase2.server.encoded import UNAVAILABLE, EncodedValues
from gateway.points import PointValue

__all__ = [
    "ReportRequest",
    "check_report_fits",
    "encode_report",
    "envelope_overhead",
    "full_report_max_size",
]

Values = Callable[[Sequence[str]], list[PointValue | None]]
"""The current values of points (None for a point that is gone)."""


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One InformationReport the shell must send on ``association`` (see module docstring).

    ``members`` are indices into ``data_set.members`` in report order; ``values`` is aligned
    with them: the recorded PointValue for changed points (RBE reports, always so with
    AllChangesReported), None where the shell takes the point's current bus value (full
    reports) and for special members. ``critical`` reports await Transfer_Report_ACK.
    ``dropped`` counts changes discarded because the AllChangesReported buffer was full.
    """

    association: Hashable
    transfer_set: ObjectName
    data_set: DataSet
    conditions: DSConditions
    event_code: int
    time_stamp: int
    full: bool
    members: tuple[int, ...]
    values: tuple[PointValue | None, ...]
    critical: bool = False
    dropped: int = 0

    @property
    def point_ids(self) -> list[str]:
        """The point ids the report carries, in report order (specials left out)."""
        ms = self.data_set.members
        return [p for p in (ms[i].point for i in self.members) if p is not None]

    @property
    def names(self) -> list[ObjectName]:
        """The object names of the report's members, in report order."""
        ms = self.data_set.members
        return [ms[i].name for i in self.members]


def envelope_overhead(max_pdu: int) -> int:
    """Upper bound of the octets an InformationReport adds around its variable specification
    content and its results content (four headers: ``A3``, ``A0``, spec, ``A0``).
    """
    return 4 * (tlv_size(max_pdu) - max_pdu)


def full_report_max_size(data_set: DataSet, transfer_set: ObjectName) -> int:
    """The largest full report of ``data_set`` sent by ``transfer_set``, in octets (exact
    bound for the member types; the MMS PDU, without the presentation/session wrapping).
    """
    results = 0
    for m in data_set.members:
        if m.special == TRANSFER_SET_NAME:
            results += len(encode_data(encode_mms_object_name(transfer_set)))
        else:
            results += m.max_size
    body = len(data_set.list_name_spec) + tlv_size(results)
    return tlv_size(tlv_size(body))


def check_report_fits(data_set: DataSet, transfer_set: ObjectName, max_pdu_size: int) -> None:
    """Raise :class:`DataSetError` when a full report of ``data_set`` sent by
    ``transfer_set`` (the longest name of the peer's pool) could exceed ``max_pdu_size``."""
    size = full_report_max_size(data_set, transfer_set)
    if size > max_pdu_size:
        raise DataSetError(
            f"data set {data_set.name} refused: a full report of its {len(data_set.members)} "
            f"members needs up to {size} octets, more than the negotiated MMS PDU size of "
            f"{max_pdu_size}; split it over several data sets",
            ServiceError(ErrorClass.RESOURCE, ResourceCode.CAPABILITY_UNAVAILABLE),
        )


def _special(req: ReportRequest, special: str) -> bytes:
    if special == TRANSFER_SET_NAME:
        return encode_data(encode_mms_object_name(req.transfer_set))
    if special == DS_CONDITIONS_DETECTED:
        return encode_data(ds_conditions_to_data(req.conditions))
    if special == EVENT_CODE_DETECTED:
        return encode_data(Integer(req.event_code))
    c = encode_integer(req.time_stamp)  # Transfer_Set_Time_Stamp
    return bytes((0x85, len(c))) + c


def encode_report(req: ReportRequest, values: Values, encoded: EncodedValues) -> bytes:
    """The unconfirmed MMS PDU of ``req`` (``A3 L A0 L <spec> A0 L <results>``).

    ``values`` gives points' current bus values (a point that is gone is sent as
    DataAccessError temporarily-unavailable); ``encoded`` keeps their encodings.
    """
    ds = req.data_set
    members = ds.members
    parts: list[bytes] = []
    if req.full:
        spec = ds.list_name_spec
        for (start, end, ptype), points in zip(ds.runs, ds.run_points, strict=True):
            if ptype is None:
                for i in range(start, end):
                    special = members[i].special
                    parts.append(_special(req, special) if special else UNAVAILABLE)
            else:
                parts.append(encoded.join(ptype.info, values(points)))
    else:
        entries: list[bytes] = []
        run: list[PointValue | None] = []
        run_type: PointType | None = None
        for i, pv in zip(req.members, req.values, strict=True):
            m = members[i]
            entries.append(m.entry)
            if m.special is not None:
                if run:
                    parts.append(_join(encoded, run_type, run))
                    run = []
                parts.append(_special(req, m.special))
                continue
            if m.type is not run_type and run:
                parts.append(_join(encoded, run_type, run))
                run = []
            run_type = m.type
            if pv is None and m.point is not None:
                pv = values((m.point,))[0]
            run.append(pv)
        if run:
            parts.append(_join(encoded, run_type, run))
        spec = tlv(0xA0, b"".join(entries))
    return tlv(0xA3, tlv(0xA0, spec + tlv(0xA0, b"".join(parts))))


def _join(encoded: EncodedValues, ptype: PointType | None, run: list[PointValue | None]) -> bytes:
    assert ptype is not None
    return encoded.join(ptype.info, run)
