"""The upper-layer stack as a whole: build outgoing TSDUs and unwrap incoming ones.

Outgoing: ``wrap_*`` functions nest ACSE / MMS bytes in presentation and session PDUs and
return one TSDU; :func:`tsdu_frames` cuts a TSDU into TPKT-framed COTP DTs ready to write.
Incoming: :class:`TransportReceiver` turns the TCP byte stream into COTP events and whole
TSDUs; :func:`unwrap` turns one TSDU into an association or data event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters.tase2.iso import acse, cotp, presentation, session, tpkt
from adapters.tase2.iso.errors import PresentationError, SessionError

__all__ = [
    "AbortIndication",
    "AssociateConfirm",
    "AssociateIndication",
    "AssociateRefused",
    "DataIndication",
    "ReleaseConfirm",
    "ReleaseIndication",
    "TransportReceiver",
    "TsduReceived",
    "UpperLayerEvent",
    "tpdu_frame",
    "tsdu_frames",
    "unwrap",
    "unwrap_data",
    "wrap_aare",
    "wrap_aarq",
    "wrap_abort",
    "wrap_data",
    "wrap_refuse",
    "wrap_release_request",
    "wrap_release_response",
]


# --------------------------------------------------------------------------- transport


def tpdu_frame(tpdu: cotp.Tpdu) -> bytes:
    """One COTP TPDU in its TPKT frame (e.g. a CR or CC)."""
    return tpkt.encode_tpkt(cotp.encode_tpdu(tpdu))


def tsdu_frames(tsdu: bytes, tpdu_size: int) -> list[bytes]:
    """TPKT-framed DT-TPDUs carrying ``tsdu``; write them all without interleaving."""
    return [tpkt.encode_tpkt(dt) for dt in cotp.segment_tsdu(tsdu, tpdu_size)]


@dataclass(frozen=True, slots=True)
class TsduReceived:
    """A complete TSDU (all DT segments up to EOT joined)."""

    data: bytes


TransportEvent = (
    cotp.ConnectionRequest
    | cotp.ConnectionConfirm
    | cotp.DisconnectRequest
    | cotp.TpduError
    | TsduReceived
)


class TransportReceiver:
    """TCP bytes in, COTP connection TPDUs and whole TSDUs out (bounded at every step)."""

    __slots__ = ("_reassembler", "_tpkt", "idle", "max_tpkt_length", "passed")

    def __init__(self, max_tpkt_length: int = 65535, max_tsdu_size: int = 1 << 20) -> None:
        self._tpkt = tpkt.TpktReassembler(max_tpkt_length)
        self._reassembler = cotp.TsduReassembler(max_tsdu_size)
        self.max_tpkt_length = max_tpkt_length
        """The longest TPKT packet accepted."""
        self.idle = True
        """True between whole TSDUs: nothing of a packet or TSDU is held, and no error."""
        self.passed: Callable[[int], None] = self._tpkt.passed
        """Called with the size of whole packets handled without :meth:`feed` (a fast
        path, while :attr:`idle`): they are counted, so error offsets stay right."""

    def feed(self, data: bytes) -> list[TransportEvent]:
        """Process received bytes; return the events they complete, in order."""
        events: list[TransportEvent] = []
        try:
            for payload in self._tpkt.feed(data):
                tpdu = cotp.decode_tpdu(payload)
                if isinstance(tpdu, cotp.DataTpdu):
                    tsdu = self._reassembler.feed(tpdu)
                    if tsdu is not None:
                        events.append(TsduReceived(tsdu))
                else:
                    events.append(tpdu)
        finally:
            self.idle = self._tpkt.idle and not self._reassembler.pending
        return events


# --------------------------------------------------------------------------- outgoing


def wrap_aarq(
    aarq: acse.Aarq,
    mms_context_id: int = 3,
    acse_context_id: int = 1,
    calling_presentation_selector: bytes = presentation.DEFAULT_SELECTOR,
    called_presentation_selector: bytes = presentation.DEFAULT_SELECTOR,
    calling_session_selector: bytes = b"\x00\x01",
    called_session_selector: bytes = b"\x00\x01",
) -> bytes:
    """CN( CP( AARQ ) ) proposing the ACSE and MMS contexts."""
    if aarq.user_information is not None and aarq.user_information_context_id != mms_context_id:
        raise ValueError("AARQ user-information must reference the MMS context")
    cp = presentation.ConnectPpdu(
        contexts=presentation.default_contexts(acse_context_id, mms_context_id),
        user_data=(presentation.PresentationDataValue(acse_context_id, acse.encode_apdu(aarq)),),
        calling_selector=calling_presentation_selector,
        called_selector=called_presentation_selector,
    )
    return session.encode_spdu(
        session.ConnectSpdu(
            presentation.encode_connect(cp),
            calling_selector=calling_session_selector,
            called_selector=called_session_selector,
        )
    )


def wrap_aare(
    aare: acse.Aare,
    negotiation: presentation.ContextNegotiation,
    responding_presentation_selector: bytes = presentation.DEFAULT_SELECTOR,
    responding_session_selector: bytes = b"\x00\x01",
    protocol_options: int = 0,
) -> bytes:
    """AC( CPA( AARE ) ) answering a CN/CP whose contexts gave ``negotiation``."""
    acse_id = negotiation.acse_context_id
    if acse_id is None:
        raise ValueError("the ACSE context was not accepted; send a refusal instead")
    cpa = presentation.AcceptPpdu(
        results=negotiation.results,
        user_data=(presentation.PresentationDataValue(acse_id, acse.encode_apdu(aare)),),
        responding_selector=responding_presentation_selector,
    )
    return session.encode_spdu(
        session.AcceptSpdu(
            presentation.encode_accept(cpa),
            responding_selector=responding_session_selector,
            protocol_options=protocol_options,
        )
    )


def wrap_refuse(
    aare: acse.Aare | None,
    negotiation: presentation.ContextNegotiation,
    provider_reason: presentation.RefuseReason | None = None,
) -> bytes:
    """RF( CPR( [AARE] ) ): refuse an association at presentation level."""
    acse_id = negotiation.acse_context_id
    user: tuple[presentation.PresentationDataValue, ...] = ()
    if aare is not None and acse_id is not None:
        user = (presentation.PresentationDataValue(acse_id, acse.encode_apdu(aare)),)
    cpr = presentation.RefusePpdu(
        results=negotiation.results, user_data=user, provider_reason=provider_reason
    )
    return session.encode_spdu(session.RefuseSpdu(presentation.encode_refuse(cpr)))


def wrap_data(pdu: bytes, context_id: int = 3, give_tokens: bool = True) -> bytes:
    """The data TSDU ``01 00 01 00`` + P-DATA(``context_id``, ``pdu``)."""
    head = b"\x01\x00\x01\x00" if give_tokens else b"\x01\x00"
    return head + presentation.encode_data(context_id, pdu)


def wrap_release_request(rlrq: acse.Rlrq | None = None, acse_context_id: int = 1) -> bytes:
    """FN( P-DATA( RLRQ ) )."""
    user = presentation.encode_data(acse_context_id, acse.encode_apdu(rlrq or acse.Rlrq()))
    return session.encode_spdu(session.FinishSpdu(user))


def wrap_release_response(rlre: acse.Rlre | None = None, acse_context_id: int = 1) -> bytes:
    """DN( P-DATA( RLRE ) ); the default RLRE is the empty ``63 00`` libiec61850 sends."""
    user = presentation.encode_data(
        acse_context_id, acse.encode_apdu(rlre or acse.Rlre(reason=None))
    )
    return session.encode_spdu(session.DisconnectSpdu(user))


def wrap_abort(abrt: acse.Abrt | None = None, acse_context_id: int = 1) -> bytes:
    """AB( ARU( ABRT ) )."""
    pdv = presentation.PresentationDataValue(acse_context_id, acse.encode_apdu(abrt or acse.Abrt()))
    aru = presentation.encode_abort(presentation.UserAbortPpdu((pdv,)))
    return session.encode_spdu(session.AbortSpdu(aru))


# --------------------------------------------------------------------------- incoming


@dataclass(frozen=True, slots=True)
class AssociateIndication:
    """An incoming CN/CP/AARQ; ``negotiation`` is the context outcome to answer with."""

    spdu: session.ConnectSpdu
    ppdu: presentation.ConnectPpdu
    negotiation: presentation.ContextNegotiation
    aarq: acse.Aarq


@dataclass(frozen=True, slots=True)
class AssociateConfirm:
    """An incoming AC/CPA/AARE (look at ``aare.result``: the peer may still have refused)."""

    spdu: session.AcceptSpdu
    ppdu: presentation.AcceptPpdu
    aare: acse.Aare


@dataclass(frozen=True, slots=True)
class AssociateRefused:
    """An incoming RF, with the CPR and the AARE inside it when present."""

    spdu: session.RefuseSpdu
    ppdu: presentation.RefusePpdu | None
    aare: acse.Aare | None


@dataclass(frozen=True, slots=True)
class DataIndication:
    """Upper-layer data: ``pdu`` (normally an MMS PDU) in context ``context_id``."""

    context_id: int
    pdu: bytes


@dataclass(frozen=True, slots=True)
class ReleaseIndication:
    """An incoming FN carrying an RLRQ."""

    rlrq: acse.Rlrq | None


@dataclass(frozen=True, slots=True)
class ReleaseConfirm:
    """An incoming DN carrying an RLRE."""

    rlre: acse.Rlre | None


@dataclass(frozen=True, slots=True)
class AbortIndication:
    """An incoming AB (or AA): ABRT from the peer's ACSE, or a presentation provider abort."""

    abrt: acse.Abrt | None = None
    provider_abort: presentation.ProviderAbortPpdu | None = None


