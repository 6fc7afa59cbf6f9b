"""Test certificates for Secure ICCP: a throwaway CA (trustme) and PEM files on disk.

:class:`TestPki` writes, under one directory, a CA, certificates it issues (good, expired,
expiring soon), a second unrelated CA with its own certificate, and CRLs; each
``settings(...)`` call gives a :class:`~adapters.tase2.security.tls_settings.TlsSettings`
for one endpoint. Every leaf certificate is usable as client and as server certificate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from adapters.tase2.security.certificates import load_certificate
from adapters.tase2.security.tls_settings import TlsSettings

__all__ = ["Identity", "TestPki"]


@dataclass(frozen=True)
class Identity:
    """One certificate and key on disk, and the CA file that vouches for it."""

    name: str
    certificate: Path
    private_key: Path
    ca: Path

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint (hex) of the certificate."""
        return load_certificate(self.certificate).fingerprint


class TestPki:
    """A CA and the identities a test asks for, written below ``root``."""

    __test__ = False  # not a pytest class

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="Gateway Test CA")
        self.ca_file = root / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.other_ca = trustme.CA(organization_name="Unknown CA")
        self.other_ca_file = root / "other-ca.pem"
        self.other_ca.cert_pem.write_to_path(str(self.other_ca_file))
        self._leaves: dict[str, trustme.LeafCert] = {}

    def identity(
        self,
        name: str,
        *,
        days: float = 365.0,
        expired: bool = False,
        unknown_ca: bool = False,
        organization: str | None = "Test Utility",
    ) -> Identity:
        """A certificate ``CN=<name>`` valid for ``days`` (or expired yesterday), issued by
        the test CA (or by an unrelated one)."""
        now = dt.datetime.now(dt.UTC)
        if expired:
            not_before, not_after = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
        else:
            not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=days)
        ca = self.other_ca if unknown_ca else self.ca
        leaf = ca.issue_cert(
            "localhost",
            "127.0.0.1",
            common_name=name,
            organization_name=organization,
            not_before=not_before,
            not_after=not_after,
        )
        self._leaves[name] = leaf
        cert = self.root / f"{name}.pem"
        key = self.root / f"{name}.key"
        cert.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        return Identity(name, cert, key, self.other_ca_file if unknown_ca else self.ca_file)

    def crl(self, revoked: list[Identity], name: str = "ca.crl") -> Path:
        """A CRL of the test CA revoking ``revoked``, in PEM."""
        ca_key = serialization.load_pem_private_key(self.ca.private_key_pem.bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(self.ca.cert_pem.bytes())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now - dt.timedelta(hours=1))
            .next_update(now + dt.timedelta(days=7))
        )
        for ident in revoked:
            cert = x509.load_pem_x509_certificate(ident.certificate.read_bytes())
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - dt.timedelta(minutes=5))
                .build()
            )
        crl = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        path = self.root / name
        path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return path

    def settings(self, ident: Identity, **extra: Any) -> TlsSettings:
        """The ``tls:`` settings of an endpoint presenting ``ident`` and trusting the test CA
        (or ``ca=``), with any other ``extra`` settings."""
        extra.setdefault("ca", self.ca_file)
        return TlsSettings(certificate=ident.certificate, private_key=ident.private_key, **extra)
