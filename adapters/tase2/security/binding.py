"""Certificates bound to bilateral tables: which TLS peer certificate a table accepts.

A table's ``certificate:`` block (:class:`CertificateRule`) names a required ``subject``
(every attribute given, e.g. ``CN=rto-a,O=RTO``, must be in the peer's subject) and/or
``fingerprints`` (SHA-256); :meth:`CertificateRule.refusal` says why a peer certificate
does not fit (None when it does). A table with a rule refuses associations without TLS.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from adapters.tase2.security.certificates import (
    CertificateError,
    describe,
    parse_subject,
    subject_matches,
)
from adapters.tase2.security.tls_settings import normalise_fingerprint

__all__ = ["CertificateRule"]


class CertificateRule(BaseModel):
    """The TLS certificate a bilateral table's peer must present."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str | None = None
    fingerprints: tuple[str, ...] = ()

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        if value is not None:
            parse_subject(value)
        return value

    @field_validator("fingerprints")
    @classmethod
    def _fingerprints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for text in value:
            fp = normalise_fingerprint(text)
            if fp is None:
                raise ValueError(f"{text!r} is not a SHA-256 fingerprint (64 hex digits)")
            out.append(fp)
        return tuple(out)

    @model_validator(mode="after")
    def _something(self) -> CertificateRule:
        if self.subject is None and not self.fingerprints:
            raise ValueError("a certificate rule needs a subject or fingerprints")
        return self

    def refusal(self, der: bytes | None) -> str | None:
        """Why the peer certificate ``der`` does not fit (None when it does)."""
        if der is None:
            return "the table requires a TLS client certificate and the association is not TLS"
        try:
            info = describe(der)
        except CertificateError as exc:
            return str(exc)
        if self.fingerprints and info.fingerprint not in self.fingerprints:
            return f"certificate {info.subject} ({info.fingerprint}) is not one of the table's"
        if self.subject is not None and not subject_matches(self.subject, info.subject):
            return f"certificate subject {info.subject!r} does not match {self.subject!r}"
        return None
