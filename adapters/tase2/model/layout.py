"""How to read a remote point by the type its server declares, sans-IO.

A server answers GetVariableAccessAttributes with the point's MMS type, component names
included. :func:`layout_of` turns that type into a :class:`PointLayout`: the role of each
component in the server's own order (``Value``, ``Flags``, ``TimeStamp``, ``COV``, matched by
name, in any order) and the TASE.2 point type those roles make. Values are then decoded
component by component, so a server sending ``{Value, Flags, TimeStamp}`` is read as well as
one sending the standard ``{Value, TimeStamp, Flags}``. A type without component names is
matched by its shape, as values are (:data:`~adapters.tase2.model.points.SHAPE_TYPES`).

The client adapter and the probe share this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from adapters.tase2.mms.data import Data, Structure
from adapters.tase2.mms.types import (
    BitStringType,
    FloatType,
    IntegerType,
    StructureType,
    TypeSpecification,
    UnsignedType,
)
from adapters.tase2.model.points import (
    SHAPE_TYPES,
    DecodedPoint,
    PartialPoint,
    PointDecodeError,
    PointType,
    Role,
    decode_role,
)
from gateway.points import PointKind

__all__ = ["PointLayout", "layout_of", "standard_layout"]

_ALIASES: Final = {
    "value": "value",
    "val": "value",
    "state": "value",
    "flags": "flags",
    "flag": "flags",
    "quality": "flags",
    "q": "flags",
    "timestamp": "time",
    "time": "time",
    "timetag": "time",
    "ts": "time",
    "t": "time",
    "cov": "cov",
    "covcounter": "cov",
}
"""Component names a server may use (lower case, without ``_``) -> what they carry."""


@dataclass(frozen=True, slots=True)
class PointLayout:
    """The components of one remote point in the server's order, and their TASE.2 type.

    ``roles`` says what each component carries (one role for a bare value, ``bare`` True);
    ``type`` is the TASE.2 point type of those roles, None when they make no standard type
    (the value is still decoded). ``standard`` is True when the components are in the
    type's own order: such points can take the column-wise report decoder.
    """

    roles: tuple[Role, ...]
    bare: bool
    type: PointType | None

    @property
    def standard(self) -> bool:
        """True when the server's order is the standard one of ``type``."""
        return self.type is not None and self.type.info.roles == self.roles

    def decode(self, data: Data) -> DecodedPoint:
        """Decode one value of this layout; raises :class:`PointDecodeError`."""
        out = PartialPoint()
        if self.bare:
            decode_role(self.roles[0], data, out)
        else:
            if not isinstance(data, Structure) or len(data.items) != len(self.roles):
                raise PointDecodeError(
                    f"{self.type or 'point'}: declared {len(self.roles)} components, got {data!r}"
                )
            for role, item in zip(self.roles, data.items, strict=True):
                decode_role(role, item, out)
        return DecodedPoint(out.value, out.quality, out.ts, out.cov)


def standard_layout(ptype: PointType) -> PointLayout:
    """The layout of ``ptype`` in its standard component order."""
    info = ptype.info
    return PointLayout(info.roles, info.bare, ptype)


def _is_int(spec: TypeSpecification) -> bool:
    return isinstance(spec, IntegerType | UnsignedType)


def _is_octet(spec: TypeSpecification) -> bool:
    return isinstance(spec, BitStringType) and abs(spec.size) == 8


def _is_time_extended(spec: TypeSpecification) -> bool:
    return (
        isinstance(spec, StructureType)
        and len(spec.components) == 2
        and all(_is_int(c.type) for c in spec.components)
    )


def _letter(spec: TypeSpecification) -> str:
    if isinstance(spec, FloatType):
        return "F"
    if isinstance(spec, IntegerType):
        return "I"
    if isinstance(spec, UnsignedType):
        return "U"
    if _is_octet(spec):
        return "B"
    return "X" if _is_time_extended(spec) else "?"


def _named_role(name: str, spec: TypeSpecification, has_value: bool) -> Role | None:
    """The role of a component by its (normalised) name and type; None when it fits none."""
    what = _ALIASES.get(name)
    if what == "value":
        if isinstance(spec, FloatType):
            return Role.REAL
        if _is_int(spec):
            return Role.DISCRETE
        return Role.STATE_VALUE if _is_octet(spec) else None
    if what == "flags" and _is_octet(spec):
        # without a Value the flags octet carries the state too (Data_StateQTimeTag)
        return Role.FLAGS if has_value else Role.STATE
    if what == "time":
        if _is_int(spec):
            return Role.TS
        return Role.TSX if _is_time_extended(spec) else None
    if what == "cov" and _is_int(spec):
        return Role.COV
    return None


_BY_ROLES: Final[dict[tuple[Role, ...], PointType]] = {}
for _t in PointType:
    _BY_ROLES.setdefault(tuple(sorted(_t.info.roles, key=lambda r: r.value)), _t)


def _type_of(roles: tuple[Role, ...]) -> PointType | None:
    return _BY_ROLES.get(tuple(sorted(roles, key=lambda r: r.value)))


def layout_of(spec: TypeSpecification, kind: PointKind | None = None) -> PointLayout | None:
    """The layout of a point whose server declares ``spec``; None when it is no point.

    ``kind`` (the bus point's) settles the one ambiguity names cannot: a bare 8-bit string
    is Data_State for a state point (or no kind), else Data_Flags.
    """
    if isinstance(spec, FloatType):
        return standard_layout(PointType.DATA_REAL)
    if _is_int(spec):
        return standard_layout(PointType.DATA_DISCRETE)
    if _is_octet(spec):
        state = kind is None or kind is PointKind.STATE
        return standard_layout(PointType.DATA_STATE if state else PointType.DATA_FLAGS)
    if not isinstance(spec, StructureType) or not spec.components:
        return None
    comps = spec.components
    if all(c.name for c in comps):
        names = [(c.name or "").replace("_", "").lower() for c in comps]
        has_value = any(_ALIASES.get(n) == "value" for n in names)
        roles = tuple(_named_role(n, c.type, has_value) for n, c in zip(names, comps, strict=True))
        if all(r is not None for r in roles) and len(set(roles)) == len(roles):
            known = tuple(r for r in roles if r is not None)
            return PointLayout(known, False, _type_of(known))
    ptype = SHAPE_TYPES.get(tuple(_letter(c.type) for c in comps))
    if ptype is None:
        return None
    if ptype is PointType.DATA_DISCRETEQ and kind is PointKind.STATE:
        ptype = PointType.DATA_STATEQ_TIMETAG
    return standard_layout(ptype)
