"""Certificates for the OPC UA adapters' security: reading them with clear errors, the trust
list a peer's certificate is checked against, and the server's generated self-signed one.

OPC UA identifies an application by its application URI, which its instance certificate
carries in the subjectAltName (a URI entry); a peer checks that it matches the URI the
application announces. A user certificate (an X509 identity token) needs no URI.

Everything here is synchronous file and crypto work (`cryptography`, and asyncua's
`cert_gen` for the self-signed certificate); nothing touches the network.
"""

from __future__ import annotations

import datetime
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID

__all__ = [
    "CERT_SUFFIXES",
    "SelfSigned",
    "TrustList",
    "application_uris",
    "check_pair",
    "describe",
    "ensure_self_signed",
    "read_certificate",
    "read_certificates",
    "read_private_key",
]

CERT_SUFFIXES = (".der", ".pem", ".crt", ".cer")
"""The files a trusted-certificates directory is read for."""
SELF_SIGNED_DAYS = 3650
"""How long a generated server certificate is valid (it is regenerated once expired)."""


def read_certificate(path: Path, what: str = "certificate") -> x509.Certificate:
    """The certificate in `path` (PEM or DER); ValueError naming the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{what} {path}: cannot read it: {exc.strerror}") from None
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ValueError(f"{what} {path}: not a PEM or DER X.509 certificate") from None


def read_certificates(
    paths: list[Path], what: str = "trusted_certificates"
) -> list[x509.Certificate]:
    """The certificates of `paths`, each a file or a directory of `*.der`/`*.pem`/`*.crt`/
    `*.cer` files (a missing path or a bad file is a ValueError naming it)."""
    out: list[x509.Certificate] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in CERT_SUFFIXES)
            out.extend(read_certificate(p, what) for p in files)
        elif path.exists():
            out.append(read_certificate(path, what))
        else:
            raise ValueError(f"{what}: {path} does not exist")
    return out


def read_private_key(path: Path, what: str = "private_key") -> RSAPrivateKey:
    """The unencrypted RSA key in `path` (PEM or DER); ValueError naming the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{what} {path}: cannot read it: {exc.strerror}") from None
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} {path}: not an unencrypted PEM or DER key ({exc})") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"{what} {path}: OPC UA security needs an RSA key")
    return key


def check_pair(cert: x509.Certificate, key: RSAPrivateKey, cert_path: Path, key_path: Path) -> None:
    """ValueError unless `key` is the private key of `cert`."""
    if cert.public_key() != key.public_key():
        raise ValueError(f"private key {key_path} is not the key of certificate {cert_path}")


def application_uris(cert: x509.Certificate) -> list[str]:
    """The URIs in the certificate's subjectAltName (OPC UA: the application URI)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(san.value.get_values_for_type(x509.UniformResourceIdentifier))


def describe(cert: x509.Certificate) -> str:
    """The certificate's subject and SHA-1 thumbprint (how OPC UA tools show it)."""
    thumbprint = cert.fingerprint(hashes.SHA1()).hex()  # the thumbprint OPC UA tools show
    return f"{cert.subject.rfc4514_string() or '(no subject)'} (thumbprint {thumbprint})"


class TrustList:
    """The certificates a peer may present: each trusted itself (the same certificate) or as
    the CA that issued it (a CA certificate: basicConstraints CA). Valid time is checked."""

    def __init__(self, certificates: list[x509.Certificate]) -> None:
        self._exact = {c.public_bytes(serialization.Encoding.DER) for c in certificates}
        self._cas = [c for c in certificates if _is_ca(c)]

    def __len__(self) -> int:
        return len(self._exact)

    def why_not(self, cert: x509.Certificate, now: datetime.datetime | None = None) -> str | None:
        """None when `cert` is trusted, else the reason in a few words."""
        now = now or datetime.datetime.now(datetime.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return (
                f"outside its validity ({cert.not_valid_before_utc:%Y-%m-%d} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d})"
            )
        if cert.public_bytes(serialization.Encoding.DER) in self._exact:
            return None
        for ca in self._cas:
            if ca.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
                return None
            return f"its CA {ca.subject.rfc4514_string()} has expired"
        return "neither it nor the CA that issued it is in trusted_certificates"


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class SelfSigned:
    """The server's generated certificate and key files, and whether this start made them."""

    cert_path: Path
    key_path: Path
    created: bool
    reason: str


def ensure_self_signed(directory: Path, stem: str, application_uri: str, name: str) -> SelfSigned:
    """The server certificate `<directory>/<stem>.der` and key `<stem>.key.pem`: reused when
    they exist, belong together, carry `application_uri` and are valid; else (re)generated,
    self-signed, with the host's name as DNS name. The key file is readable by its owner only.
    Raises OSError when the directory cannot be written."""
    cert_path = directory / f"{stem}.der"
    key_path = directory / f"{stem}.key.pem"
    reason = "none was there"
    if cert_path.exists() and key_path.exists():
        try:
            cert = read_certificate(cert_path)
            key = read_private_key(key_path)
        except ValueError as exc:
            return _generate(cert_path, key_path, application_uri, name, str(exc))
        now = datetime.datetime.now(datetime.UTC)
        if cert.public_key() != key.public_key():
            reason = "the key did not match it"
        elif application_uri not in application_uris(cert):
            reason = (
                f"it was made for another application URI ({', '.join(application_uris(cert))})"
            )
        elif not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            reason = "it had expired"
        else:
            return SelfSigned(cert_path, key_path, False, "")
    return _generate(cert_path, key_path, application_uri, name, reason)


def _generate(
    cert_path: Path, key_path: Path, application_uri: str, name: str, reason: str
) -> SelfSigned:
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    host = socket.gethostname()
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    names.extend(x509.DNSName(h) for h in dict.fromkeys([host, "localhost"]))
    cert = cert_gen.generate_self_signed_app_certificate(
        key,
        name,
        {"organizationName": "iccp-gateway"},
        names,
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        SELF_SIGNED_DAYS,
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(cert_gen.dump_private_key_as_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return SelfSigned(cert_path, key_path, True, reason)
