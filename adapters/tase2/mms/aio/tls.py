"""TLS below COTP: an asyncio protocol that runs :class:`ssl.SSLObject` over memory BIOs.

:class:`TlsProtocol` sits on the TCP transport; after the handshake (and the pin check) it
hands the inner protocol (an :class:`~adapters.tase2.mms.aio.link.AssociationLink`) a
:class:`TlsTransport` whose writes are encrypted. Owning the handshake (rather than
asyncio's ``ssl=``) lets the gateway

* log why a handshake failed (unknown CA, expired, revoked, pin mismatch...) through a
  ``on_failure`` callback with a :class:`TlsFailure`, instead of asyncio's debug line;
* offer the previous session on reconnect (``session=``, TLS session resumption), which
  asyncio's streams cannot;
* answer a peer's TLS 1.2 renegotiation: :meth:`ssl.SSLObject.read` processes the handshake
  records and whatever it queues is written after every read.

The TLS 1.3 trap: a client's handshake completes before the server has checked the client
certificate, so a refused client sees the alert only on its first read. Nothing here calls
a link up: the association above does, once ACSE accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TlsFailure", "TlsProtocol", "TlsTransport", "classify"]

_READ_SIZE = 256 * 1024

_VERIFY_KINDS = {
    10: "expired",  # X509_V_ERR_CERT_HAS_EXPIRED
    9: "not-yet-valid",  # X509_V_ERR_CERT_NOT_YET_VALID
    23: "revoked",  # X509_V_ERR_CERT_REVOKED
    2: "unknown-ca",  # unable to get issuer certificate
    18: "unknown-ca",  # self-signed leaf
    19: "unknown-ca",  # self-signed certificate in chain
    20: "unknown-ca",  # unable to get local issuer certificate
    21: "unknown-ca",  # unable to verify the first certificate
    3: "crl-unavailable",  # unable to get certificate CRL
    12: "crl-expired",
    62: "hostname-mismatch",
}
_ALERT_KINDS = (
    ("UNKNOWN_CA", "peer-refused-unknown-ca"),
    ("CERTIFICATE_EXPIRED", "peer-refused-expired"),
    ("CERTIFICATE_REVOKED", "peer-refused-revoked"),
    ("CERTIFICATE_REQUIRED", "peer-refused-no-certificate"),
    ("BAD_CERTIFICATE", "peer-refused-bad-certificate"),
    ("PROTOCOL_VERSION", "version"),
    ("UNSUPPORTED_PROTOCOL", "version"),
    ("WRONG_VERSION_NUMBER", "not-tls"),
    ("HTTP_REQUEST", "not-tls"),
    ("NO_SHARED_CIPHER", "cipher"),
    ("HANDSHAKE_FAILURE", "handshake"),
    ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "no-certificate"),
)


def classify(exc: BaseException) -> tuple[str, str]:
    """A failure kind (``unknown-ca``, ``expired``, ``pin-mismatch``...) and a short text."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = int(exc.verify_code or 0)
        return _VERIFY_KINDS.get(code, "verify-failed"), str(exc.verify_message or exc)
    if isinstance(exc, ssl.SSLError):
        reason = str(exc.reason or exc)
        for marker, kind in _ALERT_KINDS:
            if marker in reason.upper():
                return kind, reason
        return "tls-error", reason
    return "connection", str(exc) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class TlsFailure:
    """Why one TLS connection failed: ``kind`` for counting and throttling, ``detail`` for
    the log line, ``phase`` ``handshake`` or ``session`` (after the handshake)."""

    peer: tuple[str, int]
    kind: str
    detail: str
    phase: str = "handshake"
    peer_fingerprint: str | None = None