UpperLayerEvent = (
    AssociateIndication
    | AssociateConfirm
    | AssociateRefused
    | DataIndication
    | ReleaseIndication
    | ReleaseConfirm
    | AbortIndication
)


def _acse_in(pdvs: tuple[presentation.PresentationDataValue, ...]) -> acse.AcseApdu | None:
    """The ACSE APDU in the first PDV, if any."""
    return acse.decode_apdu(pdvs[0].value) if pdvs else None


def _typed(apdu: acse.AcseApdu | None, kind: type[acse.AcseApdu], where: str) -> None:
    if apdu is not None and not isinstance(apdu, kind):
        raise PresentationError(f"{where} carries {type(apdu).__name__}", 0)


def unwrap_data(tsdu: bytes) -> DataIndication:
    """Fast path for a data TSDU: session DT + P-DATA -> (context id, PDU bytes)."""
    spdu = session.decode_spdu(tsdu)
    if not isinstance(spdu, session.DataSpdu):
        raise SessionError(f"expected DATA TRANSFER, got {type(spdu).__name__}", 0)
    return _data_indication(spdu.user_data)


def _data_indication(user_data: bytes) -> DataIndication:
    """P-DATA user data -> (context id, PDU bytes); single-ASN1-type BER only."""
    pdv = presentation.decode_data(user_data)
    if pdv.transfer_syntax not in (None, presentation.BER_TRANSFER_SYNTAX):
        raise PresentationError(f"transfer syntax {pdv.transfer_syntax} is not BER", 0)
    if pdv.encoding != presentation.SINGLE_ASN1_TYPE:
        raise PresentationError("only single-ASN1-type presentation data is supported", 0)
    return DataIndication(pdv.context_id, pdv.value)


