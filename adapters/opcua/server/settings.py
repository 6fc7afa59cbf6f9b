"""Settings of the `opcua-server` adapter (sans-IO).

Served points come from the YAML `points:` and/or a CSV `points_file` with the same columns
(`gateway.pointfiles`). Each entry's `point` is a bus point id or a glob pattern (`*`, `?`,
`[...]`); the first entry that matches a bus point decides how it is served.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.pointfiles import load_points_csv, resolve_path
from gateway.registry import AdapterSettings

MAX_PER_FOLDER = 100
"""asyncua slows down badly with large flat folders (10,000 nodes in one: 145 s)."""

_NODEID = re.compile(r"^(i=\d{1,10}|s=.+|g=[0-9A-Fa-f-]{36}|b=.+)$")


def is_pattern(point: str) -> bool:
    """True when a served entry's `point` is a glob pattern."""
    return any(c in point for c in "*?[")


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
        if self.folder is not None and any(not p.strip() for p in self.folder.split("/")):
            raise ValueError(f"point {self.point!r}: folder {self.folder!r} has an empty part")
        return self

    def matches(self, point: str) -> bool:
        """Whether this entry serves bus point `point`."""
        if is_pattern(self.point):
            return fnmatch.fnmatchcase(point, self.point)
        return point == self.point


class UserEntry(BaseModel):
    """A user name and password a client may log in with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    password: str = Field(min_length=1)
    write: bool = Field(default=True, description="may write writable points")


class OpcuaServerSettings(AdapterSettings):
    """Settings of an `opcua-server` adapter: endpoint, namespace, served points, folders,
    security and users.

    `group_by`: `prefix` puts each point in the folder named by the part of its id before
    the first `separator`; `folder` uses each entry's `folder`; `none` puts every point under
    the root. An entry's `folder` always wins. A folder never holds more than
    `max_per_folder` nodes: beyond that its children go to numbered subfolders (001, 002...).

    Security: only the policy `none` is offered (no certificate handling yet). `anonymous`
    says what a client that does not log in may do: `write`, `read` (writes refused with
    BadUserAccessDenied) or `none` (not let in). `users` log in with name and password.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=4840, ge=1, le=65535)
    namespace: str = Field(default="urn:iccp-gateway", min_length=1)
    root: str = Field(default="Gateway", min_length=1, description="folder under Objects")
    points: list[ServedEntry] = Field(default_factory=list)
    points_file: str | None = None
    group_by: Literal["none", "prefix", "folder"] = "prefix"
    separator: str = Field(default="_", min_length=1)
    max_per_folder: int = Field(default=MAX_PER_FOLDER, ge=2, le=MAX_PER_FOLDER)
    discrete_type: Literal["int32", "int64"] = "int32"
    state_as: Literal["int32", "boolean"] = "int32"
    security_policies: list[Literal["none"]] = Field(default=["none"], min_length=1)
    anonymous: Literal["none", "read", "write"] = "write"
    users: list[UserEntry] = Field(default_factory=list)
    refresh_period: float = Field(
        default=5.0, gt=0, description="how often (s) patterns are matched against the bus again"
    )
    command_timeout: float = Field(default=10.0, gt=0, description="for a client's write (s)")

    _file_points: list[ServedEntry] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _load_and_check(self, info: ValidationInfo) -> OpcuaServerSettings:
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
    def endpoint(self) -> tuple[str, int, str, str, tuple[str, ...], str, tuple[UserEntry, ...]]:
        """What the listening server depends on: a change here needs a restart."""
        return (
            self.host,
            self.port,
            self.namespace,
            self.root,
            tuple(self.security_policies),
            self.anonymous,
            tuple(self.users),
        )
