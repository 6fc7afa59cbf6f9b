"""Build the TLS side of one TASE.2 endpoint from its ``tls:`` settings.

:func:`build_endpoint` reads the certificate, key, CA, CRL and pins and returns a
:class:`TlsEndpoint`: the :class:`ssl.SSLContext` (mutual verification, TLS 1.2/1.3 as
configured) plus what the TLS layer checks after the handshake (pins) and shows (the own
certificate). A file that cannot be used raises :class:`CertificateError` naming it, so a
reload with a broken file keeps the running endpoint.

A server context accepts a client's TLS 1.2 renegotiation (OpenSSL's
``SSL_OP_ALLOW_CLIENT_RENEGOTIATION``, which Python does not export) and sends
``session_tickets`` TLS 1.3 tickets (0 by default: libiec61850's client refuses a Python
TLS 1.3 server that sends tickets).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from adapters.tase2.security.certificates import (
    CertificateError,
    CertificateInfo,
    load_certificate,
    load_pins,
)
from adapters.tase2.security.tls_settings import TlsSettings

__all__ = ["OP_ALLOW_CLIENT_RENEGOTIATION", "TlsEndpoint", "build_endpoint"]

OP_ALLOW_CLIENT_RENEGOTIATION = 0x100
"""OpenSSL 3's ``SSL_OP_ALLOW_CLIENT_RENEGOTIATION`` (not in Python's ``ssl`` module)."""

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(eq=False)
class TlsEndpoint:
    """One endpoint's TLS: the context, the pinned peer fingerprints (empty: any peer the
    CA vouches for), its own certificate, and the handshake time limit."""

    context: ssl.SSLContext
    server_side: bool
    own: CertificateInfo
    pins: frozenset[str] = frozenset()
    handshake_timeout: float = 10.0
    server_name: str | None = None
    session_resumption: bool = True
    settings: TlsSettings | None = None
    sessions: dict[str, ssl.SSLSession] = field(default_factory=dict)
    """Client: the last session per ``host:port``, offered again on reconnect."""


def _load(what: str, path: object, action: object) -> None:
    try:
        action()  # type: ignore[operator]
    except (ssl.SSLError, OSError, ValueError) as exc:
        detail = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise CertificateError(f"tls {what} {path}: {detail}") from None


def build_endpoint(settings: TlsSettings, *, server_side: bool) -> TlsEndpoint:
    """The :class:`TlsEndpoint` for ``settings``; raises CertificateError (names the file)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = _VERSIONS[settings.min_version]
    ctx.maximum_version = _VERSIONS[settings.max_version]
    ctx.verify_mode = ssl.CERT_REQUIRED
    if server_side:
        ctx.options |= OP_ALLOW_CLIENT_RENEGOTIATION
        ctx.num_tickets = settings.session_tickets
    else:
        ctx.check_hostname = settings.server_name is not None
    own = load_certificate(settings.certificate)
    _load(
        "certificate/private_key",
        f"{settings.certificate} / {settings.private_key}",
        lambda: ctx.load_cert_chain(
            settings.certificate, settings.private_key, settings.private_key_password
        ),
    )
    if settings.ca.is_dir():
        _load("ca", settings.ca, lambda: ctx.load_verify_locations(capath=settings.ca))
    else:
        _load("ca", settings.ca, lambda: ctx.load_verify_locations(cafile=settings.ca))
    if settings.crl is not None:
        crl = settings.crl
        _load("crl", crl, lambda: ctx.load_verify_locations(cafile=crl))
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    if settings.ciphers:
        ciphers = settings.ciphers
        _load("ciphers", repr(ciphers), lambda: ctx.set_ciphers(ciphers))
    return TlsEndpoint(
        context=ctx,
        server_side=server_side,
        own=own,
        pins=load_pins(settings.pinned),
        handshake_timeout=settings.handshake_timeout,
        server_name=settings.server_name,
        session_resumption=settings.session_resumption,
        settings=settings,
    )
