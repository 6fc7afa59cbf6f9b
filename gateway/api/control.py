"""What the REST API may ask of the gateway besides reading it: check and apply a config.

:class:`Operations` is the API's handle on a running gateway. The service provides one
that applies a configuration exactly as a reload of its file does (same checks, same
errors, same limit on removed adapters) and writes the file, so that the next reload and
the next start run what the API applied. :class:`RuntimeOperations` serves a runtime that
has no file (tests, embedding): it checks and applies, and writes nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import yaml

from gateway.config import ConfigIssue, GatewayConfig, check_config_text
from gateway.runtime import Changes, Runtime

__all__ = ["ConfigRefused", "Operations", "RuntimeOperations", "config_as_yaml"]


class ConfigRefused(Exception):
    """A valid configuration the gateway will not apply (e.g. it removes too many adapters)."""


class Operations(Protocol):
    """The gateway as the API sees it."""

    runtime: Runtime

    @property
    def path(self) -> Path | None:
        """The configuration file, if there is one."""
        ...

    def config_text(self) -> str:
        """The running configuration as YAML (the file's own text when there is one)."""
        ...

    async def check_text(self, text: str) -> tuple[GatewayConfig, list[ConfigIssue]]:
        """Check a proposed configuration; raises ConfigError with every issue."""
        ...

    async def apply_text(self, text: str, origin: str) -> Changes:
        """Check and apply a configuration; raises ConfigError or ConfigRefused."""
        ...


def config_as_yaml(config: GatewayConfig) -> str:
    """A configuration model as YAML (the runtime's own, when there is no file)."""
    data = config.model_dump(mode="json", exclude_defaults=True)
    data.pop("point_files", None)  # their points are in `points` already
    adapters = []
    for adapter in data.get("adapters", []):
        settings = adapter.pop("settings", {})
        adapters.append({**adapter, **settings})  # the file's form: settings inline
    if adapters:
        data["adapters"] = adapters
    return yaml.safe_dump(data, sort_keys=False)


class RuntimeOperations:
    """:class:`Operations` of a runtime without a configuration file."""

    def __init__(self, runtime: Runtime, base: Path | None = None) -> None:
        self.runtime = runtime
        self.path: Path | None = None
        self.base = base or Path.cwd()

    def config_text(self) -> str:
        return config_as_yaml(self.runtime.config)

    async def check_text(self, text: str) -> tuple[GatewayConfig, list[ConfigIssue]]:
        return await asyncio.to_thread(check_config_text, text, "<posted>", self.base)

    async def apply_text(self, text: str, origin: str) -> Changes:
        config, _ = await self.check_text(text)
        return await self.runtime.apply(config, origin)