class TlsTransport(asyncio.Transport):
    """The transport the inner protocol writes to: plaintext in, TLS records out."""

    def __init__(self, outer: TlsProtocol) -> None:
        super().__init__()
        self._outer = outer

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt ``data`` and write the records to the TCP transport."""
        self._outer.write_plain(bytes(data))

    def is_closing(self) -> bool:
        """True once closing (or closed)."""
        return self._outer.closing

    def close(self) -> None:
        """Send close_notify, then close the TCP connection."""
        self._outer.close()

    def abort(self) -> None:
        """Close the TCP connection at once."""
        self._outer.abort()

    def pause_reading(self) -> None:
        """Stop reading from the TCP connection."""
        self._outer.raw_pause_reading()

    def resume_reading(self) -> None:
        """Read from the TCP connection again."""
        self._outer.raw_resume_reading()

    def is_reading(self) -> bool:
        """Whether the TCP connection is being read."""
        return self._outer.raw_is_reading()

    def get_write_buffer_size(self) -> int:
        """Bytes waiting in the TCP transport's buffer."""
        return self._outer.raw_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Passed to the TCP transport."""
        self._outer.raw_set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        """TLS has no half-close here."""
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """TCP extras, plus ``ssl_object``, ``peer_certificate`` (DER), ``peercert``
        (dict), ``cipher``, ``tls_version`` and ``session_reused``."""
        return self._outer.extra(name, default)


class TlsProtocol(asyncio.Protocol):
    """TLS on one TCP connection, with ``inner`` above it once the handshake is done.

    ``pins`` (SHA-256 fingerprints) restrict the peer certificate further than the
    context's CA check; ``on_failure`` hears every failure (handshake, pin, or a TLS error
    later in the session); ``on_established`` hears the handshake done, before ``inner``.
    A client passes ``session`` to resume; :attr:`session` is the session to keep for the
    next connection (read it when the connection is gone: TLS 1.3 tickets come late).
    ``admit`` is asked at TCP connect, before any TLS work: False closes the connection.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        inner: asyncio.Protocol,
        *,
        server_side: bool,
        server_hostname: str | None = None,
        session: ssl.SSLSession | None = None,
        pins: frozenset[str] = frozenset(),
        handshake_timeout: float = 10.0,
        on_failure: Callable[[TlsFailure], None] | None = None,
        on_established: Callable[[TlsProtocol], None] | None = None,
        on_session: Callable[[ssl.SSLSession], None] | None = None,
        admit: Callable[[TlsProtocol], bool] | None = None,
    ) -> None:
        self.context = context
        self.admit = admit
        self.inner = inner
        self.server_side = server_side
        self.pins = pins
        self.handshake_timeout = handshake_timeout
        self.on_failure = on_failure
        self.on_established = on_established
        self.on_session = on_session
        self.peer: tuple[str, int] = ("?", 0)
        self.session: ssl.SSLSession | None = session
        self.failure: TlsFailure | None = None
        self.established = False
        self.closing = False
        self.refused = False
        """Closed at TCP connect because ``admit`` said no (no TLS failure then)."""
        self.handshake_done: asyncio.Future[None] | None = None
        """Done when the handshake completes or fails (the latter with the exception)."""
        self._server_hostname = server_hostname
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl: ssl.SSLObject | None = None
        self._raw: asyncio.Transport | None = None
        self._transport = TlsTransport(self)
        self._pending_plain: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        self._inner_connected = False
        self._peer_der: bytes | None = None
        self._raw_reading = True

    # ------------------------------------------------------------------ TCP callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the handshake (a client sends its ClientHello now)."""
        self._raw = transport  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        self.handshake_done = loop.create_future()
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("?", 0)
        if self.admit is not None and not self.admit(self):
            self.closing = self.refused = True
            transport.close()
            return
        try:
            self._ssl = self.context.wrap_bio(
                self._incoming,
                self._outgoing,
                server_side=self.server_side,
                server_hostname=self._server_hostname,
                session=self.session if not self.server_side else None,
            )
        except (ssl.SSLError, ValueError) as exc:
            self._fail(*classify(exc))
            return
        self._timer = loop.call_later(self.handshake_timeout, self._handshake_timed_out)
        self._handshake()

    def data_received(self, data: bytes) -> None:
        """Feed the TLS engine; hand the plaintext to the inner protocol."""
        self._incoming.write(data)
        if not self.established:
            self._handshake()
        if self.established and not self.closing:
            self._read_plain()

    def eof_received(self) -> bool | None:
        """The peer closed TCP: a failure during the handshake, an end of stream after."""
        if not self.established:
            self._fail("connection", "closed by the peer during the TLS handshake")
            return None
        if self._inner_connected:
            self.inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """TCP is gone: tell the inner protocol (or the handshake's waiter)."""
        self.closing = True
        self._cancel_timer()
        self._keep_session()
        if not self.established and self.failure is None and not self.refused:
            self._fail("connection", f"connection lost during the TLS handshake: {exc}")
        self._settle(ConnectionError("connection lost"))
        if self._inner_connected:
            self._inner_connected = False
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        """The TCP buffer is full: the inner protocol must stop writing."""
        if self._inner_connected:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        """The TCP buffer drained."""
        if self._inner_connected:
            self.inner.resume_writing()

    # ------------------------------------------------------------------ TLS engine

    def _handshake(self) -> None:
        sslobj = self._ssl
        if sslobj is None or self.closing:
            return
        try:
            sslobj.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, ValueError) as exc:
            self._flush()  # the alert we send
            self._fail(*classify(exc))
            return
        self._flush()
        self._cancel_timer()
        der = sslobj.getpeercert(binary_form=True)
        self._peer_der = der
        if self.pins:
            fingerprint = hashlib.sha256(der).hexdigest() if der else None
            if fingerprint not in self.pins:
                self._fail(
                    "pin-mismatch",
                    f"peer certificate {fingerprint or '(none)'} is not pinned",
                    fingerprint=fingerprint,
                )
                return
        self.established = True
        if self.handshake_done is not None and not self.handshake_done.done():
            self.handshake_done.set_result(None)
        if self.on_established is not None:
            self.on_established(self)
        self._inner_connected = True
        self.inner.connection_made(self._transport)
        self._write_pending()
        if not self.closing:
            self._read_plain()

    def _read_plain(self) -> None:
        sslobj = self._ssl
        assert sslobj is not None
        chunks: list[bytes] = []
        ended = False
        failure: BaseException | None = None
        while True:
            try:
                chunk = sslobj.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                ended = True
                break
            except (ssl.SSLError, ValueError) as exc:
                failure = exc
                break
            if not chunk:
                ended = True
                break
            chunks.append(chunk)
        self._flush()  # a renegotiation's answer, a key update
        if chunks and self._inner_connected:
            self.inner.data_received(b"".join(chunks) if len(chunks) > 1 else chunks[0])
        self._write_pending()
        if failure is not None:
            kind, detail = classify(failure)
            self._report(TlsFailure(self.peer, kind, detail, "session", self._fingerprint()))
            self.abort()
        elif ended:
            if self._inner_connected:
                self.inner.eof_received()
            self.close()

    def write_plain(self, data: bytes) -> None:
        """Encrypt and send ``data`` (kept until a renegotiation lets it through)."""
        if self.closing or not data:
            return
        self._pending_plain.append(data)
        if self.established:
            self._write_pending()

    def _write_pending(self) -> None:
        sslobj = self._ssl
        if sslobj is None or not self._pending_plain:
            return
        while self._pending_plain:
            data = self._pending_plain[0]
            try:
                sent = sslobj.write(data)
            except ssl.SSLWantReadError:
                break  # in a renegotiation: the rest goes after the next read
            except (ssl.SSLError, ValueError) as exc:
                kind, detail = classify(exc)
                self._report(TlsFailure(self.peer, kind, detail, "session", self._fingerprint()))
                self._pending_plain.clear()
                self.abort()
                return
            if sent < len(data):
                self._pending_plain[0] = data[sent:]
            else:
                self._pending_plain.pop(0)
        self._flush()

    def _flush(self) -> None:
        raw = self._raw
        if self._outgoing.pending and raw is not None and not raw.is_closing():
            raw.write(self._outgoing.read())

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """close_notify (best effort), then close TCP."""
        if self.closing:
            return
        self._write_pending()
        self.closing = True
        self._keep_session()
        sslobj = self._ssl
        if sslobj is not None and self.established:
            with contextlib.suppress(ssl.SSLError, ValueError):
                sslobj.unwrap()
            self._flush()
        if self._raw is not None:
            self._raw.close()

    def abort(self) -> None:
        """Close TCP at once."""
        self.closing = True
        self._keep_session()
        if self._raw is not None:
            self._raw.abort()

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if not self.established:
            self._fail("timeout", f"no TLS handshake within {self.handshake_timeout:g} s")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fail(self, kind: str, detail: str, fingerprint: str | None = None) -> None:
        if self.failure is not None:
            return
        self._report(TlsFailure(self.peer, kind, detail, "handshake", fingerprint))
        self._cancel_timer()
        self._settle(ConnectionError(f"TLS {kind}: {detail}"))
        self.abort()

    def _settle(self, exc: Exception) -> None:
        done = self.handshake_done
        if done is not None and not done.done():
            done.set_exception(exc)
            done.exception()  # marked retrieved: no "never retrieved" warning

    def _report(self, failure: TlsFailure) -> None:
        if self.failure is None:
            self.failure = failure
        if self.on_failure is not None:
            self.on_failure(failure)

    def _keep_session(self) -> None:
        sslobj = self._ssl
        if sslobj is not None and not self.server_side and self.established:
            with contextlib.suppress(ssl.SSLError, ValueError, AttributeError):
                session = sslobj.session
                if session is not None:
                    self.session = session
                    if self.on_session is not None:
                        self.on_session(session)

    def _fingerprint(self) -> str | None:
        return hashlib.sha256(self._peer_der).hexdigest() if self._peer_der else None

    # ------------------------------------------------------------------ for TlsTransport

    def extra(self, name: str, default: Any = None) -> Any:
        """Extra information for :meth:`TlsTransport.get_extra_info`."""
        sslobj = self._ssl
        if name == "ssl_object":
            return sslobj
        if name == "peer_certificate":
            return self._peer_der
        if sslobj is not None:
            if name == "peercert":
                return sslobj.getpeercert()
            if name == "cipher":
                return sslobj.cipher()
            if name == "tls_version":
                return sslobj.version()
            if name == "session_reused":
                return sslobj.session_reused
        if self._raw is None:
            return default
        return self._raw.get_extra_info(name, default)

    def raw_pause_reading(self) -> None:
        """Pause the TCP transport."""
        if self._raw is not None and self._raw_reading and not self._raw.is_closing():
            self._raw_reading = False
            self._raw.pause_reading()

    def raw_resume_reading(self) -> None:
        """Resume the TCP transport."""
        if self._raw is not None and not self._raw_reading and not self._raw.is_closing():
            self._raw_reading = True
            self._raw.resume_reading()

    def raw_is_reading(self) -> bool:
        """Whether the TCP transport reads."""
        return self._raw_reading

    def raw_write_buffer_size(self) -> int:
        """The TCP transport's write buffer."""
        return self._raw.get_write_buffer_size() if self._raw is not None else 0

    def raw_set_write_buffer_limits(self, high: int | None, low: int | None) -> None:
        """The TCP transport's write buffer limits."""
        if self._raw is not None:
            self._raw.set_write_buffer_limits(high, low)
