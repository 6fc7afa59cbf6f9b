"""What one probe run found (:class:`ProbeResult`, printed as text or JSON) and learnt of
the server's objects on the way (:class:`Known`: the declared types, the listed names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.types import TypeSpecification

__all__ = ["Known", "ProbeResult", "Types", "declared_type"]

Types = dict[ObjectName, TypeSpecification | str]
"""The declared type of each object asked for in this run, or why the server gave none."""


def declared_type(types: Types, name: ObjectName) -> TypeSpecification | None:
    """The type the server declared for ``name``; None when it gave none or was not asked."""
    spec = types.get(name)
    return None if isinstance(spec, str) else spec


@dataclass
class ProbeResult:
    """Everything the probe found (printed as text or JSON)."""

    address: str
    identity: dict[str, str] | None = None
    pdu_size: int = 0
    version: str | None = None
    features: list[int] | None = None
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    vcc_variables: dict[str, str] = field(default_factory=dict)
    tase2: bool = False
    missing: list[str] = field(default_factory=list)
    reads: dict[str, Any] = field(default_factory=dict)
    watch: dict[str, Any] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Known:
    """What this run learnt of the server's objects: the declared ``types`` (asked once per
    object) and the names of each ``listed`` scope (a domain, None for VCC)."""

    types: Types = field(default_factory=dict)
    listed: dict[str | None, set[str]] = field(default_factory=dict)
