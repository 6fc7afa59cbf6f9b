"""Points read by the type their server declares: component names in any order, or shapes."""

from __future__ import annotations

import pytest

from adapters.tase2.mms.data import BitString, Float32, Integer, Structure, Unsigned
from adapters.tase2.mms.types import (
    BitStringType,
    FloatType,
    IntegerType,
    StructureComponent,
    StructureType,
    UnsignedType,
    VisibleStringType,
)
from adapters.tase2.model.layout import layout_of, standard_layout
from adapters.tase2.model.points import PointDecodeError, PointType, Role
from gateway.points import PointKind, Validity

F32, I32, BITS8 = FloatType(32, 8), IntegerType(32), BitStringType(8)


def struct(*components: tuple[str, object]) -> StructureType:
    return StructureType(tuple(StructureComponent(n, t) for n, t in components))  # type: ignore[arg-type]


@pytest.mark.parametrize("ptype", [t for t in PointType if not t.info.bare])
def test_every_standard_structure_is_its_own_type_in_standard_order(ptype: PointType) -> None:
    layout = layout_of(ptype.info.spec)
    assert layout == standard_layout(ptype)
    assert layout is not None and layout.standard


def test_components_in_another_order_are_matched_by_name() -> None:
    """The FreeTASE2-like {Value, Flags, TimeStamp}: a Data_RealQTimeTag in another order."""
    layout = layout_of(struct(("Value", F32), ("Flags", BITS8), ("TimeStamp", I32)))
    assert layout is not None
    assert layout.type is PointType.DATA_REALQ_TIMETAG and not layout.standard
    decoded = layout.decode(
        Structure((Float32(12.5), BitString(8, b"\x20"), Integer(1_700_000_000)))
    )
    assert decoded.value == 12.5
    assert decoded.ts == 1_700_000_000.0
    assert decoded.quality.validity is Validity.SUSPECT


def test_names_settle_what_shapes_cannot() -> None:
    """{TimeStamp, Flags} is a state with its time; {Value, Flags} of integers a discrete."""
    state = layout_of(struct(("TimeStamp", I32), ("Flags", BITS8)))
    assert state is not None and state.type is PointType.DATA_STATEQ_TIMETAG
    decoded = state.decode(Structure((Integer(100), BitString(8, b"\x80"))))
    assert (decoded.value, decoded.ts) == (2, 100.0)
    discrete = layout_of(struct(("Value", I32), ("Flags", BITS8)))
    assert discrete is not None and discrete.type is PointType.DATA_DISCRETEQ


def test_aliases_and_case_of_component_names() -> None:
    layout = layout_of(struct(("time_stamp", I32), ("QUALITY", BITS8), ("val", F32)))
    assert layout is not None and layout.type is PointType.DATA_REALQ_TIMETAG
    assert layout.roles == (Role.TS, Role.FLAGS, Role.REAL)


def test_unnamed_components_are_matched_by_shape_and_kind() -> None:
    unnamed = StructureType((StructureComponent("", I32), StructureComponent("", BITS8)))
    assert layout_of(unnamed) == standard_layout(PointType.DATA_DISCRETEQ)
    assert layout_of(unnamed, PointKind.STATE) == standard_layout(PointType.DATA_STATEQ_TIMETAG)


def test_bare_types() -> None:
    assert layout_of(F32) == standard_layout(PointType.DATA_REAL)
    assert layout_of(UnsignedType(16)) == standard_layout(PointType.DATA_DISCRETE)
    assert layout_of(BITS8) == standard_layout(PointType.DATA_STATE)
    assert layout_of(BITS8, PointKind.REAL) == standard_layout(PointType.DATA_FLAGS)


def test_roles_without_a_standard_type_still_decode() -> None:
    """{Value, Flags, COV}: no 802 type has these, the value is still read."""
    layout = layout_of(struct(("Value", F32), ("Flags", BITS8), ("COV", UnsignedType(16))))
    assert layout is not None and layout.type is None
    decoded = layout.decode(Structure((Float32(1.0), BitString(8, b"\x00"), Unsigned(7))))
    assert (decoded.value, decoded.cov) == (1.0, 7)


def test_what_is_no_point() -> None:
    assert layout_of(VisibleStringType(-32)) is None
    assert layout_of(struct(("Name", VisibleStringType(-32)), ("Value", F32))) is None
    assert layout_of(struct(("Value", F32), ("Value", F32))) is None


def test_a_value_that_does_not_fit_its_declared_layout_is_refused() -> None:
    layout = layout_of(struct(("Value", F32), ("Flags", BITS8), ("TimeStamp", I32)))
    assert layout is not None
    with pytest.raises(PointDecodeError, match="declared 3 components"):
        layout.decode(Structure((Float32(1.0),)))
    with pytest.raises(PointDecodeError):
        layout.decode(Structure((Integer(1), BitString(8, b"\x00"), Integer(1))))
