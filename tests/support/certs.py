"""Test certificates for OPC UA security: a CA, certificates it signs and self-signed ones.

OPC UA wants the application URI of the program that presents an application instance
certificate in the certificate's subjectAltName (a URI entry); a user certificate (X509
identity token) needs none. The building blocks are asyncua's `asyncua.crypto.cert_gen`
(imported, LGPL); the files are written as PEM (certificate) and PEM PKCS#8 (key), or DER
with `der=True`; keys go to `private/` under the certificates' directory, so that the
directory can serve as a trust list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

__all__ = ["CLIENT", "SERVER", "USER", "Issued", "TestCA", "self_signed"]

ORG = {"organizationName": "iccp-gateway tests"}
CLIENT = [ExtendedKeyUsageOID.CLIENT_AUTH]
SERVER = [ExtendedKeyUsageOID.SERVER_AUTH]
USER = [ExtendedKeyUsageOID.CLIENT_AUTH]


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, and the files they were written to."""

    certificate: x509.Certificate
    key: RSAPrivateKey
    cert_path: Path
    key_path: Path

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)


def _names(uri: str | None, dns: str | None) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    if uri is not None:
        names.append(x509.UniformResourceIdentifier(uri))
    if dns is not None:
        names.append(x509.DNSName(dns))
    return names


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: RSAPrivateKey, der: bool
) -> Issued:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{stem}.{'der' if der else 'pem'}"
    cert_path.write_bytes(cert.public_bytes(Encoding.DER if der else Encoding.PEM))
    (directory / "private").mkdir(exist_ok=True)
    key_path = directory / "private" / f"{stem}-key.pem"
    key_path.write_bytes(cert_gen.dump_private_key_as_pem(key))
    return Issued(cert, key, cert_path, key_path)


def self_signed(
    directory: Path,
    stem: str,
    uri: str | None,
    use: list[x509.ObjectIdentifier] = CLIENT,
    common_name: str | None = None,
    dns: str | None = "localhost",
    days: int = 30,
    der: bool = False,
) -> Issued:
    """A self-signed application (or user, with `uri=None`) certificate in `directory`."""
    key = cert_gen.generate_private_key()
    cert = cert_gen.generate_self_signed_app_certificate(
        key, common_name or stem, ORG, _names(uri, dns), use, days
    )
    return _write(directory, stem, cert, key, der)


class TestCA:
    """A certificate authority of its own, whose certificate `ca` a trust list can hold."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, directory: Path, name: str = "iccp-gateway test CA") -> None:
        self.directory = directory
        key = cert_gen.generate_private_key()
        cert = cert_gen.generate_self_signed_app_certificate(key, name, ORG, [], [], 30)
        self.ca = _write(directory, "ca", cert, key, der=False)

    def issue(
        self,
        stem: str,
        uri: str | None,
        use: list[x509.ObjectIdentifier] = CLIENT,
        dns: str | None = "localhost",
        days: int = 30,
        der: bool = False,
    ) -> Issued:
        """A certificate for `uri` signed by this CA."""
        key = cert_gen.generate_private_key()
        csr = cert_gen.generate_app_certificate_signing_request(
            key, stem, ORG, _names(uri, dns), use
        )
        cert = cert_gen.sign_certificate_request(csr, self.ca.certificate, self.ca.key, days)
        return _write(self.directory, stem, cert, key, der)
