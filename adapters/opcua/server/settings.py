"""Settings of the `opcua-server` adapter (sans-IO).

Served points come from the YAML `points:` and/or a CSV `points_file` with the same columns
(`gateway.pointfiles`). Each entry's `point` is a bus point id or a glob pattern (`*`, `?`,
`[...]`); the first entry that matches a bus point decides how it is served.

Certificate files (`certificate`, `private_key`, `trusted_certificates`, a user's
`certificate`) are relative to the configuration file's directory; they are read and checked
here, so a missing or bad one fails the configuration naming it.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapters.opcua.security import (
    check_pair,
    read_certificate,
    read_certificates,
    read_private_key,
)
from gateway.pointfiles import load_points_csv, resolve_path
from gateway.registry import AdapterSettings

MAX_PER_FOLDER = 100
"""asyncua slows down badly with large flat folders (10,000 nodes in one: 145 s)."""

SecurityPolicy = Literal[
    "none",
    "Basic256Sha256_Sign",
    "Basic256Sha256_SignAndEncrypt",
    "Aes128Sha256RsaOaep_Sign",
    "Aes128Sha256RsaOaep_SignAndEncrypt",
    "Aes256Sha256RsaPss_Sign",
    "Aes256Sha256RsaPss_SignAndEncrypt",
]
"""The endpoints a server may offer: no security, or a policy in Sign or SignAndEncrypt mode."""
DEFAULT_CERTIFICATE_DIR = "state/opcua"
"""Where a generated server certificate goes, relative to the configuration file."""
DEFAULT_ADDRESS_SPACE_CACHE = "state/opcua"
"""Where the standard address space is kept, relative to the configuration file."""

_NODEID = re.compile(r"^(i=\d{1,10}|s=.+|g=[0-9A-Fa-f-]{36}|b=.+)$")


def is_pattern(point: str) -> bool:
    """True when a served entry's `point` is a glob pattern."""
    return any(c in point for c in "*?[")


FOLDER_SCHEME = "folder:"
"""The string NodeIds of the folders begin so (`folder:<root>` the root, `folder:<root>/a/b`
the folder a/b under it); a point's cannot (point ids have no ':', a `nodeid` may not)."""


