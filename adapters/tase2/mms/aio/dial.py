"""Opening an outbound connection for an :class:`AssociationLink`, in clear or as the TLS
client: the one place that does it for :class:`~adapters.tase2.mms.aio.client.MmsClient`
(an active client) and :meth:`~adapters.tase2.mms.aio.server.MmsServer.call` (an active
server)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from adapters.tase2.mms.aio.tls import TlsFailure, TlsProtocol
from adapters.tase2.mms.aio.tls_context import TlsEndpoint

__all__ = ["DialError", "dial"]


class DialError(Exception):
    """The connection did not come up; ``str()`` says why (the TLS failure when there was
    one). ``tls`` is the TLS protocol that was used (None in clear)."""

    def __init__(self, message: str, tls: TlsProtocol | None) -> None:
        super().__init__(message)
        self.tls = tls


async def dial(
    protocol: asyncio.Protocol,
    host: str,
    port: int,
    tls: TlsEndpoint | None,
    *,
    connect_timeout: float,
    on_failure: Callable[[TlsFailure], None] | None = None,
    on_established: Callable[[TlsProtocol], None] | None = None,
    before_connect: Callable[[TlsProtocol], None] | None = None,
) -> TlsProtocol | None:
    """Connect ``protocol`` to ``host:port`` (with ``tls``: below a TLS client that offers
    the last session with that address again) and wait for the TLS handshake; returns the
    TLS protocol (None in clear).

    Raises :class:`DialError` for whatever goes wrong (OSError, timeout, a host name the
    resolver refuses...). Cancelled, it aborts the connection it has opened, so nothing
    is left half-open behind a caller that gave up (a server stopping, say).
    ``before_connect`` sees the TLS protocol before the connection is attempted.
    """
    where = f"{host}:{port}"
    tls_proto: TlsProtocol | None = None
    if tls is not None:
        sessions = tls.sessions

        def keep(session: ssl.SSLSession) -> None:
            sessions[where] = session

        tls_proto = TlsProtocol(
            tls.context,
            protocol,
            server_side=False,
            server_hostname=tls.server_name,
            session=sessions.get(where) if tls.session_resumption else None,
            pins=tls.pins,
            handshake_timeout=tls.handshake_timeout,
            on_failure=on_failure,
            on_established=on_established,
            on_session=keep if tls.session_resumption else None,
        )
        if before_connect is not None:
            before_connect(tls_proto)
    outer: asyncio.Protocol = tls_proto if tls_proto is not None else protocol
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(connect_timeout):
            await loop.create_connection(lambda: outer, host, port)
        if tls_proto is not None:
            assert tls_proto.handshake_done is not None
            async with asyncio.timeout(connect_timeout):
                await asyncio.shield(tls_proto.handshake_done)
    except asyncio.CancelledError:
        # cancelled in create_connection: asyncio closes the socket; in the handshake: we do
        if tls_proto is not None:
            tls_proto.abort()
        raise
    except Exception as exc:  # OSError, TimeoutError, UnicodeError (idna)...
        if tls_proto is not None:
            tls_proto.abort()
            failure = tls_proto.failure
            if failure is not None:
                raise DialError(
                    f"TLS handshake with {where} failed: {failure.kind} ({failure.detail})",
                    tls_proto,
                ) from None
        raise DialError(
            f"cannot connect to {where}: {exc or type(exc).__name__}", tls_proto
        ) from exc
    return tls_proto
