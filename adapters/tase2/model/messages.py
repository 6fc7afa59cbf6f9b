"""Block 4 information messages (reference section 6.12), sans-IO.

A peer enables message delivery by writing TRUE to the association-specific Boolean
``IM_Transfer_Set`` (FALSE disables it). The server then sends each message as an
InformationReport with ``listOfVariable`` [``Info_Mess_Header``, ``Info_Buff_<max>``]:
the header ``{InfoReference, LocalReference, MessageId, Size}`` (Integer32 each) and an
octet string holding the ``Size`` valid bytes of the text. Both names are in the peer's ICC
domain. :func:`encode_message_report` builds that report from a bus
:class:`~gateway.messages.Message`; :func:`decode_message_report` is the client's side
(matched by the header's name, liberal in the buffer's name and type).
"""

from __future__ import annotations

from typing import Final

from adapters.tase2.errors import RemoteError
from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.data import (
    AccessResult,
    Boolean,
    Data,
    DataAccessError,
    Integer,
    MmsString,
    OctetString,
    Structure,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.mms.types import (
    BooleanType,
    IntegerType,
    OctetStringType,
    StructureComponent,
    StructureType,
    TypeSpecification,
)
from adapters.tase2.model.points import INT32_MAX, INT32_MIN
from gateway.messages import Message

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "IM_TRANSFER_SET",
    "IM_TRANSFER_SET_TYPE",
    "INFO_BUFF_PREFIX",
    "INFO_MESS_HEADER",
    "INFO_MESS_HEADER_TYPE",
    "MessageDecodeError",
    "buffer_name",
    "buffer_type",
    "decode_message_report",
    "encode_message_report",
    "im_transfer_value",
    "is_message_report",
]

IM_TRANSFER_SET: Final = "IM_Transfer_Set"
INFO_MESS_HEADER: Final = "Info_Mess_Header"
INFO_BUFF_PREFIX: Final = "Info_Buff_"
DEFAULT_BUFFER_SIZE: Final = 1024

IM_TRANSFER_SET_TYPE: Final = BooleanType()
INFO_MESS_HEADER_TYPE: Final = StructureType(
    (
        StructureComponent("InfoReference", IntegerType(32)),
        StructureComponent("LocalReference", IntegerType(32)),
        StructureComponent("MessageId", IntegerType(32)),
        StructureComponent("Size", IntegerType(32)),
    )
)
"""``Info_Mess_Header`` = {InfoReference, LocalReference, MessageId, Size} (Integer32)."""


class MessageDecodeError(RemoteError, ValueError):
    """An information report that names ``Info_Mess_Header`` but carries no usable message."""


def buffer_name(size: int) -> str:
    """The information buffer's name, libtase2 style: ``Info_Buff_<max size>``."""
    return f"{INFO_BUFF_PREFIX}{size}"


def buffer_type(size: int) -> TypeSpecification:
    """The buffer's type: an octet string of at most ``size`` octets."""
    return OctetStringType(-size)


def im_transfer_value(data: Data) -> bool | DataAccessError:
    """The Boolean a peer writes to ``IM_Transfer_Set`` (else type-inconsistent)."""
    if isinstance(data, Boolean):
        return data.value
    return DataAccessError.TYPE_INCONSISTENT


def _int32(n: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, int(n)))


def encode_message_report(message: Message, domain: str, size: int) -> InformationReport:
    """The InformationReport carrying ``message`` into ``domain`` (text cut at ``size``)."""
    text = message.text[:size]
    names = (ObjectName.dom(domain, INFO_MESS_HEADER), ObjectName.dom(domain, buffer_name(size)))
    header = Structure(
        (
            Integer(_int32(message.reference)),
            Integer(_int32(message.local_reference)),
            Integer(_int32(message.message_id)),
            Integer(len(text)),
        )
    )
    spec = VariableList(tuple(VariableEntry(n) for n in names))
    return InformationReport(spec, (header, OctetString(text)))


def is_message_report(report: InformationReport) -> bool:
    """True when ``report`` names ``Info_Mess_Header`` (an information message)."""
    spec = report.spec
    return isinstance(spec, VariableList) and any(
        e.name.item == INFO_MESS_HEADER for e in spec.items
    )


def _text(result: AccessResult) -> bytes | None:
    if isinstance(result, OctetString):
        return result.value
    if isinstance(result, VisibleString | MmsString):
        return result.value.encode("utf-8", "replace")
    return None


def decode_message_report(report: InformationReport, origin: str = "") -> Message:
    """The message in an information report; :class:`MessageDecodeError` says why it is not
    usable.

    The buffer is the first octet-string (or string) member after the header, whatever its
    name; its first ``Size`` octets are the text.
    """
    spec = report.spec
    if not isinstance(spec, VariableList) or len(spec.items) != len(report.results):
        raise MessageDecodeError("not a listOfVariable report with one value per name")
    header: AccessResult | None = None
    text: bytes | None = None
    for entry, result in zip(spec.items, report.results, strict=True):
        name = entry.name
        if name.item == INFO_MESS_HEADER and name.scope != Scope.AA:
            header = result
        elif header is not None and text is None:
            text = _text(result)
    if not isinstance(header, Structure) or len(header.items) < 4:
        raise MessageDecodeError("Info_Mess_Header is missing or not a 4-integer structure")
    numbers = [h.value if isinstance(h, Integer) else None for h in header.items[:4]]
    if any(n is None for n in numbers):
        raise MessageDecodeError("Info_Mess_Header has a component that is no integer")
    reference, local_reference, message_id, size = (int(n or 0) for n in numbers)
    if text is None:
        raise MessageDecodeError("the report has no information buffer after Info_Mess_Header")
    if not 0 <= size <= len(text):
        raise MessageDecodeError(
            f"Info_Mess_Header Size {size} does not fit a buffer of {len(text)} octets"
        )
    return Message(text[:size], reference, local_reference, message_id, origin)