def unwrap(tsdu: bytes) -> UpperLayerEvent:
    """Decode one incoming TSDU through session, presentation and ACSE."""
    spdu = session.decode_spdu(tsdu)
    if isinstance(spdu, session.DataSpdu):
        return _data_indication(spdu.user_data)
    if isinstance(spdu, session.ConnectSpdu):
        session.negotiate_version(spdu.version)  # any version field with bit 2 set
        cp = presentation.decode_connect(spdu.user_data)
        negotiation = presentation.negotiate_contexts(cp.contexts)
        if not cp.user_data:
            raise PresentationError("CP-type without user data (no AARQ)", 0)
        aarq = acse.decode_apdu(cp.user_data[0].value)
        if not isinstance(aarq, acse.Aarq):
            raise PresentationError(f"CP-type carries {type(aarq).__name__}, not AARQ", 0)
        return AssociateIndication(spdu, cp, negotiation, aarq)
    if isinstance(spdu, session.AcceptSpdu):
        cpa = presentation.decode_accept(spdu.user_data)
        aare = _acse_in(cpa.user_data)
        if not isinstance(aare, acse.Aare):
            raise PresentationError("CPA-PPDU does not carry an AARE", 0)
        return AssociateConfirm(spdu, cpa, aare)
    if isinstance(spdu, session.RefuseSpdu):
        cpr = presentation.decode_refuse(spdu.user_data) if spdu.user_data else None
        refused = _acse_in(cpr.user_data) if cpr is not None else None
        _typed(refused, acse.Aare, "CPR-PPDU")
        return AssociateRefused(spdu, cpr, refused if isinstance(refused, acse.Aare) else None)
    if isinstance(spdu, session.FinishSpdu):
        rlrq = _acse_in(presentation.decode_user_data(spdu.user_data)) if spdu.user_data else None
        _typed(rlrq, acse.Rlrq, "FINISH")
        return ReleaseIndication(rlrq if isinstance(rlrq, acse.Rlrq) else None)
    if isinstance(spdu, session.DisconnectSpdu):
        rlre = _acse_in(presentation.decode_user_data(spdu.user_data)) if spdu.user_data else None
        _typed(rlre, acse.Rlre, "DISCONNECT")
        return ReleaseConfirm(rlre if isinstance(rlre, acse.Rlre) else None)
    if isinstance(spdu, session.AbortSpdu) and spdu.user_data:
        ppdu = presentation.decode_abort(spdu.user_data)
        if isinstance(ppdu, presentation.ProviderAbortPpdu):
            return AbortIndication(provider_abort=ppdu)
        abrt = _acse_in(ppdu.user_data)
        _typed(abrt, acse.Abrt, "ARU-PPDU")
        return AbortIndication(abrt=abrt if isinstance(abrt, acse.Abrt) else None)
    if isinstance(spdu, session.AbortSpdu | session.AbortAcceptSpdu):
        return AbortIndication()
    raise SessionError(f"unexpected {type(spdu).__name__}", 0)
