"""The TASE.2 ``DSTransferSet`` object (IEC 60870-6-802), sans-IO: its types and codec.

The ``DSTransferSet`` structure (2000 model, 13 components; 1996 model, 12): its MMS types,
:class:`DSTransferSetValue` (model independent) and its MMS form, and the decoding of a
written value - whole (:func:`parse_ds_transfer_set`) or one component
(:func:`apply_component`) - refusing bad values with
:class:`~adapters.tase2.model.points.DSTransferSetError`. The transfer sets' behaviour (start,
stop, reports) is the engine's, :mod:`adapters.tase2.server.transfer`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from adapters.tase2.mms.data import (
    AccessResult,
    BinaryTime,
    BitString,
    Boolean,
    Data,
    DataAccessError,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.types import (
    BinaryTimeType,
    BitStringType,
    BooleanType,
    IntegerType,
    StructureComponent,
    StructureType,
    TypeSpecification,
    UnsignedType,
    VisibleStringType,
)
from adapters.tase2.model.objects import (
    DS_CONDITIONS_TYPE,
    MMS_OBJECT_NAME_TYPE,
    NO_CONDITIONS,
    DSConditions,
    DSTransferSetError,
    decode_mms_object_name,
    ds_conditions_from_data,
    ds_conditions_to_data,
    encode_mms_object_name,
)
from adapters.tase2.model.points import GMT_BASED_S_TYPE, INT16, INT32, INT32_MAX

__all__ = [
    "DATA_SET_NAME_TYPE",
    "DS_TRANSFER_SET_1996_TYPE",
    "DS_TRANSFER_SET_2000_TYPE",
    "DSTransferSetModel",
    "DSTransferSetValue",
    "apply_component",
    "ds_transfer_set_components",
    "fit_transfer_set",
    "parse_ds_transfer_set",
]


class DSTransferSetModel(enum.IntEnum):
    """Object model edition of a DSTransferSet; the value is its component count."""

    MODEL_1996 = 12
    MODEL_2000 = 13


@dataclass(frozen=True, slots=True)
class DSTransferSetValue:
    """The attributes of a DSTransferSet (reference section 6.6), model independent.

    Times are seconds: ``start_time`` is GMTBasedS (0 = now), the others are intervals.
    ``data_set`` is None while no data set is named (an empty Name). A 1996-model value has
    ``all_changes_reported`` False.
    """

    data_set: ObjectName | None = None
    start_time: int = 0
    interval: int = 0
    tle: int = 0
    buffer_time: int = 0
    integrity_check: int = 0
    conditions: DSConditions = NO_CONDITIONS
    block_data: bool = False
    critical: bool = False
    rbe: bool = False
    all_changes_reported: bool = False
    status: bool = False
    event_code_requested: int = 0

    def to_data(self, model: DSTransferSetModel = DSTransferSetModel.MODEL_2000) -> Structure:
        """The MMS value as read from the object (13 components, or 12 for 1996)."""
        name = (
            Structure((Unsigned(0), VisibleString(""), VisibleString("")))
            if self.data_set is None
            else encode_mms_object_name(self.data_set)
        )
        items: list[Data] = [
            name,
            Integer(self.start_time),
            Integer(self.interval),
            Integer(self.tle),
            Integer(self.buffer_time),
            Integer(self.integrity_check),
            ds_conditions_to_data(self.conditions),
            Boolean(self.block_data),
            Boolean(self.critical),
            Boolean(self.rbe),
            Boolean(self.all_changes_reported),
            Boolean(self.status),
            Integer(self.event_code_requested),
        ]
        if model is DSTransferSetModel.MODEL_1996:
            del items[10]
        return Structure(tuple(items))

    def same_except_status(self, other: DSTransferSetValue) -> bool:
        """True when ``other`` differs from this value at most in ``status``."""
        return replace(other, status=self.status) == self


_DSTS_2000: tuple[tuple[str, str, TypeSpecification], ...] = (
    ("DataSetName", "data_set", MMS_OBJECT_NAME_TYPE),
    ("StartTime", "start_time", GMT_BASED_S_TYPE),
    ("Interval", "interval", INT32),
    ("TLE", "tle", INT32),
    ("BufferTime", "buffer_time", INT32),
    ("IntegrityCheck", "integrity_check", INT32),
    ("DSConditionsRequested", "conditions", DS_CONDITIONS_TYPE),
    ("BlockData", "block_data", BooleanType()),
    ("Critical", "critical", BooleanType()),
    ("RBE", "rbe", BooleanType()),
    ("AllChangesReported", "all_changes_reported", BooleanType()),
    ("Status", "status", BooleanType()),
    ("EventCodeRequested", "event_code_requested", INT16),
)
_DSTS_1996 = tuple(c for c in _DSTS_2000 if c[0] != "AllChangesReported")

DS_TRANSFER_SET_2000_TYPE: Final = StructureType(
    tuple(StructureComponent(n, t) for n, _, t in _DSTS_2000)
)
"""The 2000-08 DSTransferSet type (13 components); time fields described as Integer32."""
DS_TRANSFER_SET_1996_TYPE: Final = StructureType(
    tuple(StructureComponent(n, t) for n, _, t in _DSTS_1996)
)
"""The 1996-08 DSTransferSet type (12 components, no AllChangesReported)."""

DATA_SET_NAME_TYPE: Final = MMS_OBJECT_NAME_TYPE

_FIELD_OF: dict[str, str] = {n: f for n, f, _ in _DSTS_2000}
assert set(_FIELD_OF.values()) == {f.name for f in fields(DSTransferSetValue)}


def ds_transfer_set_components(
    model: DSTransferSetModel = DSTransferSetModel.MODEL_2000,
) -> dict[str, str]:
    """Component name -> :class:`DSTransferSetValue` field, in wire order, for ``model``."""
    comps = _DSTS_2000 if model is DSTransferSetModel.MODEL_2000 else _DSTS_1996
    return {n: f for n, f, _ in comps}


_INT32_FIELDS = {"start_time", "interval", "tle", "buffer_time", "integrity_check"}
_BOOL_FIELDS = {"block_data", "critical", "rbe", "all_changes_reported", "status"}


def _component(name: str, fieldname: str, d: Data) -> Any:
    """Decode one component; raises DSTransferSetError (attribute-inconsistent / value-invalid)."""
    if fieldname == "data_set":
        return decode_mms_object_name(d, name)
    if fieldname == "conditions":
        return ds_conditions_from_data(d)
    if fieldname in _BOOL_FIELDS:
        if not isinstance(d, Boolean):
            raise DSTransferSetError(
                f"{name}: expected a boolean, got {d!r}",
                DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
            )
        return d.value
    if not isinstance(d, Integer | Unsigned):
        raise DSTransferSetError(
            f"{name}: expected an integer, got {d!r}",
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
        )
    v = d.value
    if fieldname == "event_code_requested":
        if not -(1 << 15) <= v < 1 << 16:
            raise DSTransferSetError(
                f"{name}: {v} is not a 16-bit value", DataAccessError.OBJECT_VALUE_INVALID
            )
        return v
    if not 0 <= v <= INT32_MAX:
        raise DSTransferSetError(
            f"{name}: {v} is out of range (0..{INT32_MAX})", DataAccessError.OBJECT_VALUE_INVALID
        )
    return v


def parse_ds_transfer_set(data: Data) -> tuple[DSTransferSetValue, DSTransferSetModel]:
    """Parse a whole-structure DSTransferSet write of either model (13 or 12 components).

    Integer components of any width (16 or 32 bit) and Scope as integer or unsigned are
    accepted. Raises :class:`DSTransferSetError` with

    * object-attribute-inconsistent: not a structure, a component count other than 12/13,
      or a component of the wrong MMS type (the malformed-write answer libtase2 gives);
    * object-value-invalid: a well-typed component with an impossible value (negative
      interval, Scope not 0/1, a name that is not an identifier, EventCodeRequested beyond
      16 bits).

    Consistency between components (Interval 0 with IntervalTimeOut, BlockData, a missing
    data set ...) is checked when the transfer set starts, by the transfer engine.
    """
    if not isinstance(data, Structure):
        raise DSTransferSetError(
            f"DSTransferSet: expected a structure, got {type(data).__name__}",
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
        )
    n = len(data.items)
    if n == 13:
        comps, model = _DSTS_2000, DSTransferSetModel.MODEL_2000
    elif n == 12:
        comps, model = _DSTS_1996, DSTransferSetModel.MODEL_1996
    else:
        raise DSTransferSetError(
            f"DSTransferSet: {n} components (expected 13 for the 2000 model or 12 for 1996)",
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
        )
    kwargs = {f: _component(name, f, d) for (name, f, _), d in zip(comps, data.items, strict=True)}
    return DSTransferSetValue(**kwargs), model


def apply_component(current: DSTransferSetValue, component: str, data: Data) -> DSTransferSetValue:
    """``current`` with one component replaced by a written value (per-component write).

    Raises :class:`DSTransferSetError`: object-non-existent for an unknown component name,
    object-attribute-inconsistent for a value of the wrong type, object-value-invalid for an
    impossible value (as :func:`parse_ds_transfer_set`).
    """
    fieldname = _FIELD_OF.get(component)
    if fieldname is None:
        raise DSTransferSetError(
            f"DSTransferSet has no component {component!r}", DataAccessError.OBJECT_NON_EXISTENT
        )
    return replace(current, **{fieldname: _component(component, fieldname, data)})


# --------------------------------------------------------------------------- writing to a server


def _declared(spec: TypeSpecification | None, n: int) -> list[tuple[str, TypeSpecification | None]]:
    """(component name, declared type) of a transfer set, in the server's order; standard
    names when the server gave none."""
    if isinstance(spec, StructureType) and all(c.name for c in spec.components):
        return [(c.name or "", c.type) for c in spec.components]
    comps = _DSTS_1996 if n == 12 else _DSTS_2000
    types = spec.components if isinstance(spec, StructureType) and len(spec.components) == n else ()
    return [(name, types[i].type if types else None) for i, (name, _, _) in enumerate(comps)]


def _as_string(d: Data) -> Data:
    """A DataSetName as the bare item name (servers that declare it a VisibleString)."""
    if isinstance(d, Structure) and len(d.items) == 3 and isinstance(d.items[2], VisibleString):
        return d.items[2]
    return d


def _like(ours: Data, declared: TypeSpecification | None, theirs: Data | None) -> Data:
    """``ours`` in the form the server declares (or, without a type, the form it showed)."""
    if isinstance(declared, VisibleStringType) or (
        declared is None and isinstance(theirs, VisibleString)
    ):
        return _as_string(ours)
    number = ours.value if isinstance(ours, Integer | Unsigned | Boolean) else None
    if number is not None:
        if isinstance(declared, UnsignedType) or (
            declared is None and isinstance(theirs, Unsigned)
        ):
            return Unsigned(int(number))
        if isinstance(declared, IntegerType) or (declared is None and isinstance(theirs, Integer)):
            return Integer(int(number))
        if isinstance(declared, BooleanType) or (declared is None and isinstance(theirs, Boolean)):
            return Boolean(bool(number))
    if isinstance(ours, BinaryTime) and isinstance(declared, BinaryTimeType):
        return BinaryTime(ours.ms, 0 if declared.with_date else None)
    if isinstance(ours, BitString):
        size = abs(declared.size) if isinstance(declared, BitStringType) else None
        if size is None and isinstance(theirs, BitString):
            size = theirs.nbits
        if size is not None and size != ours.nbits:
            data = ours.data.ljust((size + 7) // 8, b"\0")[: (size + 7) // 8]
            return BitString(size, data)
    return ours


def _other_form(mine: Data, declared: TypeSpecification | None, theirs: Data | None) -> bool:
    """True when the server has a component as an integer or a binary time where ours is
    a bit string or an integer."""
    if isinstance(mine, BitString):
        return isinstance(declared, IntegerType | UnsignedType) or (
            declared is None and isinstance(theirs, Integer | Unsigned)
        )
    if isinstance(mine, Integer):
        return isinstance(declared, BinaryTimeType) or (
            declared is None and isinstance(theirs, BinaryTime)
        )
    return False


def fit_transfer_set(
    value: DSTransferSetValue, spec: TypeSpecification | None, read_back: AccessResult | None
) -> tuple[tuple[str, Data], ...]:
    """``value`` as the server's transfer set takes it: (component name, Data) in the
    server's order, each in the type it declares (``spec``, from GetVariableAccessAttributes)
    or, without one, in the form of the value it showed (``read_back``).

    Component names are matched case-insensitively; a component this model does not know
    keeps the value the server showed. Raises :class:`DSTransferSetError` when there is
    neither a declared type nor a value to copy for such a component.
    """
    shown = read_back.items if isinstance(read_back, Structure) else ()
    n = len(shown) if len(shown) in (12, 13) else 13
    if isinstance(spec, StructureType) and spec.components:
        n = len(spec.components)
    ours = dict(zip((c[0].lower() for c in _DSTS_2000), value.to_data().items, strict=True))
    # what some servers declare otherwise: the conditions as an integer mask, StartTime
    # as a binary time (0 = at once: the epoch of binary time)
    ours["dsconditionsrequested*"] = Integer(int(value.conditions))
    ours["starttime*"] = BinaryTime(0, 0)
    out: list[tuple[str, Data]] = []
    for i, (name, declared) in enumerate(_declared(spec, n)):
        theirs = shown[i] if i < len(shown) else None
        mine = ours.get(name.lower())
        if mine is not None and _other_form(mine, declared, theirs):
            mine = ours.get(name.lower() + "*", mine)
        if mine is None:
            if theirs is None:
                raise DSTransferSetError(
                    f"transfer set component {name!r} is unknown and has no value to keep",
                    DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
                )
            out.append((name, theirs))
        else:
            out.append((name, _like(mine, declared, theirs)))
    return tuple(out)
