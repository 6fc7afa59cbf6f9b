"""The probe's rendering, sans-IO: each MMS type named by the TASE.2 point type it is, and a
value decoded by its declared type rather than by its shape."""

from __future__ import annotations

from adapters.tase2.mms.data import BitString, Integer, Structure
from adapters.tase2.model.points import PointType
from adapters.tase2.tools.render import point_json, type_text


def test_every_point_type_is_named_by_its_exact_type_spec() -> None:
    """Component names and integer widths tell apart types of one shape (e.g.
    Data_StateQTimeTag {TimeStamp, Flags} vs Data_DiscreteQ {Value, Flags})."""
    same_octet = {"Data_State", "Data_Flags", "Data_StateQ"}  # all a bare BIT STRING(8)
    for ptype in PointType:
        label = type_text(ptype.info.spec).rsplit(" = ", 1)[-1]
        name = ptype.info.tase2_name
        assert label == name or {label, name} <= same_octet, (name, label)
    assert type_text(PointType.DATA_DISCRETE.info.spec, "Transfer_Set_Time_Stamp") == "int32"


def test_a_state_q_time_tag_is_decoded_by_its_declared_type_not_by_its_shape() -> None:
    """{TimeStamp, Flags} has the shape of Data_DiscreteQ {Value, Flags}: by shape alone the
    time stamp would be the value; the declared type makes it a state with a time."""
    data = Structure((Integer(1_796_161_085), BitString(8, bytes((0x40 | 0x20,)))))
    spec = PointType.DATA_STATEQ_TIMETAG.info.spec
    value = point_json(data, spec)
    assert value["type"] == "Data_StateQTimeTag"
    assert value["state"] == "open" and value["value"] == 1
    assert value["time"] == "2026-12-01T21:38:05Z"
    assert value["quality_text"] == "suspect telemetered"
    guessed = point_json(data)  # no declared type: the shape is all there is
    assert guessed["type"] == "Data_DiscreteQ" and "state" not in guessed
