"""Endpoint roles: which side of an ICCP link opens the TCP connection (sans-IO settings).

TCP role and TASE.2 role are independent (as in libtase2's active/passive endpoints): the
side that opens the TCP connection also sends the COTP CR and the ACSE AARQ (it is the
association initiator); once associated, either side may be the MMS requester. So

* ``active`` (the default of both adapters): a ``tase2-client`` calls its server; a
  ``tase2-server`` that calls out opens the connection to its remote client;
* ``passive``: a ``tase2-client`` listens and the remote server calls in; a
  ``tase2-server`` listens (its classic role).

TLS follows the TCP role: the side that connects is the TLS client. :class:`RemoteAddress`
is one peer address (``host:port``), :class:`AllowList` the calling addresses a listener
accepts.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AllowList",
    "ConnectMode",
    "ListenAddress",
    "RemoteAddress",
    "check_host",
    "check_networks",
    "in_networks",
    "parse_address",
    "with_default_port",
]


class ConnectMode(enum.StrEnum):
    """Who opens the TCP connection: ``active`` (this end calls) or ``passive`` (listens)."""

    ACTIVE = "active"
    PASSIVE = "passive"


_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")


def check_host(host: str) -> str:
    """``host`` if it is an IP address or a DNS name (RFC 1123 labels); raises ValueError."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    name = host.removesuffix(".")
    if not name or len(name) > 253 or not all(_LABEL.match(p) for p in name.split(".")):
        raise ValueError(
            f"host {host!r} is neither an IP address nor a host name "
            "(dot-separated labels of letters, digits and '-')"
        )
    return host


def with_default_port(value: Any, default_port: int) -> Any:
    """An address as written (text or ``{host, port}``) with ``default_port`` filled in
    when it names none; anything else (or text that does not parse) unchanged, for the
    field's own validation to report where it is."""
    if isinstance(value, str):
        try:
            return parse_address(value, default_port)
        except ValueError:
            return value
    if isinstance(value, dict) and "port" not in value:
        return {**value, "port": default_port}
    return value


def parse_address(text: str, default_port: int = 102) -> dict[str, Any]:
    """``host``, ``host:port``, ``[v6]:port`` -> ``{host, port}``; raises ValueError."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"address {text!r}: missing ']'")
        port = rest.removeprefix(":") if rest else str(default_port)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, str(default_port)
    if not host:
        raise ValueError(f"address {text!r} has no host")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"address {text!r}: port {port!r} is not a number") from None
    return {"host": host, "port": number}


class RemoteAddress(BaseModel):
    """One address of an ICCP peer; written ``host:port`` or ``{host, port}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: int = Field(default=102, ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_address(value)
        return value

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class ListenAddress(RemoteAddress):
    """Where a passive endpoint listens (a real port: its peer must know where to call)."""


def check_networks(value: tuple[str, ...]) -> tuple[str, ...]:
    """`value` if each entry is an IP address or network, else ValueError naming it."""
    for text in value:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not an IP address or network") from None
    return value


def in_networks(address: str | None, networks: tuple[str, ...]) -> bool:
    """True when `address` (a peer's IP) is in one of `networks` (checked entries)."""
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


class AllowList(BaseModel):
    """IP addresses or networks a listener accepts connections from (empty: any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    networks: tuple[str, ...] = ()

    @field_validator("networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_networks(value)

    def permits(self, address: str) -> bool:
        """True when ``address`` (the peer's IP) may connect."""
        return not self.networks or in_networks(address, self.networks)
