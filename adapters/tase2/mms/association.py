"""The MMS association state machine for both roles, sans-IO.

Bytes in (:meth:`Association.receive_bytes` returns events), bytes out
(:meth:`Association.data_to_send`), and explicit methods for every decision: the responder
answers an :class:`AssociationRequested` with :meth:`Association.accept` or
:meth:`Association.refuse`, then takes the events of whatever arrived behind the request
with :meth:`Association.resume` (nothing the peer sends can end the association while the
decision is pending: it is held until then); both roles send MMS PDUs with
:meth:`Association.send_pdu`, end with :meth:`Association.conclude` (MMS Conclude, then ACSE
release in session FN/DN) or :meth:`Association.abort`.

States: ``IDLE -> COTP_OPEN -> ASSOCIATING -> ASSOCIATED -> RELEASING -> CLOSED``. The machine
negotiates the MMS Initiate parameters, enforces the negotiated PDU size both ways and the
maxServOutstanding counts, answers undecodable requests with a RejectPDU, and closes on
COTP/session/presentation protocol errors. It never touches a socket or a clock.

A responder given :attr:`Association.prepare_read` answers the plain Reads of the data phase in
:meth:`Association.receive_bytes` itself: whole frames recognised by their bytes
(:mod:`~adapters.tase2.iso.data_frame`, :mod:`~adapters.tase2.mms.read_fast`) are answered
with the encoded values their :data:`PreparedRead` gives and raise no event; whatever either
does not take goes through the layers and becomes events as before. While a request the shell
has not answered is outstanding, everything takes the layers, so that no answer overtakes one
the shell would send first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import TypeAlias

from adapters.tase2.asn1.ber import BerError, encode_unsigned
from adapters.tase2.iso import acse, cotp, data_frame, presentation, stack, tpkt
from adapters.tase2.iso.errors import IsoError
from adapters.tase2.mms.data import BitString
from adapters.tase2.mms.errors import MmsDecodeError, MmsError
from adapters.tase2.mms.initiate import (
    TASE2_PARAMETER_CBB,
    TASE2_SERVICES,
    InitiateRequest,
    InitiateResponse,
    negotiate,
)
from adapters.tase2.mms.pdu import (
    REJECT_KINDS,
    CancelError,
    CancelRequest,
    ConcludeError,
    ConcludeRequest,
    ConcludeResponse,
    ConcludeResponseReject,
    ConfirmedError,
    ConfirmedErrorReject,
    ConfirmedRequest,
    ConfirmedRequestReject,
    ConfirmedResponse,
    ConfirmedResponseReject,
    InitiateError,
    MmsPdu,
    PduErrorReject,
    Reject,
    decode_pdu,
    encode_pdu,
)
from adapters.tase2.mms.read_fast import (
    REPEAT_KEY_SIZE,
    KeptRead,
    PreparedRead,
    RepeatedRead,
    confirmed_request_head,
    parse_read_service,
)
from adapters.tase2.mms.service_error import (
    CancelCode,
    ConcludeCode,
    ErrorClass,
    InitiateCode,
    ServiceCode,
    ServiceError,
)
from adapters.tase2.mms.services import OtherService, ReadRequest

__all__ = [
    "Association",
    "AssociationClosed",
    "AssociationConfig",
    "AssociationError",
    "AssociationEstablished",
    "AssociationRequested",
    "AssociationState",
    "CloseReason",
    "ConcludeRefused",
    "ConcludeRequested",
    "Event",
    "NegotiatedParameters",
    "OutstandingLimitError",
    "PduReceived",
    "PduTooLargeError",
    "PreparedRead",
    "ReadPreparer",
    "ResponseUndecodable",
    "Role",
    "TransportConnected",
    "UnconfirmedReceived",
]

_KNOWN_PDU_TAGS = frozenset(
    (0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0x85, 0x86, 0xA7, 0xA8, 0xA9, 0xAA, 0x8B, 0x8C, 0xAD)
)
_MAX_ABANDONED = 1024
_UNCONFIRMED = b"\xa3"  # the MMSpdu tag of an unconfirmed-PDU
_MAX_INVOKE_ID = (1 << 31) - 1
_MAX_KEPT_READS = 64
"""Parsed Reads a responder keeps by their encoding (a poller repeats the same few)."""
_FAST_OUTPUT_LIMIT = 1 << 18
"""Octets of fast-path answers made from one chunk of input at most (a peer that sends many
Reads and reads no answers cannot make one chunk queue more than this)."""
_REPEATS_ALIKE = 4
"""Read frames kept that end in the same octets (items whose names end alike)."""


@dataclass(slots=True)
class _Held:
    """What arrived while a responder's association request awaits accept() or refuse()."""

    events: list[stack.TransportEvent] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    overflow: int = 0


class AssociationState(Enum):
    """Where an association is in its life cycle."""

    IDLE = "idle"
    COTP_OPEN = "cotp-open"
    ASSOCIATING = "associating"
    ASSOCIATED = "associated"
    RELEASING = "releasing"
    CLOSED = "closed"


class Role(Enum):
    """Which end of the association this object is."""

    INITIATOR = "initiator"
    RESPONDER = "responder"


class CloseReason(Enum):
    """Why an association ended."""

    RELEASED = "released"
    PEER_ABORTED = "peer aborted"
    LOCAL_ABORT = "aborted locally"
    REFUSED = "refused locally"
    REJECTED = "rejected by peer"
    TRANSPORT_REFUSED = "transport connection refused"
    PROTOCOL_ERROR = "protocol error"
    CONNECTION_LOST = "connection lost"


class AssociationError(MmsError, RuntimeError):
    """A method was called in a state that does not allow it (a local error)."""


