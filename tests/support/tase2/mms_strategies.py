"""Hypothesis strategies for the MMS model (shared by the MMS codec tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from adapters.tase2.mms.access import (
    AllElements,
    AlternateAccessItem,
    AlternateAccessSelection,
    Component,
    Index,
    IndexRange,
    VariableEntry,
    VariableList,
    VariableListName,
)
from adapters.tase2.mms.data import (
    Array,
    Bcd,
    BinaryTime,
    BitString,
    Boolean,
    BooleanArray,
    DataAccessError,
    Float32,
    Float64,
    GeneralizedTime,
    Integer,
    MmsString,
    ObjId,
    OctetString,
    Structure,
    Unsigned,
    UtcTime,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.service_error import ErrorClass, ServiceError
from adapters.tase2.mms.types import (
    ArrayType,
    BcdType,
    BinaryTimeType,
    BitStringType,
    BooleanType,
    FloatType,
    GeneralizedTimeType,
    IntegerType,
    MmsStringType,
    ObjIdType,
    OctetStringType,
    StructureComponent,
    StructureType,
    TypeName,
    UnsignedType,
    UtcTimeType,
    VisibleStringType,
)

identifiers = st.from_regex(r"[A-Za-z_$][A-Za-z0-9_$]{0,31}", fullmatch=True)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
uint32 = st.integers(0, 2**32 - 1)

object_names = st.one_of(
    identifiers.map(ObjectName.vmd),
    identifiers.map(ObjectName.aa),
    st.builds(ObjectName.dom, identifiers, identifiers),
)


@st.composite
def bit_strings(draw: st.DrawFn, cls: type = BitString) -> BitString | BooleanArray:
    """A bit string with its unused trailing bits cleared (as a decoder returns it)."""
    nbits = draw(st.integers(0, 70))
    raw = bytearray(draw(st.binary(min_size=(nbits + 7) // 8, max_size=(nbits + 7) // 8)))
    unused = (8 - nbits % 8) % 8
    if unused:
        raw[-1] &= (0xFF << unused) & 0xFF
    result: BitString | BooleanArray = cls(nbits, bytes(raw))
    return result


oids = st.builds(
    lambda a, b, rest: ".".join(map(str, [a, b, *rest])),
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**40), max_size=6),
)

data_leaves = st.one_of(
    st.builds(Boolean, st.booleans()),
    bit_strings(),
    st.builds(Integer, st.integers(-(2**127), 2**127)),
    st.builds(Unsigned, st.integers(0, 2**128)),
    st.builds(Float32, st.floats(width=32, allow_nan=False)),
    st.builds(Float64, st.floats(allow_nan=False)),
    st.builds(OctetString, st.binary(max_size=40)),
    st.builds(VisibleString, ascii_text),
    st.builds(GeneralizedTime, ascii_text),
    st.builds(BinaryTime, uint32, st.none() | st.integers(0, 65535)),
    st.builds(Bcd, st.integers(0, 2**64)),
    bit_strings(BooleanArray),
    st.builds(ObjId, oids),
    st.builds(MmsString, st.text(max_size=20)),
    st.builds(UtcTime, uint32, st.integers(0, 2**24 - 1), st.integers(0, 255)),
)

data_values = st.recursive(
    data_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(lambda xs: Structure(tuple(xs))),
        st.lists(children, max_size=5).map(lambda xs: Array(tuple(xs))),
    ),
    max_leaves=25,
)

access_results = st.one_of(data_values, st.sampled_from(list(DataAccessError)))

sizes = st.integers(-(2**31), 2**31 - 1)
u8 = st.integers(0, 255)
type_leaves = st.one_of(
    st.just(BooleanType()),
    st.builds(BitStringType, sizes),
    st.builds(IntegerType, u8),
    st.builds(UnsignedType, u8),
    st.builds(FloatType, u8, u8),
    st.builds(OctetStringType, sizes),
    st.builds(VisibleStringType, sizes),
    st.just(GeneralizedTimeType()),
    st.builds(BinaryTimeType, st.booleans()),
    st.builds(BcdType, u8),
    st.just(ObjIdType()),
    st.builds(MmsStringType, sizes),
    st.just(UtcTimeType()),
    st.builds(TypeName, object_names),
)
type_specs = st.recursive(
    type_leaves,
    lambda children: st.one_of(
        st.builds(ArrayType, uint32, children, st.booleans()),
        st.builds(
            StructureType,
            st.lists(
                st.builds(StructureComponent, st.none() | identifiers, children), max_size=5
            ).map(tuple),
            st.booleans(),
        ),
    ),
    max_leaves=20,
)

selectors = st.one_of(
    st.builds(Component, identifiers),
    st.builds(Index, uint32),
    st.builds(IndexRange, uint32, uint32),
    st.just(AllElements()),
)
alternate_access = st.recursive(
    st.lists(
        st.builds(
            AlternateAccessItem,
            st.builds(AlternateAccessSelection, selectors),
            st.none() | identifiers,
        ),
        max_size=3,
    ).map(tuple),
    lambda children: st.lists(
        st.builds(
            AlternateAccessItem,
            st.builds(AlternateAccessSelection, selectors, children),
            st.none() | identifiers,
        ),
        min_size=1,
        max_size=3,
    ).map(tuple),
    max_leaves=8,
)
variable_entries = st.lists(
    st.builds(VariableEntry, object_names, st.none() | alternate_access), max_size=5
).map(tuple)
variable_access_specs = st.one_of(
    variable_entries.map(VariableList), st.builds(VariableListName, object_names)
)

service_errors = st.builds(
    ServiceError,
    st.sampled_from(list(ErrorClass)),
    st.integers(-5, 300),
    st.none() | st.integers(-(2**31), 2**31),
    st.none() | ascii_text,
    st.none() | st.tuples(st.integers(0x80, 0x8B), st.binary(max_size=6)),
)
