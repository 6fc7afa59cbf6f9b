"""The TASE.2 object model: point types, VCC/ICC objects and the DSTransferSet structure."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.mms.data import (
    BitString,
    Boolean,
    DataAccessError,
    Float32,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
    decode_data,
    encode_data,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.types import StructureType, conforms, encode_type_spec
from adapters.tase2.model.objects import (
    ICC_SPECIAL_TYPES,
    MMS_OBJECT_NAME_TYPE,
    TASE2_VERSION_TYPE,
    TRANSFER_SET_NAME,
    DSConditions,
    DSTransferSetError,
    decode_mms_object_name,
    ds_conditions_from_data,
    ds_conditions_to_data,
    encode_mms_object_name,
    supported_features,
    tase2_version,
)
from adapters.tase2.model.points import (
    TIME_STAMP_EXTENDED_TYPE,
    PointDecodeError,
    PointType,
    decode_point,
    gmt_based_s,
    identify_point_type,
    point_type_info,
)
from adapters.tase2.model.transfer_set import (
    DS_TRANSFER_SET_1996_TYPE,
    DS_TRANSFER_SET_2000_TYPE,
    DSTransferSetModel,
    DSTransferSetValue,
    apply_component,
    ds_transfer_set_components,
    parse_ds_transfer_set,
)
from gateway.points import PointKind, PointValue, Quality, Validity
from tests.support.tase2 import annex_a

H = bytes.fromhex


def _wire(data: object) -> bytes:
    return encode_data(data)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- examples


def test_data_realq_type_is_byte_identical_to_sisco() -> None:
    # reference 5.7: what GetVariableAccessAttributes returns for Data_RealQ
    assert encode_type_spec(PointType.DATA_REALQ.info.spec) == H(
        "a2 23 a1 21 30 11 80 05 56616c7565 a1 08 a7 06 02 01 20 02 01 08"
        " 30 0c 80 05 466c616773 a1 03 84 01 08"
    )


def test_component_names_of_every_structured_type() -> None:
    names = {
        t: [c.name for c in t.info.spec.components]
        for t in PointType
        if isinstance(t.info.spec, StructureType)
    }
    assert names[PointType.DATA_REALQ_TIMETAG] == ["Value", "TimeStamp", "Flags"]
    assert names[PointType.DATA_STATEQ_TIMETAG] == ["TimeStamp", "Flags"]
    assert names[PointType.DATA_REAL_EXTENDED] == ["Value", "TimeStamp", "Flags", "COV"]
    assert names[PointType.DATA_STATE_EXTENDED] == ["TimeStamp", "Flags", "COV"]
    assert names[PointType.DATA_DISCRETEQ_TIMETAG_EXTENDED] == ["Value", "TimeStamp", "Flags"]
    assert [c.name for c in TIME_STAMP_EXTENDED_TYPE.components] == ["GMTBasedS", "Milliseconds"]
    spec = PointType.DATA_REALQ_TIMETAG_EXTENDED.info.spec
    assert isinstance(spec, StructureType)
    assert spec.components[1].type == TIME_STAMP_EXTENDED_TYPE


def test_realq_value_from_the_reference_report() -> None:
    pv = PointValue("P", 123.5, Quality(Validity.SUSPECT), 0.0, 0)
    assert _wire(PointType.DATA_REALQ.info.encode(pv)) == H(
        "a2 0b 87 05 08 42 f7 00 00 84 02 00 20"
    )


def test_data_state_octet_carries_state_and_quality() -> None:
    pv = PointValue("B", 2, Quality(Validity.HELD), 0.0, 0)  # ON, held
    assert _wire(PointType.DATA_STATE.info.encode(pv)) == H("84 02 00 90")
    assert decode_point(BitString(8, b"\x90"), PointType.DATA_STATE) == (
        2,
        Quality(Validity.HELD),
        None,
        None,
    )


def test_version_and_features() -> None:
    assert _wire(tase2_version()) == H("a2 07 85 02 07 d0 85 01 08")
    assert _wire(supported_features([1, 2, 4, 5])) == H("84 03 04 d8 00")  # libtase2 default
    assert _wire(supported_features([1, 2])) == H("84 03 04 c0 00")
    assert conforms(tase2_version(), TASE2_VERSION_TYPE)
    with pytest.raises(ValueError):
        supported_features([10])


def test_ds_conditions_bits() -> None:
    c = DSConditions.INTERVAL_TIMEOUT | DSConditions.INTEGRITY_TIMEOUT | DSConditions.OBJECT_CHANGE
    assert _wire(ds_conditions_to_data(c)) == H("84 02 03 e0")
    assert _wire(ds_conditions_to_data(DSConditions.INTERVAL_TIMEOUT)) == H("84 02 03 80")
    assert ds_conditions_from_data(BitString(5, b"\x08")) == DSConditions.OTHER_EXTERNAL_EVENT
    assert ds_conditions_from_data(BitString(3, b"\x20")) == DSConditions.OBJECT_CHANGE


def test_mms_object_name_as_in_next_ds_transfer_set_response() -> None:
    name = ObjectName.dom("ICC1", "DSTransferSet01")
    data = encode_mms_object_name(name)
    assert _wire(data) == H("a2 1a 86 01 01 8a 04 49434331 8a 0f") + b"DSTransferSet01"
    assert decode_mms_object_name(data) == name
    assert conforms(data, MMS_OBJECT_NAME_TYPE)
    assert ICC_SPECIAL_TYPES[TRANSFER_SET_NAME] == MMS_OBJECT_NAME_TYPE
    vcc = encode_mms_object_name(ObjectName.vmd("DS9"))
    assert decode_mms_object_name(vcc) == ObjectName.vmd("DS9")


def test_parse_the_reference_transfer_set_write() -> None:
    data, end = decode_data(annex_a.DSTS_WRITE_DATA, 0, len(annex_a.DSTS_WRITE_DATA))
    assert end == len(annex_a.DSTS_WRITE_DATA)
    value, model = parse_ds_transfer_set(data)
    assert model is DSTransferSetModel.MODEL_2000
    assert value == DSTransferSetValue(
        data_set=ObjectName.dom("ICC1", "DS1"),
        interval=10,
        buffer_time=2,
        integrity_check=60,
        conditions=DSConditions(0b00111),
        rbe=True,
        status=True,
    )
    assert conforms(value.to_data(), DS_TRANSFER_SET_2000_TYPE)
    assert encode_data(value.to_data()) == annex_a.DSTS_WRITE_DATA


def test_parse_the_1996_model() -> None:
    data, _ = decode_data(annex_a.DSTS_WRITE_DATA, 0, len(annex_a.DSTS_WRITE_DATA))
    assert isinstance(data, Structure)
    old = Structure(data.items[:10] + data.items[11:])
    value, model = parse_ds_transfer_set(old)
    assert model is DSTransferSetModel.MODEL_1996
    assert value.status and value.rbe and not value.all_changes_reported
    assert conforms(value.to_data(DSTransferSetModel.MODEL_1996), DS_TRANSFER_SET_1996_TYPE)
    assert list(ds_transfer_set_components(DSTransferSetModel.MODEL_1996))[10] == "Status"


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda items: items[:11], DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT),
        (lambda items: [Integer(1), *items[1:]], DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT),
        (
            lambda items: [*items[:2], Boolean(True), *items[3:]],
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
        ),
        (
            lambda items: [*items[:11], Integer(1), items[12]],
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
        ),
        (lambda items: [*items[:2], Integer(-5), *items[3:]], DataAccessError.OBJECT_VALUE_INVALID),
        (
            lambda items: [
                Structure((Unsigned(7), VisibleString("ICC1"), VisibleString("DS1"))),
                *items[1:],
            ],
            DataAccessError.OBJECT_VALUE_INVALID,
        ),
        (
            lambda items: [
                Structure((Unsigned(1), VisibleString("ICC1"), VisibleString("1bad"))),
                *items[1:],
            ],
            DataAccessError.OBJECT_VALUE_INVALID,
        ),
        (lambda items: [*items[:12], Integer(1 << 20)], DataAccessError.OBJECT_VALUE_INVALID),
    ],
)
def test_malformed_transfer_set_writes(mutate: object, error: DataAccessError) -> None:
    data = DSTransferSetValue(data_set=ObjectName.dom("ICC1", "DS1")).to_data()
    bad = Structure(tuple(mutate(list(data.items))))  # type: ignore[operator]
    with pytest.raises(DSTransferSetError) as info:
        parse_ds_transfer_set(bad)
    assert info.value.error is error
    with pytest.raises(DSTransferSetError) as info:
        parse_ds_transfer_set(Integer(3))
    assert info.value.error is DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT


def test_component_writes() -> None:
    v = DSTransferSetValue()
    v = apply_component(v, "Status", Boolean(True))
    v = apply_component(v, "Interval", Integer(5))
    v = apply_component(v, "DSConditionsRequested", ds_conditions_to_data(DSConditions(1)))
    assert (v.status, v.interval, v.conditions) == (True, 5, DSConditions.INTERVAL_TIMEOUT)
    with pytest.raises(DSTransferSetError) as info:
        apply_component(v, "Nope", Boolean(True))
    assert info.value.error is DataAccessError.OBJECT_NON_EXISTENT
    with pytest.raises(DSTransferSetError) as info:
        apply_component(v, "Status", Integer(1))
    assert info.value.error is DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT


def test_both_stateq_shapes_decode() -> None:
    sisco = BitString(8, b"\x40")  # OFF, valid
    libtase2 = Structure((BitString(8, b"\x80"), BitString(8, b"\x20")))  # ON, suspect
    assert decode_point(sisco, PointType.DATA_STATEQ)[:2] == (1, Quality())
    assert decode_point(libtase2, PointType.DATA_STATEQ)[:2] == (2, Quality(Validity.SUSPECT))
    assert decode_point(libtase2)[:2] == (2, Quality(Validity.SUSPECT))


def test_time_stamp_by_shape_in_extended_types() -> None:
    flags = BitString(8, b"\x00")
    plain = Structure((Float32(1.5), Integer(1_700_000_000), flags, Unsigned(7)))
    ext = Structure(
        (Float32(1.5), Structure((Integer(1_700_000_000), Integer(250))), flags, Unsigned(7))
    )
    assert decode_point(plain, PointType.DATA_REAL_EXTENDED) == (1.5, Quality(), 1.7e9, 7)
    assert decode_point(ext, PointType.DATA_REAL_EXTENDED) == (1.5, Quality(), 1.7e9 + 0.25, 7)
    assert identify_point_type(ext) is PointType.DATA_REAL_EXTENDED


def test_decode_errors() -> None:
    with pytest.raises(PointDecodeError):
        decode_point(VisibleString("x"))
    with pytest.raises(PointDecodeError):
        decode_point(Integer(1), PointType.DATA_REALQ)
    with pytest.raises(PointDecodeError):
        decode_point(Structure((Integer(1), Integer(2))), PointType.DATA_REALQ)


def test_out_of_range_values_are_clamped_not_fatal() -> None:
    pv = PointValue("P", 1e300, Quality(), 1e12, 70000)
    assert PointType.DATA_REAL.info.encode(pv) == Float32(math.inf)
    assert PointType.DATA_DISCRETE.info.encode(pv._replace(value=1 << 40)) == Integer((1 << 31) - 1)
    assert gmt_based_s(1e12) == (1 << 31) - 1
    state = PointType.DATA_STATE.info.encode(pv._replace(value=9))
    assert state == BitString(8, b"\xc0")  # INVALID state


# --------------------------------------------------------------------------- properties

_KIND_VALUES = {
    PointKind.REAL: st.floats(width=32, allow_nan=False),
    PointKind.STATE: st.integers(0, 3),
    PointKind.DISCRETE: st.integers(-(1 << 31), (1 << 31) - 1),
}


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[PointType, PointKind, PointValue]:
    ptype = draw(st.sampled_from(list(PointType)))
    kind = draw(st.sampled_from(sorted(ptype.info.kinds)))
    value = draw(_KIND_VALUES[kind])
    ms = draw(st.integers(0, ((1 << 31) - 1) * 1000 + 999))
    quality = Quality.from_flags(draw(st.integers(0, 63)))
    cov = draw(st.integers(0, 0xFFFF))
    return ptype, kind, PointValue("P1", value, quality, ms / 1000, cov)


@given(typed_values())
def test_every_point_type_round_trips(case: tuple[PointType, PointKind, PointValue]) -> None:
    ptype, _, pv = case
    info = ptype.info
    data = info.encode(pv)
    assert conforms(data, info.spec)
    wire = encode_data(data)
    assert info.encode_bytes(pv) == wire
    assert len(wire) <= info.max_size
    decoded_data, _ = decode_data(wire, 0, len(wire))
    got = decode_point(decoded_data, ptype)
    if ptype is PointType.DATA_FLAGS:
        assert got.value is None
    else:
        assert got.value == pv.value
    if info.has_quality:
        assert got.quality == pv.quality
    if info.has_milliseconds:
        assert got.ts is not None and abs(got.ts - pv.ts) < 1e-6
    elif info.has_time:
        assert got.ts == gmt_based_s(pv.ts)
    else:
        assert got.ts is None
    assert got.cov == (pv.cov if info.has_cov else None)


@given(typed_values())
def test_shape_identification_agrees_with_the_type(
    case: tuple[PointType, PointKind, PointValue],
) -> None:
    ptype, _, pv = case
    ambiguous = {
        PointType.DATA_FLAGS: PointType.DATA_STATE,
        PointType.DATA_STATEQ: PointType.DATA_STATE,
        PointType.DATA_STATEQ_TIMETAG: PointType.DATA_DISCRETEQ,
    }
    assert identify_point_type(ptype.info.encode(pv)) is ambiguous.get(ptype, ptype)


def test_config_names() -> None:
    assert point_type_info("Data_RealQTimeTag").type is PointType.DATA_REALQ_TIMETAG
    assert PointType.DATA_STATEQ_STRUCT.info.tase2_name == "Data_StateQ"


_names = st.builds(
    ObjectName.dom,
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,31}", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_$]{0,31}", fullmatch=True),
)

dsts_values = st.builds(
    DSTransferSetValue,
    data_set=st.none() | _names,
    start_time=st.integers(0, (1 << 31) - 1),
    interval=st.integers(0, 1 << 20),
    tle=st.integers(0, 100),
    buffer_time=st.integers(0, 100),
    integrity_check=st.integers(0, 1 << 20),
    conditions=st.integers(0, 31).map(DSConditions),
    block_data=st.booleans(),
    critical=st.booleans(),
    rbe=st.booleans(),
    all_changes_reported=st.booleans(),
    status=st.booleans(),
    event_code_requested=st.integers(-(1 << 15), (1 << 15) - 1),
)


@given(dsts_values, st.sampled_from(list(DSTransferSetModel)))
def test_transfer_set_parse_round_trips(
    value: DSTransferSetValue, model: DSTransferSetModel
) -> None:
    data = value.to_data(model)
    wire = encode_data(data)
    decoded, _ = decode_data(wire, 0, len(wire))
    parsed, got_model = parse_ds_transfer_set(decoded)
    assert got_model is model
    if model is DSTransferSetModel.MODEL_1996:
        value = replace(value, all_changes_reported=False)
    assert parsed == value


@pytest.mark.parametrize(
    "ts",
    [
        0,
        2**23 - 1,
        2**23,
        -(2**23),
        -(2**23) - 1,
        -(2**31),
        2**31 - 1,
        1e12,
        -1e12,
        math.nan,
        math.inf,
    ],
)
@pytest.mark.parametrize("value", [12.5, -0.0, 1e39, -1e39, math.inf])
def test_the_one_struct_realq_timetag_encoder_agrees_at_every_time_stamp_width(
    ts: float, value: float
) -> None:
    info = PointType.DATA_REALQ_TIMETAG.info
    pv = PointValue("P1", value, Quality.from_flags(0b101), ts, 3)
    assert info.encode_bytes(pv) == encode_data(info.encode(pv))
