"""MMS ObjectName (VMD-, domain- or association-specific) and its codec.

:func:`is_valid_identifier` is the gateway's MMS identifier rule
(:func:`gateway.names.is_mms_identifier`), under the name the TASE.2 code knows it by.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from adapters.tase2.asn1.ber import decode_tlv, tlv
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.fields import Buffer, decode_visible, encode_visible
from gateway.names import is_mms_identifier as is_valid_identifier

__all__ = [
    "ObjectName",
    "Scope",
    "decode_identifier",
    "decode_object_name",
    "encode_identifier",
    "encode_object_name",
    "is_valid_identifier",
]


class Scope(IntEnum):
    """Scope of a named object; the value is the ObjectName CHOICE number."""

    VMD = 0
    DOMAIN = 1
    AA = 2


@dataclass(slots=True, frozen=True)
class ObjectName:
    """A named MMS object: ``item`` within the VMD, a domain, or the association."""

    scope: Scope
    item: str
    domain: str | None = None

    def __post_init__(self) -> None:
        if (self.domain is None) == (self.scope == Scope.DOMAIN):
            raise MmsEncodeError(f"domain must be given exactly for domain scope: {self!r}")

    @classmethod
    def vmd(cls, item: str) -> ObjectName:
        """A VMD-specific name (TASE.2 VCC scope)."""
        return cls(Scope.VMD, item)

    @classmethod
    def dom(cls, domain: str, item: str) -> ObjectName:
        """A domain-specific name (TASE.2 ICC scope)."""
        return cls(Scope.DOMAIN, item, domain)

    @classmethod
    def aa(cls, item: str) -> ObjectName:
        """An association-specific name."""
        return cls(Scope.AA, item)

    def __str__(self) -> str:
        if self.scope == Scope.DOMAIN:
            return f"{self.domain}/{self.item}"
        return f"{'@' if self.scope == Scope.AA else ''}{self.item}"


def encode_identifier(name: str, field: str = "Identifier") -> bytes:
    """A universal VisibleString (``1A``) element holding ``name``."""
    return tlv(0x1A, encode_visible(name, field))


def decode_identifier(data: Buffer, pos: int, end: int, field: str) -> tuple[str, int]:
    """Decode a ``1A`` Identifier element at ``pos``; returns ``(text, next_pos)``."""
    tag, cs, ce, nxt = decode_tlv(data, pos, end)
    if tag != 0x1A:
        raise MmsDecodeError(f"expected an Identifier (0x1A), got 0x{tag:02X}", pos, field)
    return decode_visible(data, cs, ce), nxt


def encode_object_name(name: ObjectName) -> bytes:
    """BER encoding of an ObjectName (``80``/``A1``/``82``)."""
    if name.scope == Scope.DOMAIN:
        assert name.domain is not None
        return tlv(
            0xA1,
            encode_identifier(name.domain, "domainId") + encode_identifier(name.item, "itemId"),
        )
    return tlv(0x80 if name.scope == Scope.VMD else 0x82, encode_visible(name.item, "ObjectName"))


def decode_object_name(data: Buffer, pos: int, end: int) -> tuple[ObjectName, int]:
    """Decode the ObjectName element at ``pos``; returns ``(name, next_pos)``."""
    tag, cs, ce, nxt = decode_tlv(data, pos, end)
    if tag == 0x80:
        return ObjectName(Scope.VMD, decode_visible(data, cs, ce)), nxt
    if tag == 0x82:
        return ObjectName(Scope.AA, decode_visible(data, cs, ce)), nxt
    if tag == 0xA1:
        domain, p = decode_identifier(data, cs, ce, "ObjectName domainId")
        item, p = decode_identifier(data, p, ce, "ObjectName itemId")
        if p != ce:
            raise MmsDecodeError("extra octets in domain-specific name", p, "ObjectName")
        return ObjectName(Scope.DOMAIN, item, domain), nxt
    raise MmsDecodeError(f"unknown ObjectName tag 0x{tag:02X}", pos, "ObjectName")
