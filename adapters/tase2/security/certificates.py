"""X.509 facts the gateway needs: subject, SHA-256 fingerprint, validity; pins; matching.

:func:`load_certificate` reads the first certificate of a PEM or DER file;
:func:`describe` turns a DER certificate (a TLS peer's) into a :class:`CertificateInfo`;
:func:`load_pins` turns the ``pinned`` setting (fingerprints or files) into a fingerprint
set; :func:`subject_matches` checks a required subject (``CN=x,O=y``: every attribute given
must be in the certificate's subject).

`cryptography` is imported on first use: a gateway without TLS never loads it (~14 MB).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.tase2.errors import LocalError
from adapters.tase2.security.tls_settings import normalise_fingerprint

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "CertificateError",
    "CertificateInfo",
    "describe",
    "load_certificate",
    "load_pins",
    "parse_subject",
    "subject_matches",
]


class CertificateError(LocalError, ValueError):
    """A certificate (or pin) file that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What the gateway shows and checks of one certificate."""

    subject: str
    """RFC 4514 subject, e.g. ``CN=rto-a,O=RTO``."""
    issuer: str
    fingerprint: str
    """SHA-256 of the DER encoding, 64 lower-case hex digits."""
    not_before: datetime
    not_after: datetime

    def days_left(self, now: datetime | None = None) -> float:
        """Days until ``not_after`` (negative once expired)."""
        now = now or datetime.now(UTC)
        return (self.not_after - now).total_seconds() / 86400.0

    def to_dict(self, now: datetime | None = None) -> dict[str, object]:
        """For status pages: subject, issuer, fingerprint, validity, days left."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "fingerprint": self.fingerprint,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": round(self.days_left(now), 2),
        }


def _info(cert: x509.Certificate) -> CertificateInfo:
    from cryptography.hazmat.primitives.serialization import Encoding

    der = cert.public_bytes(Encoding.DER)
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        fingerprint=hashlib.sha256(der).hexdigest(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def describe(der: bytes) -> CertificateInfo:
    """The :class:`CertificateInfo` of a DER certificate; raises CertificateError."""
    from cryptography import x509

    try:
        return _info(x509.load_der_x509_certificate(der))
    except ValueError as exc:
        raise CertificateError(f"undecodable certificate: {exc}") from None


def load_certificate(path: Path) -> CertificateInfo:
    """The first certificate of a PEM or DER file; raises CertificateError naming it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    from cryptography import x509

    try:
        if b"-----BEGIN" in raw:
            cert = x509.load_pem_x509_certificates(raw)[0]
        else:
            cert = x509.load_der_x509_certificate(raw)
    except (ValueError, IndexError) as exc:
        raise CertificateError(f"{path}: not a PEM or DER certificate: {exc}") from None
    return _info(cert)


def load_pins(pins: tuple[str, ...]) -> frozenset[str]:
    """Fingerprints from the ``pinned`` setting (hex fingerprints or certificate files)."""
    out: set[str] = set()
    for pin in pins:
        fingerprint = normalise_fingerprint(pin)
        out.add(fingerprint if fingerprint is not None else load_certificate(Path(pin)).fingerprint)
    return frozenset(out)


def parse_subject(text: str) -> tuple[tuple[str, str], ...]:
    """``CN=a,O=b`` -> ((CN, a), (O, b)); raises ValueError on an attribute without ``=``."""
    out: list[tuple[str, str]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"subject {text!r}: {part!r} is not ATTRIBUTE=value")
        out.append((key.strip().upper(), value.strip()))
    if not out:
        raise ValueError("an empty subject")
    return tuple(out)


def subject_matches(required: str, subject: str) -> bool:
    """True when every attribute of ``required`` is in ``subject`` (RFC 4514 strings)."""
    have = set(parse_subject(subject))
    return all(item in have for item in parse_subject(required))