class ServedEntry(BaseModel):
    """One `points` entry: a bus point (or glob) served as an OPC UA variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str = Field(min_length=1)
    nodeid: str | None = Field(
        default=None,
        description="identifier in the server's namespace (i=.., s=.., g=.., b=..); "
        "default s=<point id>; only for an exact point id",
    )
    folder: str | None = Field(
        default=None, description="folder path under the root, parts split by '/'"
    )
    writable: bool = Field(default=False, description="client writes become bus commands")
    type: Literal["auto", "int32", "int64", "boolean"] = Field(
        default="auto",
        description="auto: Double for real, the adapter's discrete_type and state_as "
        "otherwise; int32/int64 for a discrete or state point, boolean for a state point",
    )

    @field_validator("nodeid", "folder", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check(self) -> ServedEntry:
        if is_pattern(self.point):
            if self.nodeid is not None:
                raise ValueError(f"{self.point!r} is a pattern: it cannot take a nodeid")
            try:
                re.compile(fnmatch.translate(self.point))
            except re.error as exc:
                raise ValueError(f"{self.point!r} is not a valid pattern: {exc}") from None
        if self.nodeid is not None and not _NODEID.match(self.nodeid):
            raise ValueError(
                f"point {self.point!r}: nodeid {self.nodeid!r} is not i=<n>, s=<text>, "
                "g=<guid> or b=<bytes> (the namespace is the server's own)"
            )
        if self.nodeid is not None and self.nodeid.startswith(f"s={FOLDER_SCHEME}"):
            raise ValueError(
                f"point {self.point!r}: nodeid {self.nodeid!r}: s={FOLDER_SCHEME}... names "
                "the server's folders"
            )
        if self.folder is not None and any(not p.strip() for p in self.folder.split("/")):
            raise ValueError(f"point {self.point!r}: folder {self.folder!r} has an empty part")
        return self

    def matches(self, point: str) -> bool:
        """Whether this entry serves bus point `point`."""
        if is_pattern(self.point):
            return fnmatch.fnmatchcase(point, self.point)
        return point == self.point


def _resolve(path: str | None, info: ValidationInfo) -> str | None:
    return None if path is None else str(resolve_path(path, info))


class UserEntry(BaseModel):
    """A user a client may log in as: by name and password, or by presenting the user
    certificate `certificate` (an X509 identity token)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    password: str | None = Field(default=None, min_length=1)
    certificate: str | None = Field(
        default=None, description="the user's certificate file (PEM/DER) instead of a password"
    )
    write: bool = Field(default=True, description="may write writable points")

    _der: bytes = PrivateAttr(default=b"")

    @field_validator("certificate")
    @classmethod
    def _resolve_certificate(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve(value, info)

    @model_validator(mode="after")
    def _check(self) -> UserEntry:
        if (self.password is None) == (self.certificate is None):
            raise ValueError(f"user {self.name!r}: give a password or a certificate (one of them)")
        if self.certificate is not None:
            cert = read_certificate(Path(self.certificate), f"user {self.name!r}: certificate")
            self._der = cert.public_bytes(serialization.Encoding.DER)
        return self

    @property
    def certificate_der(self) -> bytes:
        """The user certificate (DER), empty for a name/password user."""
        return self._der


class OpcuaServerSettings(AdapterSettings):
    """Settings of an `opcua-server` adapter: endpoint, namespace, served points, folders,
    security and users.

    `group_by`: `prefix` puts each point in the folder named by the part of its id before
    the first `separator`; `folder` uses each entry's `folder`; `none` puts every point under
    the root. An entry's `folder` always wins. A folder never holds more than
    `max_per_folder` nodes: beyond that its children go to numbered subfolders (001, 002...).

    Security: `security_policies` are the endpoints offered: `none` and/or a policy with its
    mode (`Basic256Sha256_SignAndEncrypt`, `Aes256Sha256RsaPss_Sign`...). A secure one needs
    the server's `certificate` and `private_key` (PEM/DER files; the certificate's
    subjectAltName must carry `application_uri`); without them a self-signed pair is made
    once in `certificate_dir` (default `state/opcua` next to the configuration file) and
    reused after a restart. A client's certificate is accepted only if it, or the CA that
    issued it, is in `trusted_certificates` (files, or directories of *.der/*.pem/*.crt/*.cer),
    and its application URI is in it; these are read again at each reload, without a restart.
    `anonymous` says what a client that does not log in may do: `read` (the default: its
    writes refused with BadUserAccessDenied), `write` or `none` (not let in). `users` log in
    with a name and password, or with a user certificate (which needs a secure policy to be
    offered).

    The standard OPC UA address space is made once into `address_space_cache` and loaded
    from there node by node as used: about 50 MB less memory, and a faster start, than
    building it at every start. A change of it applies at the next start.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=4840, ge=1, le=65535)
    namespace: str = Field(default="urn:iccp-gateway", min_length=1)
    root: str = Field(
        default="Gateway", min_length=1, pattern=r"^[^/]+$", description="folder under Objects"
    )
    points: list[ServedEntry] = Field(default_factory=list)
    points_file: str | None = None
    group_by: Literal["none", "prefix", "folder"] = "prefix"
    separator: str = Field(default="_", min_length=1)
    max_per_folder: int = Field(default=MAX_PER_FOLDER, ge=2, le=MAX_PER_FOLDER)
    discrete_type: Literal["int32", "int64"] = "int32"
    state_as: Literal["int32", "boolean"] = "int32"
    security_policies: list[SecurityPolicy] = Field(default=["none"], min_length=1)
    application_uri: str | None = Field(
        default=None,
        min_length=1,
        description="the server's application URI (default urn:iccp-gateway:<adapter name>)",
    )
    certificate: str | None = Field(default=None, description="the server's certificate file")
    private_key: str | None = Field(default=None, description="its private key (unencrypted)")
    certificate_dir: str | None = Field(
        default=None,
        validate_default=True,
        description="where a generated certificate is kept (default state/opcua)",
    )
    address_space_cache: str | None = Field(
        default=DEFAULT_ADDRESS_SPACE_CACHE,
        validate_default=True,
        description="where the standard address space is kept between starts (default "
        "state/opcua); null builds it in memory at every start",
    )
    trusted_certificates: list[str] = Field(
        default_factory=list, description="client certificates or CAs (files or directories)"
    )
    anonymous: Literal["none", "read", "write"] = "read"
    users: list[UserEntry] = Field(default_factory=list)
    refresh_period: float = Field(
        default=5.0, gt=0, description="how often (s) patterns are matched against the bus again"
    )
    command_timeout: float = Field(
        default=3.0,
        gt=0,
        le=60.0,
        description="for a client's write (s); from 4 s on, clients that wait 4 s by default "
        "(asyncua's) give up first (a warning at start)",
    )

    _file_points: list[ServedEntry] = PrivateAttr(default_factory=list)
    _trusted: list[x509.Certificate] = PrivateAttr(default_factory=list)

    @field_validator("certificate", "private_key", "address_space_cache")
    @classmethod
    def _resolve_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve(value, info)

    @field_validator("certificate_dir", mode="before")
    @classmethod
    def _resolve_dir(cls, value: str | None, info: ValidationInfo) -> str:
        return str(resolve_path(value or DEFAULT_CERTIFICATE_DIR, info))

    @field_validator("trusted_certificates")
    @classmethod
    def _resolve_trusted(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [str(resolve_path(p, info)) for p in value]

    @model_validator(mode="after")
    def _load_and_check(self, info: ValidationInfo) -> OpcuaServerSettings:
        self._check_security()
        if self.points_file:
            self._file_points = load_points_csv(resolve_path(self.points_file, info), ServedEntry)
        problems: list[str] = []
        seen: dict[str, str] = {}
        for e in self.entries:
            if is_pattern(e.point):
                continue
            nodeid = e.nodeid or f"s={e.point}"
            other = seen.setdefault(nodeid, e.point)
            if other != e.point:
                problems.append(f"nodeid {nodeid} is given to {other} and {e.point}")
        names = [u.name for u in self.users]
        if len(set(names)) != len(names):
            problems.append("user names must be unique")
        if self.anonymous == "none" and not self.users:
            problems.append("anonymous none needs at least one user")
        if problems:
            raise ValueError("; ".join(problems[:20]))
        return self

    def _check_security(self) -> None:
        secure = self.secure
        if len(set(self.security_policies)) != len(self.security_policies):
            raise ValueError("security_policies: each policy once")
        if (self.certificate is None) != (self.private_key is None):
            raise ValueError("give both certificate and private_key, or neither")
        if self.certificate is not None and self.private_key is not None:
            cert = read_certificate(Path(self.certificate))
            key = read_private_key(Path(self.private_key))
            check_pair(cert, key, Path(self.certificate), Path(self.private_key))
        if secure and not self.trusted_certificates:
            raise ValueError(
                "a secure policy needs trusted_certificates: the client certificates (or the "
                "CAs that issued them) that may connect"
            )
        self._trusted = read_certificates([Path(p) for p in self.trusted_certificates])
        if not secure and any(u.certificate for u in self.users):
            raise ValueError(
                "a user certificate needs a secure policy (e.g. Basic256Sha256_SignAndEncrypt) "
                "in security_policies: the client signs with its key under it"
            )
        if self.application_uri is not None and self.application_uri == self.namespace:
            raise ValueError(
                "application_uri and namespace must differ (OPC UA namespace 1 is "
                "the application URI)"
            )

    @property
    def secure(self) -> bool:
        """Whether an endpoint with a security policy is offered."""
        return any(p != "none" for p in self.security_policies)

    @property
    def trusted(self) -> list[x509.Certificate]:
        """The certificates of `trusted_certificates`, as read when the settings were."""
        return list(self._trusted)

    @property
    def entries(self) -> list[ServedEntry]:
        """Every served entry: the YAML `points` then the `points_file` rows."""
        return [*self.points, *self._file_points]

    def entry_of(self, point: str) -> ServedEntry | None:
        """The first entry that serves bus point `point`, if any."""
        for e in self.entries:
            if e.matches(point):
                return e
        return None

    def folder_of(self, point: str, entry: ServedEntry) -> tuple[str, ...]:
        """The logical folder path of a served point (before any numbered split)."""
        if entry.folder is not None:
            return tuple(p.strip() for p in entry.folder.split("/"))
        if self.group_by == "prefix":
            head, sep, _ = point.partition(self.separator)
            return (head,) if sep and head else ()
        return ()

    def consumed_points(self) -> set[str]:
        return {e.point for e in self.entries if not is_pattern(e.point)}

    @property
    def endpoint(self) -> tuple[object, ...]:
        """What the listening server depends on: a change here needs a restart (the trusted
        certificates do not: they change in place)."""
        return (
            self.host,
            self.port,
            self.namespace,
            self.root,
            tuple(self.security_policies),
            self.application_uri,
            self.certificate,
            self.private_key,
            self.certificate_dir,
            self.anonymous,
            tuple((u, u.certificate_der) for u in self.users),
        )
