"""Variable access: alternate access selections, variable lists and their codecs.

``VariableAccessSpecification`` is what Read, Write and InformationReport name their
variables with: either a list of variables (each an ObjectName plus an optional alternate
access such as a structure component) or the name of a named variable list (a data set).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from adapters.tase2.asn1.ber import decode_tlv, tlv
from adapters.tase2.mms.errors import MmsDecodeError
from adapters.tase2.mms.fields import Buffer, decode_visible, encode_visible, read_uint, uint_tlv
from adapters.tase2.mms.names import ObjectName, decode_object_name, encode_object_name

__all__ = [
    "MAX_ALTERNATE_ACCESS_DEPTH",
    "AllElements",
    "AlternateAccess",
    "AlternateAccessItem",
    "AlternateAccessSelection",
    "Component",
    "Index",
    "IndexRange",
    "Selector",
    "VariableAccessSpecification",
    "VariableEntry",
    "VariableList",
    "VariableListName",
    "component_access",
    "decode_alternate_access",
    "decode_variable_access_spec",
    "decode_variable_entries",
    "encode_alternate_access",
    "encode_variable_access_spec",
    "encode_variable_entries",
]

MAX_ALTERNATE_ACCESS_DEPTH = 16
"""Deepest nesting of selectAlternateAccess accepted."""


@dataclass(slots=True, frozen=True)
class Component:
    """Select a structure component by name."""

    name: str


@dataclass(slots=True, frozen=True)
class Index:
    """Select one array element."""

    index: int


@dataclass(slots=True, frozen=True)
class IndexRange:
    """Select ``count`` array elements starting at ``low``."""

    low: int
    count: int


@dataclass(slots=True, frozen=True)
class AllElements:
    """Select all array elements."""


Selector: TypeAlias = Component | Index | IndexRange | AllElements
"""One step of an alternate access."""


@dataclass(slots=True, frozen=True)
class AlternateAccessSelection:
    """A selector; with ``nested`` it is a selectAlternateAccess that continues below it."""

    selector: Selector
    nested: tuple[AlternateAccessItem, ...] | None = None


@dataclass(slots=True, frozen=True)
class AlternateAccessItem:
    """One element of an AlternateAccess, unnamed or (with ``name``) named."""

    selection: AlternateAccessSelection
    name: str | None = None


AlternateAccess: TypeAlias = tuple[AlternateAccessItem, ...]
"""SEQUENCE OF alternate access items."""


@dataclass(slots=True, frozen=True)
class VariableEntry:
    """One variable of a list: its name and an optional alternate access."""

    name: ObjectName
    alternate_access: AlternateAccess | None = None


@dataclass(slots=True, frozen=True)
class VariableList:
    """VariableAccessSpecification listOfVariable [0]."""

    items: tuple[VariableEntry, ...]


@dataclass(slots=True, frozen=True)
class VariableListName:
    """VariableAccessSpecification variableListName [1]: a named variable list (data set)."""

    name: ObjectName


VariableAccessSpecification: TypeAlias = VariableList | VariableListName
"""How a Read, Write or InformationReport names its variables."""


def component_access(*path: str) -> AlternateAccess:
    """Alternate access selecting the component ``path[0]``, then ``path[1]`` in it, ..."""
    if not path:
        raise ValueError("component_access needs at least one component name")
    nested: AlternateAccess | None = None
    for name in reversed(path):
        nested = (AlternateAccessItem(AlternateAccessSelection(Component(name), nested)),)
    assert nested is not None
    return nested


# --------------------------------------------------------------------------- encoding


def _enc_selector(sel: Selector, nested: bool) -> bytes:
    base = 0x80 if nested else 0x81
    if isinstance(sel, Component):
        return tlv(base, encode_visible(sel.name, "component"))
    if isinstance(sel, Index):
        return uint_tlv(base + 1, sel.index, "index")
    if isinstance(sel, IndexRange):
        return tlv(
            0xA0 | (base + 2 - 0x80),
            uint_tlv(0x80, sel.low, "lowIndex") + uint_tlv(0x81, sel.count, "numberOfElements"),
        )
    return bytes((base + 3, 0))


def _enc_selection(sel: AlternateAccessSelection) -> bytes:
    if sel.nested is None:
        return _enc_selector(sel.selector, False)
    return tlv(
        0xA0, _enc_selector(sel.selector, True) + tlv(0x30, encode_alternate_access(sel.nested))
    )


def encode_alternate_access(items: Iterable[AlternateAccessItem]) -> bytes:
    """Content octets of an AlternateAccess (the caller adds the ``A5``/``30`` wrapper)."""
    out = []
    for item in items:
        body = _enc_selection(item.selection)
        if item.name is not None:
            body = tlv(0xA5, tlv(0x80, encode_visible(item.name, "componentName")) + body)
        out.append(body)
    return b"".join(out)


def encode_variable_entries(entries: Iterable[VariableEntry]) -> bytes:
    """Content of a ``SEQUENCE OF SEQUENCE {variableSpecification, alternateAccess}``."""
    out = []
    for entry in entries:
        body = tlv(0xA0, encode_object_name(entry.name))
        if entry.alternate_access is not None:
            body += tlv(0xA5, encode_alternate_access(entry.alternate_access))
        out.append(tlv(0x30, body))
    return b"".join(out)


def encode_variable_access_spec(spec: VariableAccessSpecification) -> bytes:
    """BER encoding of a VariableAccessSpecification (``A0`` list or ``A1`` list name)."""
    if isinstance(spec, VariableList):
        return tlv(0xA0, encode_variable_entries(spec.items))
    return tlv(0xA1, encode_object_name(spec.name))


# --------------------------------------------------------------------------- decoding

_F = "AlternateAccess"


def _dec_selector(data: Buffer, tag: int, cs: int, ce: int, nested: bool, pos: int) -> Selector:
    kind = (tag & 0x1F) - (0 if nested else 1) if tag < 0x100 and tag & 0xC0 == 0x80 else -1
    if kind == 0 and tag & 0x20 == 0:
        return Component(decode_visible(data, cs, ce))
    if kind == 1 and tag & 0x20 == 0:
        return Index(read_uint(data, cs, ce, "index"))
    if kind == 2 and tag & 0x20:
        _, lcs, lce, p = decode_tlv(data, cs, ce)
        _, ncs, nce, p2 = decode_tlv(data, p, ce)
        if data[cs] != 0x80 or data[p] != 0x81 or p2 != ce:
            raise MmsDecodeError("malformed indexRange", cs, _F)
        return IndexRange(read_uint(data, lcs, lce, "lowIndex"), read_uint(data, ncs, nce, "n"))
    if kind == 3 and tag & 0x20 == 0:
        return AllElements()
    raise MmsDecodeError(f"unknown alternate access selector 0x{tag:02X}", pos, _F)


def _dec_selection(
    data: Buffer, pos: int, end: int, depth: int
) -> tuple[AlternateAccessSelection, int]:
    tag, cs, ce, nxt = decode_tlv(data, pos, end)
    if tag != 0xA0:
        return AlternateAccessSelection(_dec_selector(data, tag, cs, ce, False, pos)), nxt
    if depth <= 0:
        raise MmsDecodeError("alternate access nested too deeply", pos, _F)
    stag, scs, sce, p = decode_tlv(data, cs, ce)
    selector = _dec_selector(data, stag, scs, sce, True, cs)
    ntag, ncs, nce, p = decode_tlv(data, p, ce)
    if ntag != 0x30 or p != ce:
        raise MmsDecodeError("selectAlternateAccess without its AlternateAccess", p, _F)
    return AlternateAccessSelection(
        selector, decode_alternate_access(data, ncs, nce, depth - 1)
    ), nxt


def decode_alternate_access(
    data: Buffer, start: int, end: int, depth: int = MAX_ALTERNATE_ACCESS_DEPTH
) -> AlternateAccess:
    """Decode AlternateAccess content filling ``[start, end)``."""
    out: list[AlternateAccessItem] = []
    pos = start
    while pos < end:
        if data[pos] == 0xA5:
            _, cs, ce, nxt = decode_tlv(data, pos, end)
            ntag, ncs, nce, p = decode_tlv(data, cs, ce)
            if ntag != 0x80:
                raise MmsDecodeError("named alternate access without componentName", cs, _F)
            selection, p = _dec_selection(data, p, ce, depth)
            if p != ce:
                raise MmsDecodeError("extra octets in named alternate access", p, _F)
            out.append(AlternateAccessItem(selection, decode_visible(data, ncs, nce)))
            pos = nxt
        else:
            selection, pos = _dec_selection(data, pos, end, depth)
            out.append(AlternateAccessItem(selection))
    return tuple(out)


def decode_variable_entries(data: Buffer, start: int, end: int) -> tuple[VariableEntry, ...]:
    """Decode a ``SEQUENCE OF SEQUENCE {variableSpecification, alternateAccess}`` content."""
    out: list[VariableEntry] = []
    pos = start
    while pos < end:
        tag, cs, ce, pos = decode_tlv(data, pos, end)
        if tag != 0x30:
            raise MmsDecodeError(f"expected SEQUENCE, got 0x{tag:02X}", cs, "listOfVariable")
        vtag, vcs, vce, p = decode_tlv(data, cs, ce)
        if vtag != 0xA0:
            raise MmsDecodeError(
                f"variableSpecification 0x{vtag:02X} not supported (only name [0])",
                cs,
                "listOfVariable",
            )
        name, q = decode_object_name(data, vcs, vce)
        if q != vce:
            raise MmsDecodeError("extra octets after ObjectName", q, "listOfVariable")
        alt: AlternateAccess | None = None
        if p < ce:
            atag, acs, ace, p = decode_tlv(data, p, ce)
            if atag != 0xA5:
                raise MmsDecodeError(f"unexpected tag 0x{atag:02X}", acs, "listOfVariable")
            alt = decode_alternate_access(data, acs, ace)
        if p != ce:
            raise MmsDecodeError("extra octets in variable entry", p, "listOfVariable")
        out.append(VariableEntry(name, alt))
    return tuple(out)


def decode_variable_access_spec(
    data: Buffer, pos: int, end: int
) -> tuple[VariableAccessSpecification, int]:
    """Decode the VariableAccessSpecification at ``pos``; returns ``(spec, next_pos)``."""
    tag, cs, ce, nxt = decode_tlv(data, pos, end)
    if tag == 0xA0:
        return VariableList(decode_variable_entries(data, cs, ce)), nxt
    if tag == 0xA1:
        name, p = decode_object_name(data, cs, ce)
        if p != ce:
            raise MmsDecodeError("extra octets after list name", p, "variableListName")
        return VariableListName(name), nxt
    raise MmsDecodeError(
        f"unknown VariableAccessSpecification tag 0x{tag:02X}", pos, "VariableAccessSpecification"
    )
