"""The ``tls:`` block of ``tase2-server`` and ``tase2-client`` (Secure ICCP, IEC 62351-3).

A YAML entry looks like this (paths relative to the configuration file)::

    tls:
      certificate: certs/gw.pem          # own certificate (chain), PEM
      private_key: certs/gw.key          # PEM; private_key_password if it is encrypted
      ca: certs/ca.pem                   # CA file (PEM) or directory (c_rehash'ed)
      crl: certs/ca.crl                  # optional CRL (PEM); checked for the peer's leaf
      pinned: ["AB:CD:...", certs/rto.pem]  # optional: only these peer certificates
      min_version: "1.2"
      max_version: "1.3"
      ciphers: ECDHE+AESGCM              # OpenSSL list for TLS 1.2 (TLS 1.3 keeps its own)
      renewal_interval: 3600             # client: new TLS session every N s (0: never)
      session_tickets: 0                 # server: TLS 1.3 tickets (0 for libiec61850 peers)

Verification is always mutual: each side presents its certificate and checks the other's
against ``ca`` (and ``crl``, and ``pinned`` when given). Host names are not checked (ICCP
peers are identified by certificate and AP-title, not by DNS name) unless ``server_name``
is set on a client.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = ["DEFAULT_TLS_PORT", "TlsSettings", "normalise_fingerprint"]

DEFAULT_TLS_PORT = 3782
"""The TCP port of ISO-on-TCP over TLS (the Secure ICCP port), used when TLS is on."""

_HEX = re.compile(r"[0-9a-f]{64}")


def normalise_fingerprint(text: str) -> str | None:
    """A SHA-256 fingerprint written ``AB:CD:..`` or ``abcd..`` as 64 lower-case hex digits;
    None when ``text`` is not one."""
    compact = text.strip().lower().replace(":", "").replace(" ", "")
    return compact if _HEX.fullmatch(compact) else None


def _resolve(value: Path | None, info: ValidationInfo) -> Path | None:
    """A path relative to the configuration file's directory (context ``base``)."""
    if value is None:
        return None
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base")
    return value if value.is_absolute() or base is None else Path(base) / value


class TlsSettings(BaseModel):
    """TLS below COTP for one TASE.2 endpoint (see the module docstring for the YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    certificate: Path
    private_key: Path
    private_key_password: str | None = Field(default=None, repr=False)
    ca: Path
    crl: Path | None = None
    pinned: tuple[str, ...] = ()
    """SHA-256 fingerprints or certificate files (PEM or DER) of the only peers allowed."""
    min_version: Literal["1.2", "1.3"] = "1.2"
    max_version: Literal["1.2", "1.3"] = "1.3"
    ciphers: str | None = None
    """OpenSSL cipher list for TLS 1.2; TLS 1.3 uses OpenSSL's default suites."""
    verify: Literal["mutual"] = "mutual"
    handshake_timeout: float = Field(default=10.0, gt=0, le=300)
    renewal_interval: float = Field(default=0.0, ge=0)
    """Client: seconds after which the session is renewed by a new connection (0: never)."""
    session_tickets: int = Field(default=0, ge=0, le=16)
    """Server: TLS 1.3 session tickets sent per handshake (libiec61850 needs 0)."""
    session_resumption: bool = True
    """Client: offer the previous session on reconnect (TLS 1.2 session ids, 1.3 tickets)."""
    server_name: str | None = None
    """Client: check the server certificate for this host name (default: not checked)."""
    expiry_warnings: tuple[int, ...] = (30, 7, 1)
    """Days before expiry at which a warning is logged (once per threshold)."""

    @field_validator("certificate", "private_key", "ca", "crl")
    @classmethod
    def _path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @field_validator("pinned")
    @classmethod
    def _pins(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        out: list[str] = []
        for pin in value:
            fingerprint = normalise_fingerprint(pin)
            if fingerprint is not None:
                out.append(fingerprint)
                continue
            path = _resolve(Path(pin), info)
            assert path is not None
            out.append(str(path))
        return tuple(out)

    @field_validator("expiry_warnings")
    @classmethod
    def _thresholds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 0 for d in value):
            raise ValueError("expiry warning thresholds are days >= 0")
        return tuple(sorted(set(value), reverse=True))

    @model_validator(mode="after")
    def _versions(self) -> TlsSettings:
        if self.min_version > self.max_version:
            raise ValueError(
                f"min_version {self.min_version} is above max_version {self.max_version}"
            )
        return self

    def files(self) -> tuple[Path, ...]:
        """Every file this block reads (for change detection)."""
        out = [self.certificate, self.private_key, self.ca]
        if self.crl is not None:
            out.append(self.crl)
        out += [Path(p) for p in self.pinned if normalise_fingerprint(p) is None]
        return tuple(out)
