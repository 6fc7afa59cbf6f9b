"""Confirmed Read requests recognised by their bytes, and their answers built from octets.

The read fast path: a Read of named variables or of a named variable list, as pollers,
integrity scans and probes send it::

    A0 L  02 n <invokeID>  A4 L  [80 01 <specificationWithResult>]
          A1 L  ( A0 L {30 L A0 L <ObjectName>}...  |  A1 L <ObjectName> )

is taken apart by :func:`parse_read_request` with a few length checks instead of the general
decoder (a poller sends the same Read again and again: :func:`confirmed_request_head` and
:func:`parse_read_service` let the association keep the parsed service of one).
Everything else (modifiers, alternate access, an empty list, indefinite or
three-octet lengths, multi-octet tags, trailing octets, unknown name forms) is not
recognised (None) and takes :func:`~adapters.tase2.mms.pdu.decode_pdu`, which accepts or
rejects it. What is recognised decodes to the same invokeID and :class:`ReadRequest` as
there. :func:`encode_read_answer` builds the answer from already encoded AccessResults,
octet for octet what :func:`~adapters.tase2.mms.pdu.encode_pdu` makes of the same
:class:`~adapters.tase2.mms.services.ReadResponse`.

A poller sends the same Read again and again, with a new invokeID each time:
:class:`RepeatedRead` recognises such a frame by comparing its octets with the last one, and
:class:`KeptRead` keeps the answer frame, to send it again while the values are the same with
the new invokeID's octets put in as they came (when they are its minimal encoding; any other
form is parsed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from adapters.tase2.asn1.ber import definite_span
from adapters.tase2.iso.data_frame import data_frame
from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.pdu import encode_confirmed_response
from adapters.tase2.mms.services import ReadRequest, encode_read_response

__all__ = [
    "REPEAT_KEY_SIZE",
    "KeptRead",
    "PreparedRead",
    "RepeatedRead",
    "confirmed_request_head",
    "encode_read_answer",
    "parse_read_request",
    "parse_read_service",
]

_MAX_INVOKE_ID = (1 << 32) - 1

PreparedRead: TypeAlias = Callable[[], bytes | None]
"""A Read a responder answers from the values it holds: at each call, its AccessResults,
encoded and concatenated; None once it is out of date (it is prepared again)."""


def _object_name(data: bytes, pos: int, end: int) -> ObjectName | None:
    """The ObjectName filling ``data[pos:end]`` exactly, or None."""
    tag = data[pos]
    cs, ce = definite_span(data, pos + 1, end)
    if ce != end:
        return None
    if tag == 0x80:
        return ObjectName(Scope.VMD, data[cs:ce].decode("latin-1"))
    if tag == 0x82:
        return ObjectName(Scope.AA, data[cs:ce].decode("latin-1"))
    if tag != 0xA1 or cs >= ce or data[cs] != 0x1A:
        return None
    ds, de = definite_span(data, cs + 1, ce)
    if de < 0 or de >= ce or data[de] != 0x1A:
        return None
    is_, ie = definite_span(data, de + 1, ce)
    if ie != ce:
        return None
    return ObjectName(Scope.DOMAIN, data[is_:ie].decode("latin-1"), data[ds:de].decode("latin-1"))


def _variables(data: bytes, pos: int, end: int) -> VariableList | None:
    """listOfVariable content ``data[pos:end]`` of names without alternate access."""
    entries: list[VariableEntry] = []
    while pos < end:
        if data[pos] != 0x30:
            return None
        cs, ce = definite_span(data, pos + 1, end)
        if cs < 0 or cs >= ce or data[cs] != 0xA0:
            return None
        ns, ne = definite_span(data, cs + 1, ce)
        if ne != ce or ns >= ne:
            return None
        name = _object_name(data, ns, ne)
        if name is None:
            return None
        entries.append(VariableEntry(name))
        pos = ce
    return VariableList(tuple(entries)) if entries else None


def confirmed_request_head(data: bytes, start: int, end: int) -> tuple[int, int, int] | None:
    """``(invokeID, start, end of its value octets)`` of the confirmed request filling
    ``data[start:end]`` (no modifiers; the service element follows), or None."""
    if start >= end or data[start] != 0xA0:
        return None
    cs, ce = definite_span(data, start + 1, end)
    if ce != end or cs >= ce or data[cs] != 0x02:
        return None
    vs, ve = definite_span(data, cs + 1, ce)
    if not 0 < ve - vs <= 5 or ve >= ce:
        return None
    invoke_id = int.from_bytes(data[vs:ve], "big", signed=True)
    return (invoke_id, vs, ve) if 0 <= invoke_id <= _MAX_INVOKE_ID else None


def parse_read_service(data: bytes, start: int, end: int) -> ReadRequest | None:
    """The Read whose service element (``A4 L ...``) fills ``data[start:end]``, or None."""
    if data[start] != 0xA4:
        return None
    rs, re_ = definite_span(data, start + 1, end)
    if re_ != end or rs >= re_:
        return None
    with_result = False
    if data[rs] == 0x80:
        bs, be = definite_span(data, rs + 1, re_)
        if be - bs != 1 or be >= re_:
            return None
        with_result = data[bs] != 0
        rs = be
    if data[rs] != 0xA1:
        return None
    ss, se = definite_span(data, rs + 1, re_)
    if se != re_ or ss >= se:
        return None
    kind = data[ss]
    vs, ve = definite_span(data, ss + 1, se)
    if ve != se or vs >= ve:
        return None
    spec: VariableList | VariableListName | None
    if kind == 0xA0:
        spec = _variables(data, vs, ve)
    elif kind == 0xA1:
        name = _object_name(data, vs, ve)
        spec = None if name is None else VariableListName(name)
    else:
        return None
    return None if spec is None else ReadRequest(spec, with_result)


def parse_read_request(data: bytes, start: int, end: int) -> tuple[int, ReadRequest] | None:
    """``(invokeID, request)`` of the confirmed Read filling ``data[start:end]``, or None
    when it has any other form (then decode it with the general decoder)."""
    head = confirmed_request_head(data, start, end)
    if head is None:
        return None
    request = parse_read_service(data, head[2], end)
    return None if request is None else (head[0], request)


def encode_read_answer(invoke_id: int, request: ReadRequest, results: bytes) -> bytes:
    """The Confirmed-Response PDU answering ``request`` with the AccessResults ``results``
    (concatenated encodings, one per variable)."""
    spec = request.spec if request.specification_with_result else None
    return encode_confirmed_response(invoke_id, encode_read_response(results, spec))


class KeptRead:
    """A Read a peer sends again and again, what reads its values, and the frame last built
    to answer it.

    The answer is a pure function of the invokeID, the request, the AccessResults and the
    presentation context; while the results are the same and the invokeID has as many
    octets, the next frame is the last one with the invokeID's octets replaced.
    """

    __slots__ = ("_head", "_id_size", "_results", "_tail", "pdu_size", "reader", "request")

    def __init__(self, request: ReadRequest) -> None:
        self.request = request
        self.reader: PreparedRead | None = None
        """What gives the AccessResults (see ``Association.prepare_read``)."""
        self.pdu_size = 0
        """Octets of the MMS PDU in the last answer frame."""
        self._results = b""
        self._id_size = 0
        self._head = self._tail = b""

    def answer(self, invoke_id: bytes, results: bytes, context_id: int) -> bytes:
        """The single TPKT frame answering this Read with ``results`` under the invokeID
        whose minimal octets are ``invoke_id`` (as
        :func:`~adapters.tase2.iso.data_frame.data_frame` of :func:`encode_read_answer`)."""
        size = len(invoke_id)
        if results == self._results and size == self._id_size:
            return self._head + invoke_id + self._tail
        pdu = encode_read_answer(int.from_bytes(invoke_id, "big"), self.request, results)
        frame = data_frame(pdu, context_id)
        # the PDU ends the frame: A1 L 02 n <invokeID> ...
        length_octets = 1 if pdu[1] < 0x80 else 1 + (pdu[1] & 0x7F)
        at = len(frame) - len(pdu) + 1 + length_octets + 2
        self._head, self._tail = frame[:at], frame[at + size :]
        self._results, self._id_size, self.pdu_size = results, size, len(pdu)
        return frame

    def again(self, invoke_id: bytes) -> bytes | None:
        """The last answer frame under the invokeID of minimal octets ``invoke_id``, when it
        has as many octets and the reader gives the same AccessResults; else None (also
        when the reader fails or is out of date), and the Read is answered the usual way."""
        reader = self.reader
        if reader is None or len(invoke_id) != self._id_size:
            return None
        try:
            results = reader()
        except Exception:
            return None
        if results is None or results != self._results:
            return None
        return self._head + invoke_id + self._tail


REPEAT_KEY_SIZE = 8
"""The last octets of a frame, by which its :class:`RepeatedRead` is found (a Read's service
element, which follows the invokeID, has at least as many)."""


class RepeatedRead:
    """A Read request frame seen before: its octets around the invokeID, and its Read."""

    __slots__ = ("_after", "_at", "_before", "_highest", "_length", "_lowest", "_size", "kept")

    def __init__(self, frame: bytes, invoke_start: int, invoke_end: int, kept: KeptRead) -> None:
        self.kept = kept
        self._before, self._after = frame[:invoke_start], frame[invoke_end:]
        self._at, self._size, self._length = invoke_start, invoke_end - invoke_start, len(frame)
        # the invokeIDs of this size in minimal octets, in order: a first octet 00 only
        # before one of 80 or more, at most 2**32 - 1
        size = self._size
        self._lowest = (0 if size == 1 else 1 << (8 * size - 9)).to_bytes(size, "big")
        self._highest = min((1 << (8 * size - 1)) - 1, _MAX_INVOKE_ID).to_bytes(size, "big")

    def invoke_id(self, data: bytes, pos: int, end: int) -> bytes | None:
        """The invokeID's octets in the frame ``data[pos:end]`` when the frame is this one
        but for them and they are a minimal encoding in range; else None (then parse it)."""
        if (
            end - pos != self._length
            or not data.startswith(self._before, pos)
            or not data.endswith(self._after, pos, end)
        ):
            return None
        at = pos + self._at
        octets = data[at : at + self._size]
        return octets if self._lowest <= octets <= self._highest else None

    def answer_again(self, data: bytes) -> bytes | None:
        """The answer to ``data`` when it is this frame alone but for its invokeID, from the
        last answer frame (see :meth:`KeptRead.again`); else None."""
        invoke_id = self.invoke_id(data, 0, len(data))
        return None if invoke_id is None else self.kept.again(invoke_id)
