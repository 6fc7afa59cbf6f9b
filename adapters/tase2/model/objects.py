"""The ICC and VCC objects of a TASE.2 server (reference sections 6.2 and 6.5-6.7), sans-IO.

* ``TASE2_Version`` / ``Supported_Features`` values;
* the names and types of the ICC-domain special variables (``Bilateral_Table_ID``,
  ``Next_DSTransfer_Set`` and the report-only ones) and their largest encodings;
* ``MMSObjectName`` structures and the ``DSConditions`` bit string;
* :class:`DSTransferSetError`, carrying the DataAccessError the server answers a refused
  write with; raised by the decoders here and by :mod:`adapters.tase2.model.transfer_set`.

Bit numbering follows ASN.1 (bit 0 = mask ``0x80`` of the first octet).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

from adapters.tase2.errors import RemoteError
from adapters.tase2.mms.data import (
    BitString,
    Data,
    DataAccessError,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName, Scope, is_valid_identifier
from adapters.tase2.mms.types import (
    BitStringType,
    StructureComponent,
    StructureType,
    TypeSpecification,
    UnsignedType,
)
from adapters.tase2.model.points import GMT_BASED_S_TYPE, IDENTIFIER32, INT16

__all__ = [
    "BILATERAL_TABLE_ID",
    "BILATERAL_TABLE_ID_TYPE",
    "DS_CONDITIONS_DETECTED",
    "DS_CONDITIONS_TYPE",
    "EVENT_CODE_DETECTED",
    "ICC_LISTED_NAMES",
    "ICC_SPECIAL_TYPES",
    "MMS_OBJECT_NAME_TYPE",
    "NEXT_DS_TRANSFER_SET",
    "NO_CONDITIONS",
    "REPORT_ONLY_NAMES",
    "SPECIAL_MAX_SIZE",
    "SUPPORTED_FEATURES",
    "SUPPORTED_FEATURES_TYPE",
    "TASE2_VERSION",
    "TASE2_VERSION_TYPE",
    "TRANSFER_REPORT_ACK",
    "TRANSFER_REPORT_NACK",
    "TRANSFER_SET_NAME",
    "TRANSFER_SET_TIME_STAMP",
    "DSConditions",
    "DSTransferSetError",
    "decode_mms_object_name",
    "ds_conditions_from_data",
    "ds_conditions_to_data",
    "encode_mms_object_name",
    "supported_features",
    "tase2_version",
    "transfer_set_reference",
]

# --------------------------------------------------------------------------- VCC objects

TASE2_VERSION: Final = "TASE2_Version"
SUPPORTED_FEATURES: Final = "Supported_Features"

TASE2_VERSION_TYPE: Final = StructureType(
    (
        StructureComponent("MajorVersionNumber", INT16),
        StructureComponent("MinorVersionNumber", INT16),
    )
)
"""``TASE2_Version`` = {MajorVersionNumber Integer16, MinorVersionNumber Integer16}."""

SUPPORTED_FEATURES_TYPE: Final = BitStringType(12)
"""``Supported_Features``: BIT STRING(12), bit n-1 = conformance block n."""


def tase2_version(major: int = 2000, minor: int = 8) -> Structure:
    """The value of ``TASE2_Version``: ``{2000, 8}`` for the 2000-08 object model we serve."""
    return Structure((Integer(major), Integer(minor)))


def supported_features(blocks: Iterable[int]) -> BitString:
    """The ``Supported_Features`` value advertising conformance ``blocks`` (1-9).

    Block 1 is bit 0 (``0x80``); blocks 1, 2 give ``84 03 04 C0 00`` on the wire.
    """
    bits = []
    for block in blocks:
        if not 1 <= block <= 9:
            raise ValueError(f"TASE.2 conformance block {block} does not exist (1-9)")
        bits.append(block - 1)
    return BitString.from_bits(12, bits)


# --------------------------------------------------------------------------- ICC objects

BILATERAL_TABLE_ID: Final = "Bilateral_Table_ID"
NEXT_DS_TRANSFER_SET: Final = "Next_DSTransfer_Set"
TRANSFER_SET_NAME: Final = "Transfer_Set_Name"
DS_CONDITIONS_DETECTED: Final = "DSConditions_Detected"
EVENT_CODE_DETECTED: Final = "Event_Code_Detected"
TRANSFER_SET_TIME_STAMP: Final = "Transfer_Set_Time_Stamp"
TRANSFER_REPORT_ACK: Final = "Transfer_Report_ACK"
TRANSFER_REPORT_NACK: Final = "Transfer_Report_NACK"

REPORT_ONLY_NAMES: Final = (
    TRANSFER_SET_NAME,
    DS_CONDITIONS_DETECTED,
    EVENT_CODE_DETECTED,
    TRANSFER_SET_TIME_STAMP,
)
"""The report-only variables, in the order RBE reports put them (libtase2's order).

They are listed by GetNameList so that peers can put them in data sets; a Read of them is
answered with object-access-denied (reference section 6.5).
"""

SPECIAL_MAX_SIZE: Final[dict[str, int]] = {
    TRANSFER_SET_NAME: 2 + 3 + 2 * 34,  # A2 L {86 01 s, 8A L dom, 8A L name}, names <= 32
    DS_CONDITIONS_DETECTED: 4,  # 84 02 03 xx
    EVENT_CODE_DETECTED: 4,  # 85 02 xx xx (Integer16)
    TRANSFER_SET_TIME_STAMP: 6,  # 85 04 xx xx xx xx (GMTBasedS)
}
"""Largest AccessResult encoding of each report-only variable."""

ICC_LISTED_NAMES: Final = (BILATERAL_TABLE_ID, NEXT_DS_TRANSFER_SET, *REPORT_ONLY_NAMES)
"""The fixed names GetNameList shows in every ICC domain (add the DSTransferSetNN names and
the peer's points)."""

BILATERAL_TABLE_ID_TYPE: Final = IDENTIFIER32
"""``Bilateral_Table_ID``: VisibleString, at most 32 characters."""

MMS_OBJECT_NAME_TYPE: Final = StructureType(
    (
        StructureComponent("Scope", UnsignedType(8)),
        StructureComponent("DomainName", IDENTIFIER32),
        StructureComponent("Name", IDENTIFIER32),
    )
)
"""``MMSObjectName`` = {Scope Unsigned8 (0 VCC, 1 ICC), DomainName, Name}."""

DS_CONDITIONS_TYPE: Final = BitStringType(5)
"""``DSConditions``: BIT STRING(5), see :class:`DSConditions`."""

ICC_SPECIAL_TYPES: Final[dict[str, TypeSpecification]] = {
    BILATERAL_TABLE_ID: BILATERAL_TABLE_ID_TYPE,
    NEXT_DS_TRANSFER_SET: MMS_OBJECT_NAME_TYPE,
    TRANSFER_SET_NAME: MMS_OBJECT_NAME_TYPE,
    DS_CONDITIONS_DETECTED: DS_CONDITIONS_TYPE,
    EVENT_CODE_DETECTED: INT16,
    TRANSFER_SET_TIME_STAMP: GMT_BASED_S_TYPE,
    TRANSFER_REPORT_ACK: MMS_OBJECT_NAME_TYPE,
    TRANSFER_REPORT_NACK: MMS_OBJECT_NAME_TYPE,
}
"""Types (for GetVariableAccessAttributes) of the special variables of every ICC domain."""


def encode_mms_object_name(name: ObjectName) -> Structure:
    """``MMSObjectName`` of an ICC (domain) or VCC (VMD) object name."""
    if name.scope == Scope.DOMAIN:
        assert name.domain is not None
        return Structure((Unsigned(1), VisibleString(name.domain), VisibleString(name.item)))
    if name.scope == Scope.VMD:
        return Structure((Unsigned(0), VisibleString(""), VisibleString(name.item)))
    raise ValueError(f"an association-scope name has no MMSObjectName: {name}")


def _text(d: Data, what: str) -> str:
    if isinstance(d, VisibleString):
        return d.value
    raise DSTransferSetError(
        f"{what}: expected a visible-string, got {type(d).__name__}",
        DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
    )


def decode_mms_object_name(data: Data, what: str = "MMSObjectName") -> ObjectName | None:
    """The object name in an ``MMSObjectName`` value; None when its Name is empty (unset).

    Scope may be sent as unsigned or integer. Raises :class:`DSTransferSetError`:
    object-attribute-inconsistent when the shape is wrong, object-value-invalid when the
    scope is not 0/1 or a name is not a legal identifier.
    """
    if not isinstance(data, Structure) or len(data.items) != 3:
        raise DSTransferSetError(
            f"{what}: expected {{Scope, DomainName, Name}}, got {data!r}",
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
        )
    scope_d, dom_d, name_d = data.items
    if not isinstance(scope_d, Unsigned | Integer):
        raise DSTransferSetError(
            f"{what}: Scope must be an Unsigned8", DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT
        )
    domain, item = _text(dom_d, f"{what}.DomainName"), _text(name_d, f"{what}.Name")
    if item == "":
        return None
    if not is_valid_identifier(item):
        raise DSTransferSetError(
            f"{what}: {item!r} is not an identifier", DataAccessError.OBJECT_VALUE_INVALID
        )
    if scope_d.value == 0:
        return ObjectName.vmd(item)
    if scope_d.value == 1:
        if not is_valid_identifier(domain):
            raise DSTransferSetError(
                f"{what}: domain {domain!r} is not an identifier",
                DataAccessError.OBJECT_VALUE_INVALID,
            )
        return ObjectName.dom(domain, item)
    raise DSTransferSetError(
        f"{what}: Scope {scope_d.value} is neither 0 (VCC) nor 1 (ICC)",
        DataAccessError.OBJECT_VALUE_INVALID,
    )


_NAME_COMPONENTS: Final = ("name", "transfersetname", "dstransferset", "itemid", "item")
_DOMAIN_COMPONENTS: Final = ("domainname", "domain", "domainid")


def _reference(domain: str, item: str, what: str) -> ObjectName | None:
    if item == "":
        return None
    dom, sep, rest = item.partition("/")
    if sep:
        domain, item = dom, rest
    if not (is_valid_identifier(item) and is_valid_identifier(domain)):
        raise DSTransferSetError(
            f"{what}: {domain}/{item} is not an object name", DataAccessError.OBJECT_VALUE_INVALID
        )
    return ObjectName.dom(domain, item)


def transfer_set_reference(
    data: Data, domain: str, spec: TypeSpecification | None = None, what: str = NEXT_DS_TRANSFER_SET
) -> ObjectName | None:
    """The transfer set a ``Next_DSTransfer_Set`` value names, however the server shapes it.

    Takes the standard MMSObjectName, a bare VisibleString (the item, in ``domain``, or
    ``DOMAIN/Item``), or any structure whose components ``spec`` names (``Name`` and
    optionally ``DomainName``; other components such as ``Available`` are ignored) or, without
    names, whose only non-empty VisibleString is the item. None when it names none (an empty
    name); raises :class:`DSTransferSetError` when no name can be found in it.
    """
    if isinstance(data, VisibleString):
        return _reference(domain, data.value, what)
    if not isinstance(data, Structure):
        raise DSTransferSetError(
            f"{what}: expected an object name, got {data!r}",
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
        )
    names = (
        [(c.name or "").replace("_", "").lower() for c in spec.components]
        if isinstance(spec, StructureType) and len(spec.components) == len(data.items)
        else []
    )
    if (
        names in ([], ["scope", "domainname", "name"])
        and len(data.items) == 3
        and isinstance(data.items[0], Integer | Unsigned)
        and isinstance(data.items[1], VisibleString)
    ):
        return decode_mms_object_name(data, what)
    fields = dict(zip(names, data.items, strict=False))
    item = next((fields[n] for n in _NAME_COMPONENTS if n in fields), None)
    if isinstance(item, VisibleString):
        dom = next((fields[n] for n in _DOMAIN_COMPONENTS if n in fields), None)
        if isinstance(dom, VisibleString) and dom.value:
            domain = dom.value
        return _reference(domain, item.value, what)
    texts = [d.value for d in data.items if isinstance(d, VisibleString) and d.value]
    if len(texts) == 1:
        return _reference(domain, texts[0], what)
    raise DSTransferSetError(
        f"{what}: no transfer set name found in {data!r}",
        DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
    )


class DSConditions(enum.IntFlag):
    """DS conditions (DSConditionsRequested / DSConditions_Detected, reference section 6.7).

    Flag value ``1 << n`` is ASN.1 bit n, so ``INTERVAL_TIMEOUT`` (bit 0) goes on the wire
    as mask ``0x80``: use :func:`ds_conditions_to_data` / :func:`ds_conditions_from_data`.
    """

    INTERVAL_TIMEOUT = 1
    INTEGRITY_TIMEOUT = 2
    OBJECT_CHANGE = 4
    OPERATOR_REQUEST = 8
    OTHER_EXTERNAL_EVENT = 16


NO_CONDITIONS: Final = DSConditions(0)
"""The empty condition set."""


def ds_conditions_to_data(conditions: DSConditions | int) -> BitString:
    """The 5-bit string of ``conditions`` (interval+integrity+change = ``84 02 03 E0``)."""
    return BitString.from_bits(5, [n for n in range(5) if conditions & (1 << n)])


def ds_conditions_from_data(data: Data) -> DSConditions:
    """The conditions in a DSConditions bit string (bits beyond 4 ignored, missing bits 0).

    Raises :class:`DSTransferSetError` (object-attribute-inconsistent) for a non-bit-string.
    """
    if not isinstance(data, BitString):
        raise DSTransferSetError(
            f"DSConditions: expected a bit string, got {data!r}",
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
        )
    value = 0
    for n in range(min(5, data.nbits)):
        if data.data[n >> 3] & (0x80 >> (n & 7)):
            value |= 1 << n
    return DSConditions(value)


# --------------------------------------------------------------------------- DSTransferSet errors


class DSTransferSetError(RemoteError, ValueError):
    """A refused DSTransferSet write, or a refused transfer-set operation.

    ``error`` is the DataAccessError to answer the Write with; the message says why (log it,
    the peer only sees the code).
    """

    def __init__(self, message: str, error: DataAccessError) -> None:
        super().__init__(message)
        self.error = error