class PduTooLargeError(AssociationError):
    """An outgoing MMS PDU exceeds the negotiated maximum PDU size; nothing was sent."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"MMS PDU of {size} octets exceeds the negotiated maximum of {limit}")
        self.size = size
        self.limit = limit


class OutstandingLimitError(AssociationError):
    """Sending this request would exceed the negotiated maxServOutstanding."""


@dataclass(frozen=True, slots=True)
class AssociationConfig:
    """Local parameters of one end of an association.

    ``local_*`` are this end's addresses and identity (calling for an initiator, responding
    for a responder); ``remote_*`` are what an initiator calls. The MMS limits are what this
    end offers (initiator) or accepts at most (responder).
    """

    tpdu_size: int = 8192
    max_pdu_size: int = 65000
    max_serv_outstanding_calling: int = 5
    max_serv_outstanding_called: int = 5
    nesting_level: int | None = 10
    parameter_cbb: BitString = TASE2_PARAMETER_CBB
    services_supported: BitString = TASE2_SERVICES
    local_tsap: bytes = b"\x00\x01"
    remote_tsap: bytes = b"\x00\x01"
    local_session_selector: bytes = b"\x00\x01"
    remote_session_selector: bytes = b"\x00\x01"
    local_presentation_selector: bytes = presentation.DEFAULT_SELECTOR
    remote_presentation_selector: bytes = presentation.DEFAULT_SELECTOR
    local_ap_title: str | None = None
    local_ae_qualifier: int | None = None
    remote_ap_title: str | None = None
    remote_ae_qualifier: int | None = None
    password: bytes | None = None
    max_tsdu_size: int | None = None
    """Largest TSDU accepted; default: ``max_pdu_size`` plus room for the upper layers."""
    raw_unconfirmed: bool = False
    """Hand unconfirmed PDUs (reports) up undecoded, as `UnconfirmedReceived`, so that the
    upper layer can use a fast decoder for the shapes it expects."""

    @property
    def tsdu_limit(self) -> int:
        """The effective largest TSDU accepted from the peer."""
        return self.max_tsdu_size or self.max_pdu_size + 8192


@dataclass(frozen=True, slots=True)
class NegotiatedParameters:
    """What Initiate (and COTP) settled for one association."""

    max_pdu_size: int
    max_serv_outstanding_calling: int
    max_serv_outstanding_called: int
    nesting_level: int | None
    version: int
    parameter_cbb: BitString
    peer_services: BitString
    tpdu_size: int


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class TransportConnected:
    """COTP connection established (CR/CC exchanged) with this TPDU size."""

    tpdu_size: int


@dataclass(frozen=True, slots=True)
class AssociationRequested:
    """Responder: a peer asks to associate; answer with ``accept()`` or ``refuse()``.

    ``aarq`` holds AP-titles, AE-qualifiers and authentication fields; ``initiate`` the
    decoded MMS Initiate-Request.
    """

    aarq: acse.Aarq
    initiate: InitiateRequest
    calling_tsap: bytes | None
    called_tsap: bytes | None


@dataclass(frozen=True, slots=True)
class AssociationEstablished:
    """Initiator: the peer accepted; ``parameters`` are the negotiated values."""

    parameters: NegotiatedParameters
    aare: acse.Aare


@dataclass(frozen=True, slots=True)
class PduReceived:
    """An MMS PDU of the data phase (request, response, error, report, reject, cancel)."""

    pdu: MmsPdu


@dataclass(frozen=True, slots=True)
class UnconfirmedReceived:
    """An unconfirmed PDU still encoded (only with `AssociationConfig.raw_unconfirmed`)."""

    raw: bytes


@dataclass(frozen=True, slots=True)
class ResponseUndecodable:
    """A response to our request ``invoke_id`` could not be decoded (it was rejected)."""

    invoke_id: int
    error: MmsDecodeError


@dataclass(frozen=True, slots=True)
class ConcludeRequested:
    """The peer concluded and we answered; the association is releasing."""


@dataclass(frozen=True, slots=True)
class ConcludeRefused:
    """The peer refused our Conclude; the association is usable again."""

    error: ServiceError


@dataclass(frozen=True, slots=True)
class AssociationClosed:
    """The association ended; the transport must be closed after sending pending bytes.

    ``aare`` is the A-ASSOCIATE response of a refusal (its result and diagnostic), when the
    peer sent one.
    """

    reason: CloseReason
    detail: str = ""
    aare: acse.Aare | None = None


Event: TypeAlias = (
    TransportConnected
    | AssociationRequested
    | AssociationEstablished
    | PduReceived
    | UnconfirmedReceived
    | ResponseUndecodable
    | ConcludeRequested
    | ConcludeRefused
    | AssociationClosed
)
"""Anything :meth:`Association.receive_bytes` reports."""


ReadPreparer: TypeAlias = Callable[[ReadRequest], PreparedRead | None]
"""The read fast path of a responder: the :data:`PreparedRead` of a Read, or None when the
request must take the general path (then it comes as a :class:`PduReceived`)."""


@dataclass(slots=True)
class _Pending:
    """The association request a responder has not answered yet."""

    indication: stack.AssociateIndication
    initiate: InitiateRequest


@dataclass(slots=True)
class _Outstanding:
    """Invoke ids of confirmed requests not yet answered, per direction."""

    sent: set[int] = field(default_factory=set)
    received: set[int] = field(default_factory=set)
    abandoned: set[int] = field(default_factory=set)


class Association:
    """One MMS association over one transport connection, for either role (sans-IO)."""

    def __init__(self, role: Role, config: AssociationConfig | None = None) -> None:
        self.role = role
        self.config = config or AssociationConfig()
        self.state = AssociationState.IDLE
        self.parameters: NegotiatedParameters | None = None
        self.peer_ap_title: str | None = None
        self.peer_ae_qualifier: int | None = None
        self.aarq: acse.Aarq | None = None
        self.close_reason: CloseReason | None = None
        self.close_detail = ""
        self._peer_concluded = False
        self._receiver = stack.TransportReceiver(self.config.tpdu_size + 4, self.config.tsdu_limit)
        self._out: list[bytes] = []
        self._tpdu_size = cotp.DEFAULT_TPDU_SIZE
        self._pending: _Pending | None = None
        self._held = _Held()
        self._outstanding = _Outstanding()
        self._mms_ctx = 3
        self._acse_ctx = 1
        self._concluding = False
        self._next_invoke_id = 0
        self._cr: cotp.ConnectionRequest | None = None
        self._reads: dict[bytes, KeptRead] = {}
        self._repeats: dict[bytes, list[RepeatedRead]] = {}
        """Reads seen, by their frames' last octets (the newest first)."""
        self._last_read: RepeatedRead | None = None
        """The Read last answered alone in one frame, its KeptRead still holding that
        answer: the next frame is tried against it first (a poller's next Read)."""
        self.prepare_read: ReadPreparer | None = None
        """Set by a responder's shell once associated: see the module docstring."""

    # ------------------------------------------------------------------ introspection

    @property
    def closed(self) -> bool:
        """True once the association has ended."""
        return self.state is AssociationState.CLOSED

    @property
    def outstanding_sent(self) -> int:
        """Confirmed requests we sent that await an answer."""
        return len(self._outstanding.sent)

    @property
    def outstanding_received(self) -> int:
        """Confirmed requests we received and have not answered."""
        return len(self._outstanding.received)

    @property
    def request_limit(self) -> int:
        """How many of our confirmed requests may be outstanding at once."""
        p = self.parameters
        if p is None:
            return 0
        if self.role is Role.INITIATOR:
            return p.max_serv_outstanding_calling
        return p.max_serv_outstanding_called

    @property
    def indication_limit(self) -> int:
        """How many of the peer's confirmed requests may be outstanding at once."""
        p = self.parameters
        if p is None:
            return 0
        if self.role is Role.INITIATOR:
            return p.max_serv_outstanding_called
        return p.max_serv_outstanding_calling

    def new_invoke_id(self) -> int:
        """A fresh invokeID for our next confirmed request (skips ones still in use)."""
        for _ in range(len(self._outstanding.sent) + 2):
            self._next_invoke_id = (self._next_invoke_id + 1) & _MAX_INVOKE_ID
            if self._next_invoke_id not in self._outstanding.sent:
                break
        return self._next_invoke_id

    # ------------------------------------------------------------------ output

    def data_to_send(self) -> bytes:
        """All bytes queued for the transport since the last call (whole TSDUs only)."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    def _send_tsdu(self, tsdu: bytes) -> None:
        self._out.extend(stack.tsdu_frames(tsdu, self._tpdu_size))

    def _close(
        self, reason: CloseReason, detail: str = "", aare: acse.Aare | None = None
    ) -> AssociationClosed:
        self.state = AssociationState.CLOSED
        self.close_reason = reason
        self.close_detail = detail
        self._pending = None
        self._held = _Held()
        return AssociationClosed(reason, detail, aare)

    # ------------------------------------------------------------------ initiator

    def start(self) -> None:
        """Initiator: send the COTP CR; the AARQ follows when the CC arrives."""
        if (
            self.role is not Role.INITIATOR
            or self.state is not AssociationState.IDLE
            or self._cr is not None
        ):
            raise AssociationError("start() is for an idle initiator, once")
        cfg = self.config
        self._cr = cotp.ConnectionRequest(
            src_ref=1,
            calling_tsap=cfg.local_tsap,
            called_tsap=cfg.remote_tsap,
            tpdu_size=cfg.tpdu_size,
        )
        self._out.append(stack.tpdu_frame(self._cr))

    def _initiate_request(self) -> InitiateRequest:
        cfg = self.config
        return InitiateRequest(
            max_serv_outstanding_calling=cfg.max_serv_outstanding_calling,
            max_serv_outstanding_called=cfg.max_serv_outstanding_called,
            local_detail=cfg.max_pdu_size,
            nesting_level=cfg.nesting_level,
            parameter_cbb=cfg.parameter_cbb,
            services_supported=cfg.services_supported,
        )

    def _send_aarq(self) -> None:
        cfg = self.config
        auth: acse.AuthenticationValue | None = None
        mechanism: str | None = None
        if cfg.password is not None:
            auth = acse.AuthenticationValue.password(cfg.password)
            mechanism = acse.PASSWORD_MECHANISM
        aarq = acse.Aarq(
            user_information=encode_pdu(self._initiate_request()),
            called_ap_title=cfg.remote_ap_title,
            called_ae_qualifier=cfg.remote_ae_qualifier,
            calling_ap_title=cfg.local_ap_title,
            calling_ae_qualifier=cfg.local_ae_qualifier,
            mechanism=mechanism,
            authentication=auth,
            user_information_context_id=self._mms_ctx,
        )
        self._send_tsdu(
            stack.wrap_aarq(
                aarq,
                mms_context_id=self._mms_ctx,
                acse_context_id=self._acse_ctx,
                calling_presentation_selector=cfg.local_presentation_selector,
                called_presentation_selector=cfg.remote_presentation_selector,
                calling_session_selector=cfg.local_session_selector,
                called_session_selector=cfg.remote_session_selector,
            )
        )
        self.state = AssociationState.ASSOCIATING

    def _on_confirm(self, ev: stack.AssociateConfirm) -> list[Event]:
        aare = ev.aare
        if aare.result != acse.AssociateResult.ACCEPTED:
            detail = f"AARE result {aare.result}, diagnostic {aare.diagnostic}"
            return [self._close(CloseReason.REJECTED, detail, aare)]
        if aare.user_information is None:
            return [self._abort_with(CloseReason.PROTOCOL_ERROR, "AARE without MMS PDU")]
        try:
            pdu = decode_pdu(aare.user_information)
        except MmsDecodeError as exc:
            return [self._abort_with(CloseReason.PROTOCOL_ERROR, f"Initiate-Response: {exc}")]
        if isinstance(pdu, InitiateError):
            return [self._close(CloseReason.REJECTED, f"Initiate-Error {pdu.error}")]
        if not isinstance(pdu, InitiateResponse):
            return [self._abort_with(CloseReason.PROTOCOL_ERROR, "AARE carries no Initiate")]
        cfg = self.config
        local_detail = pdu.local_detail if pdu.local_detail is not None else cfg.max_pdu_size
        params = NegotiatedParameters(
            max_pdu_size=min(local_detail, cfg.max_pdu_size),
            max_serv_outstanding_calling=max(
                1, min(pdu.max_serv_outstanding_calling, cfg.max_serv_outstanding_calling)
            ),
            max_serv_outstanding_called=max(
                1, min(pdu.max_serv_outstanding_called, cfg.max_serv_outstanding_called)
            ),
            nesting_level=pdu.nesting_level,
            version=pdu.version,
            parameter_cbb=pdu.parameter_cbb,
            peer_services=pdu.services_supported,
            tpdu_size=self._tpdu_size,
        )
        self.parameters = params
        self.peer_ap_title = aare.responding_ap_title
        self.peer_ae_qualifier = aare.responding_ae_qualifier
        self.state = AssociationState.ASSOCIATED
        return [AssociationEstablished(params, aare)]

    # ------------------------------------------------------------------ responder

    def _on_connect(self, ev: stack.AssociateIndication) -> list[Event]:
        neg = ev.negotiation
        if neg.acse_context_id is None or neg.mms_context_id is None:
            self._send_tsdu(
                stack.wrap_refuse(None, neg, presentation.RefuseReason.LOCAL_LIMIT_EXCEEDED)
            )
            return [self._close(CloseReason.REFUSED, "ACSE or MMS presentation context missing")]
        self._acse_ctx = neg.acse_context_id
        self._mms_ctx = neg.mms_context_id
        aarq = ev.aarq
        self.aarq = aarq
        self.peer_ap_title = aarq.calling_ap_title
        self.peer_ae_qualifier = aarq.calling_ae_qualifier
        initiate: MmsPdu | None = None
        try:
            if aarq.user_information is not None:
                initiate = decode_pdu(aarq.user_information)
        except MmsDecodeError:
            initiate = None
        if not isinstance(initiate, InitiateRequest):
            error = InitiateError(ServiceError(ErrorClass.INITIATE, InitiateCode.OTHER))
            self._refuse_with(ev, acse.UserDiagnostic.NO_REASON_GIVEN, encode_pdu(error))
            return [self._close(CloseReason.REFUSED, "AARQ without a valid Initiate-Request")]
        self._pending = _Pending(ev, initiate)
        self.state = AssociationState.ASSOCIATING
        cr = self._cr
        return [
            AssociationRequested(
                aarq,
                initiate,
                cr.calling_tsap if cr is not None else None,
                cr.called_tsap if cr is not None else None,
            )
        ]

    def _refuse_with(
        self, ev: stack.AssociateIndication, diagnostic: int, user_information: bytes | None
    ) -> None:
        aare = acse.Aare(
            result=acse.AssociateResult.REJECTED_PERMANENT,
            diagnostic=diagnostic,
            user_information=user_information,
            responding_ap_title=self.config.local_ap_title,
            responding_ae_qualifier=self.config.local_ae_qualifier,
            user_information_context_id=self._mms_ctx,
        )
        self._send_tsdu(stack.wrap_refuse(aare, ev.negotiation))

    def accept(self, initiate: InitiateResponse | None = None) -> NegotiatedParameters:
        """Responder: accept the pending request; returns the negotiated parameters.

        ``initiate`` overrides this end's limits (defaults come from the config); the
        answer is the negotiation of the peer's proposal against them.
        """
        pending = self._pending
        if self.role is not Role.RESPONDER or pending is None:
            raise AssociationError("accept() needs a pending association request")
        cfg = self.config
        own = initiate or InitiateResponse(
            max_serv_outstanding_calling=cfg.max_serv_outstanding_calling,
            max_serv_outstanding_called=cfg.max_serv_outstanding_called,
            local_detail=cfg.max_pdu_size,
            nesting_level=cfg.nesting_level,
            parameter_cbb=cfg.parameter_cbb,
            services_supported=cfg.services_supported,
        )
        response = negotiate(pending.initiate, own)
        response = InitiateResponse(
            max(1, response.max_serv_outstanding_calling),
            max(1, response.max_serv_outstanding_called),
            response.local_detail if response.local_detail is not None else cfg.max_pdu_size,
            response.nesting_level,
            response.version,
            response.parameter_cbb,
            response.services_supported,
        )
        aare = acse.Aare(
            user_information=encode_pdu(response),
            responding_ap_title=cfg.local_ap_title,
            responding_ae_qualifier=cfg.local_ae_qualifier,
            user_information_context_id=self._mms_ctx,
        )
        ind = pending.indication
        self._send_tsdu(
            stack.wrap_aare(
                aare,
                ind.negotiation,
                responding_presentation_selector=cfg.local_presentation_selector,
                responding_session_selector=ind.spdu.called_selector or cfg.local_session_selector,
                protocol_options=ind.spdu.protocol_options,
            )
        )
        assert response.local_detail is not None
        self.parameters = NegotiatedParameters(
            max_pdu_size=response.local_detail,
            max_serv_outstanding_calling=response.max_serv_outstanding_calling,
            max_serv_outstanding_called=response.max_serv_outstanding_called,
            nesting_level=response.nesting_level,
            version=response.version,
            parameter_cbb=response.parameter_cbb,
            peer_services=pending.initiate.services_supported,
            tpdu_size=self._tpdu_size,
        )
        self._pending = None
        self.state = AssociationState.ASSOCIATED
        return self.parameters

    def refuse(self, diagnostic: int = acse.UserDiagnostic.NO_REASON_GIVEN) -> None:
        """Responder: refuse the pending request with an ACSE service-user diagnostic."""
        pending = self._pending
        if self.role is not Role.RESPONDER or pending is None:
            raise AssociationError("refuse() needs a pending association request")
        self._refuse_with(pending.indication, diagnostic, None)
        self._close(CloseReason.REFUSED, f"diagnostic {diagnostic}")

    # ------------------------------------------------------------------ data phase, outgoing

    def send_pdu(self, pdu: MmsPdu) -> None:
        """Queue one MMS PDU of the data phase.

        Raises :class:`PduTooLargeError` when it exceeds the negotiated PDU size and
        :class:`OutstandingLimitError` when a request would exceed maxServOutstanding;
        in both cases nothing is queued.
        """
        if self.state not in (AssociationState.ASSOCIATED, AssociationState.RELEASING):
            raise AssociationError(f"cannot send MMS PDUs in state {self.state.value}")
        params = self.parameters
        assert params is not None
        if isinstance(pdu, ConfirmedRequest):
            self._check_request(pdu.invoke_id)
        raw = encode_pdu(pdu)
        if len(raw) > params.max_pdu_size:
            raise PduTooLargeError(len(raw), params.max_pdu_size)
        if isinstance(pdu, ConfirmedRequest):
            self._outstanding.sent.add(pdu.invoke_id)
            self._outstanding.abandoned.discard(pdu.invoke_id)
        elif isinstance(pdu, ConfirmedResponse | ConfirmedError):
            self._outstanding.received.discard(pdu.invoke_id)
        elif isinstance(pdu, Reject) and pdu.original_invoke_id is not None:
            self._outstanding.received.discard(pdu.original_invoke_id)
        self._send_tsdu(stack.wrap_data(raw, self._mms_ctx))

    def _check_request(self, invoke_id: int) -> None:
        if self.state is AssociationState.RELEASING:
            raise AssociationError("no new requests while the association is releasing")
        if len(self._outstanding.sent) >= self.request_limit:
            raise OutstandingLimitError(
                f"{len(self._outstanding.sent)} requests outstanding, "
                f"negotiated maximum {self.request_limit}"
            )
        if invoke_id in self._outstanding.sent:
            raise AssociationError(f"invokeID {invoke_id} is already outstanding")

    def send_encoded(self, raw: bytes) -> None:
        """Queue an already encoded unconfirmed PDU (e.g. a fast-path report); size-checked."""
        if self.state is not AssociationState.ASSOCIATED:
            raise AssociationError(f"cannot send MMS PDUs in state {self.state.value}")
        assert self.parameters is not None
        if not raw or raw[0] != 0xA3:
            raise AssociationError("send_encoded() takes unconfirmed PDUs only")
        if len(raw) > self.parameters.max_pdu_size:
            raise PduTooLargeError(len(raw), self.parameters.max_pdu_size)
        self._send_tsdu(stack.wrap_data(raw, self._mms_ctx))

    def forget_request(self, invoke_id: int) -> None:
        """Stop waiting for ``invoke_id`` (timed out); a late answer is dropped silently."""
        if invoke_id in self._outstanding.sent:
            self._outstanding.sent.discard(invoke_id)
            if len(self._outstanding.abandoned) >= _MAX_ABANDONED:
                self._outstanding.abandoned.clear()
            self._outstanding.abandoned.add(invoke_id)

    def conclude(self) -> None:
        """Send MMS Conclude; the ACSE release (FN) follows its positive response."""
        if self.state is not AssociationState.ASSOCIATED:
            raise AssociationError(f"cannot conclude in state {self.state.value}")
        if self._outstanding.sent:
            raise AssociationError("cannot conclude with requests outstanding")
        self._send_data(ConcludeRequest())
        self._concluding = True
        self.state = AssociationState.RELEASING

    def release(self) -> None:
        """Send the ACSE release request (session FN) without an MMS Conclude first."""
        if self.state not in (AssociationState.ASSOCIATED, AssociationState.RELEASING):
            raise AssociationError(f"cannot release in state {self.state.value}")
        self._send_tsdu(stack.wrap_release_request(acse.Rlrq(), self._acse_ctx))
        self.state = AssociationState.RELEASING

    def abort(self, detail: str = "") -> None:
        """Abort: send AB( ARU( ABRT ) ) when associated, then the transport must close."""
        if self.state is AssociationState.CLOSED:
            return
        self._abort_with(CloseReason.LOCAL_ABORT, detail)

    def _abort_with(self, reason: CloseReason, detail: str) -> AssociationClosed:
        if self.state in (
            AssociationState.ASSOCIATING,
            AssociationState.ASSOCIATED,
            AssociationState.RELEASING,
        ):
            self._send_tsdu(stack.wrap_abort(acse.Abrt(), self._acse_ctx))
        return self._close(reason, detail)

    def connection_lost(self, detail: str = "") -> list[Event]:
        """The transport closed under us; returns the closing event (once)."""
        if self.state is AssociationState.CLOSED:
            return []
        self._out.clear()
        if self._peer_concluded:
            # libiec61850 and others may close the transport right after Conclude, before
            # (or instead of) the ACSE release: the peer ended the association in order.
            return [self._close(CloseReason.RELEASED, "concluded by peer; transport closed")]
        return [self._close(CloseReason.CONNECTION_LOST, detail)]

    def _send_data(self, pdu: MmsPdu) -> None:
        self._send_tsdu(stack.wrap_data(encode_pdu(pdu), self._mms_ctx))

    # ------------------------------------------------------------------ incoming

    def receive_bytes(self, data: bytes) -> list[Event]:
        """Process bytes from the transport; return what happened, in order.

        While a responder's association request awaits :meth:`accept` or :meth:`refuse`,
        the bytes are held (up to the TSDU limit) and nothing is reported.
        """
        if self.state is AssociationState.CLOSED:
            return []
        if self._pending is not None:
            self._hold(data)
            return []
        events: list[Event] = []
        if self._held.events or self._held.data:
            events = self.resume()
            if self.closed:
                return events
        if (
            self.prepare_read is not None
            and self.state is AssociationState.ASSOCIATED
            and self._receiver.idle
            and not self._outstanding.received  # nothing overtakes the shell's answers
        ):
            taken = self._answer_reads(data)
            if taken == len(data):
                return events
            data = data[taken:]
        try:
            transport_events = self._receiver.feed(data)
        except IsoError as exc:
            events.append(self._close(CloseReason.PROTOCOL_ERROR, str(exc)))
            return events
        events.extend(self._process(transport_events))
        return events

    def _answer_reads(self, data: bytes) -> int:
        """Answer the leading whole frames of ``data`` that are Reads :attr:`prepare_read`
        takes, until the answers reach :data:`_FAST_OUTPUT_LIMIT` (the rest goes through the
        layers, whose answers the shell paces); return how many octets were taken."""
        last = self._last_read
        if last is not None:
            frame = last.answer_again(data)
            if frame is not None:  # the same frame in and out but for the invokeID
                self._out.append(frame)
                self._receiver.passed(len(data))
                return len(data)
        self._last_read = None
        pos, end = 0, len(data)
        limit = self._receiver.max_tpkt_length
        produced = 0
        while pos < end and produced < _FAST_OUTPUT_LIMIT:
            length = data_frame.frame_length(data, pos)
            stop = pos + length
            if not length or length > limit or stop > end:
                break
            read = None
            for repeat in self._repeats.get(data[stop - REPEAT_KEY_SIZE : stop], ()):
                invoke_id = repeat.invoke_id(data, pos, stop)
                if invoke_id is not None:  # a Read seen before but for its invokeID
                    read = repeat, invoke_id
                    break
            else:
                span = data_frame.frame_pdu(data, pos, stop, self._mms_ctx)
                read = None if span is None else self._parsed_read(data, pos, *span)
            if read is None:
                break
            repeat, invoke_id = read
            frame = self._answer(repeat.kept, invoke_id)
            if frame is None:
                break
            produced += len(frame)
            if len(frame) - tpkt.HEADER_SIZE <= self._tpdu_size:
                self._out.append(frame)
                self._last_read = repeat if pos == 0 and stop == end else None
            else:
                self._send_tsdu(frame[tpkt.HEADER_SIZE + 3 :])  # cut into DT segments
            pos = stop
        self._receiver.passed(pos)
        return pos

    def _parsed_read(
        self, data: bytes, pos: int, start: int, end: int
    ) -> tuple[RepeatedRead, bytes] | None:
        """The Read frame and invokeID (minimal octets) of the PDU ``data[start:end]`` (of the
        frame from ``pos``), when the fast path may take it; the frame is kept to be
        recognised again."""
        params = self.parameters
        assert params is not None
        if end - start > params.max_pdu_size:
            return None
        head = confirmed_request_head(data, start, end)
        if head is None:
            return None
        invoke_id, invoke_start, service = head
        key = data[service:end]
        kept = self._reads.get(key)
        if kept is None:
            request = parse_read_service(data, service, end)
            if request is None:
                return None
            if len(self._reads) >= _MAX_KEPT_READS:
                self._reads.clear()
                self._repeats.clear()  # which would keep the old KeptReads alive
            kept = self._reads[key] = KeptRead(request)
        if len(self._repeats) >= _MAX_KEPT_READS:
            self._repeats.clear()
        alike = self._repeats.setdefault(data[end - REPEAT_KEY_SIZE : end], [])
        repeat = RepeatedRead(data[pos:end], invoke_start - pos, service - pos, kept)
        alike.insert(0, repeat)
        del alike[_REPEATS_ALIKE:]
        return repeat, encode_unsigned(invoke_id)

    def _answer(self, kept: KeptRead, invoke_id: bytes) -> bytes | None:
        """The answer frame to ``kept``'s Read under the invokeID of minimal octets
        ``invoke_id`` (one TPKT, whatever its size), or None when the general path must
        take it (a declined or failed read, an answer over the PDU size): the general path
        would accept the request and answer it with these values."""
        params = self.parameters
        assert params is not None and self.prepare_read is not None
        try:
            results = None if kept.reader is None else kept.reader()
            if results is None:  # not prepared yet, or out of date
                kept.reader = self.prepare_read(kept.request)
                results = None if kept.reader is None else kept.reader()
                if results is None:
                    return None
            frame = kept.answer(invoke_id, results, self._mms_ctx)
        except Exception:  # the general path meets it again and says what went wrong
            return None
        return frame if kept.pdu_size <= params.max_pdu_size else None

    def resume(self) -> list[Event]:
        """Responder, after :meth:`accept`: the events of what arrived behind the request.

        The shell calls it once it has decided (nothing is held after :meth:`refuse`).
        """
        if self._pending is not None:
            raise AssociationError("resume() comes after accept() or refuse()")
        held, self._held = self._held, _Held()
        if self.closed:
            return []
        events = self._process(held.events)
        if held.data and not self.closed:
            events.extend(self.receive_bytes(bytes(held.data)))
        if held.overflow and not self.closed:
            events.append(
                self._abort_with(
                    CloseReason.PROTOCOL_ERROR,
                    f"{len(held.data) + held.overflow} octets sent before the association "
                    f"request was answered (limit {self.config.tsdu_limit})",
                )
            )
        return events

    def _hold(self, data: bytes) -> None:
        held = self._held
        room = self.config.tsdu_limit - len(held.data)
        if len(data) > room or held.overflow:
            held.overflow += len(data)
        else:
            held.data += data

    def _process(self, transport_events: list[stack.TransportEvent]) -> list[Event]:
        events: list[Event] = []
        for i, tev in enumerate(transport_events):
            if self.closed:
                break
            if self._pending is not None:  # the shell decides before anything else counts
                self._held.events = transport_events[i:]
                break
            try:
                events.extend(self._on_transport(tev))
            except (IsoError, BerError) as exc:
                events.append(self._close(CloseReason.PROTOCOL_ERROR, str(exc)))
        return events

    def _on_transport(self, tev: stack.TransportEvent) -> list[Event]:
        if isinstance(tev, stack.TsduReceived):
            return self._on_tsdu(tev.data)
        if isinstance(tev, cotp.ConnectionRequest):
            if self.role is not Role.RESPONDER or self.state is not AssociationState.IDLE:
                return [self._close(CloseReason.PROTOCOL_ERROR, "unexpected COTP CR")]
            cc = cotp.accept_connection(tev, own_max_tpdu_size=self.config.tpdu_size)
            self._cr = tev
            self._tpdu_size = cc.tpdu_size or cotp.DEFAULT_TPDU_SIZE
            self._out.append(stack.tpdu_frame(cc))
            self.state = AssociationState.COTP_OPEN
            return [TransportConnected(self._tpdu_size)]
        if isinstance(tev, cotp.ConnectionConfirm):
            if self.role is not Role.INITIATOR or self.state is not AssociationState.IDLE:
                return [self._close(CloseReason.PROTOCOL_ERROR, "unexpected COTP CC")]
            requested = self._cr.tpdu_size if self._cr is not None else None
            self._tpdu_size = cotp.agreed_tpdu_size(requested, tev.tpdu_size)
            self.state = AssociationState.COTP_OPEN
            self._send_aarq()
            return [TransportConnected(self._tpdu_size)]
        if isinstance(tev, cotp.DisconnectRequest):
            return [self._close(CloseReason.TRANSPORT_REFUSED, f"COTP DR reason {tev.reason}")]
        return [self._close(CloseReason.PROTOCOL_ERROR, f"COTP ER cause {tev.cause}")]

    def _on_tsdu(self, tsdu: bytes) -> list[Event]:
        if self.state is AssociationState.IDLE:
            return [self._close(CloseReason.PROTOCOL_ERROR, "data before COTP connection")]
        if tsdu[:1] == b"\x01" and self.state in (
            AssociationState.ASSOCIATED,
            AssociationState.RELEASING,
        ):
            ind: stack.UpperLayerEvent = stack.unwrap_data(tsdu)
        else:
            ind = stack.unwrap(tsdu)
        if isinstance(ind, stack.DataIndication):
            if self.state not in (AssociationState.ASSOCIATED, AssociationState.RELEASING):
                return [self._close(CloseReason.PROTOCOL_ERROR, "data outside the data phase")]
            if ind.context_id != self._mms_ctx:
                return [
                    self._abort_with(
                        CloseReason.PROTOCOL_ERROR, f"data in presentation context {ind.context_id}"
                    )
                ]
            return self._on_mms(ind.pdu)
        if isinstance(ind, stack.AssociateIndication):
            if self.role is not Role.RESPONDER or self.state is not AssociationState.COTP_OPEN:
                return [self._close(CloseReason.PROTOCOL_ERROR, "unexpected CONNECT")]
            return self._on_connect(ind)
        if isinstance(ind, stack.AssociateConfirm):
            if self.role is not Role.INITIATOR or self.state is not AssociationState.ASSOCIATING:
                return [self._close(CloseReason.PROTOCOL_ERROR, "unexpected ACCEPT")]
            return self._on_confirm(ind)
        if isinstance(ind, stack.AssociateRefused):
            detail = "REFUSE"
            if ind.aare is not None:
                detail += f" diagnostic {ind.aare.diagnostic}"
            return [self._close(CloseReason.REJECTED, detail, ind.aare)]
        if isinstance(ind, stack.ReleaseIndication):
            if self.state not in (AssociationState.ASSOCIATED, AssociationState.RELEASING):
                return [self._close(CloseReason.PROTOCOL_ERROR, "FINISH outside the data phase")]
            self._send_tsdu(stack.wrap_release_response(None, self._acse_ctx))
            return [self._close(CloseReason.RELEASED, "released by peer")]
        if isinstance(ind, stack.ReleaseConfirm):
            if self.state is not AssociationState.RELEASING:
                return [self._close(CloseReason.PROTOCOL_ERROR, "unexpected DISCONNECT")]
            return [self._close(CloseReason.RELEASED, "released")]
        return [self._close(CloseReason.PEER_ABORTED, "ABORT from peer")]

    # ------------------------------------------------------------------ MMS data phase

    def _reject(self, code: IntEnum, invoke_id: int | None) -> None:
        self._send_data(Reject(REJECT_KINDS[type(code)], code, invoke_id))

    def _on_mms(self, raw: bytes) -> list[Event]:
        params = self.parameters
        assert params is not None
        if (
            self.config.raw_unconfirmed
            and raw[:1] == _UNCONFIRMED
            and len(raw) <= params.max_pdu_size
        ):
            return [UnconfirmedReceived(raw)]
        try:
            pdu = decode_pdu(raw)
        except MmsDecodeError as exc:
            return self._on_undecodable(raw, exc)
        if len(raw) > params.max_pdu_size:
            if isinstance(pdu, ConfirmedRequest):
                err = ServiceError(ErrorClass.SERVICE, ServiceCode.PDU_SIZE)
                self._send_data(ConfirmedError(pdu.invoke_id, err))
                return []
            return [
                self._abort_with(
                    CloseReason.PROTOCOL_ERROR,
                    f"MMS PDU of {len(raw)} octets exceeds the negotiated {params.max_pdu_size}",
                )
            ]
        if isinstance(pdu, ConfirmedRequest):
            return self._on_request(pdu)
        if isinstance(pdu, ConfirmedResponse | ConfirmedError):
            return self._on_answer(pdu, pdu.invoke_id)
        if isinstance(pdu, Reject):
            if pdu.original_invoke_id is not None:
                self._outstanding.sent.discard(pdu.original_invoke_id)
            return [PduReceived(pdu)]
        if isinstance(pdu, ConcludeRequest):
            return self._on_conclude_request()
        if isinstance(pdu, ConcludeResponse):
            if not self._concluding:
                self._reject(ConcludeResponseReject.OTHER, None)
                return []
            self._concluding = False
            self._send_tsdu(stack.wrap_release_request(acse.Rlrq(), self._acse_ctx))
            return []
        if isinstance(pdu, ConcludeError):
            if not self._concluding:
                return []
            self._concluding = False
            self.state = AssociationState.ASSOCIATED
            return [ConcludeRefused(pdu.error)]
        if isinstance(pdu, CancelRequest):
            err = ServiceError(ErrorClass.CANCEL, CancelCode.CANCEL_NOT_POSSIBLE)
            self._send_data(CancelError(pdu.invoke_id, err))
            return []
        if isinstance(pdu, InitiateRequest | InitiateResponse | InitiateError):
            self._reject(PduErrorReject.INVALID_PDU, None)
            return []
        return [PduReceived(pdu)]

    def _on_undecodable(self, raw: bytes, exc: MmsDecodeError) -> list[Event]:
        tag = raw[0] if raw else -1
        iid = exc.invoke_id
        if tag == 0xA0:
            if iid is not None:
                self._reject(ConfirmedRequestReject.INVALID_ARGUMENT, iid)
            else:
                self._reject(PduErrorReject.INVALID_PDU, None)
            return []
        if tag in (0xA1, 0xA2) and iid is not None and iid in self._outstanding.sent:
            self._outstanding.sent.discard(iid)
            if tag == 0xA1:
                self._reject(ConfirmedResponseReject.INVALID_RESULT, iid)
            else:
                self._reject(ConfirmedErrorReject.INVALID_SERVICE_ERROR, iid)
            return [ResponseUndecodable(iid, exc)]
        if tag in _KNOWN_PDU_TAGS:
            self._reject(PduErrorReject.INVALID_PDU, iid)
        else:
            self._reject(PduErrorReject.UNKNOWN_PDU_TYPE, None)
        return []

    def _on_request(self, pdu: ConfirmedRequest) -> list[Event]:
        iid = pdu.invoke_id
        if self.state is AssociationState.RELEASING:
            err = ServiceError(ErrorClass.SERVICE, ServiceCode.PRIMITIVES_OUT_OF_SEQUENCE)
            self._send_data(ConfirmedError(iid, err))
            return []
        if isinstance(pdu.service, OtherService):
            self._reject(ConfirmedRequestReject.UNRECOGNIZED_SERVICE, iid)
            return []
        if iid in self._outstanding.received:
            self._reject(ConfirmedRequestReject.INVALID_INVOKE_ID, iid)
            return []
        if len(self._outstanding.received) >= self.indication_limit:
            self._reject(
                ConfirmedRequestReject.MAX_SERV_OUTSTANDING_EXCEEDED,
                iid,
            )
            return []
        self._outstanding.received.add(iid)
        return [PduReceived(pdu)]

    def _on_answer(self, pdu: ConfirmedResponse | ConfirmedError, iid: int) -> list[Event]:
        if iid in self._outstanding.sent:
            self._outstanding.sent.discard(iid)
            return [PduReceived(pdu)]
        if iid in self._outstanding.abandoned:
            self._outstanding.abandoned.discard(iid)
            return []
        if isinstance(pdu, ConfirmedResponse):
            self._reject(ConfirmedResponseReject.INVALID_INVOKE_ID, iid)
        else:
            self._reject(ConfirmedErrorReject.INVALID_INVOKE_ID, iid)
        return []

    def _on_conclude_request(self) -> list[Event]:
        if self._outstanding.received or self.state is not AssociationState.ASSOCIATED:
            err = ServiceError(ErrorClass.CONCLUDE, ConcludeCode.FURTHER_COMMUNICATION_REQUIRED)
            self._send_data(ConcludeError(err))
            return []
        self._send_data(ConcludeResponse())
        self.state = AssociationState.RELEASING
        self._peer_concluded = True
        return [ConcludeRequested()]
