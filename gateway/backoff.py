"""Capped exponential back-off with jitter, for every retry loop in the gateway, and the two
settings that configure it in every adapter that reconnects."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

__all__ = ["Backoff", "BackoffSeconds", "BackoffSettings"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential back-off with jitter between restarts of a failing adapter."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2

    def base(self, failures: int) -> float:
        """The delay after `failures` failures in a row, before jitter: `initial`, doubling
        per failure, at most `maximum`."""
        return min(self.maximum, self.initial * 2.0 ** max(0, failures - 1))

    def delay(self, failures: int, rng: Callable[[], float] | None = None) -> float:
        """`base(failures)` moved by up to `jitter` (a fraction) either way; `rng` draws the
        uniform [0, 1) number for that (default: the `random` module's)."""
        draw = (rng or random.random)()
        return self.base(failures) * (1 + self.jitter * (2 * draw - 1))


BackoffSeconds = Annotated[float, Field(gt=0)]
"""A back-off delay setting: seconds, more than 0."""


class BackoffSettings(BaseModel):
    """The reconnect back-off settings, under the same names in every adapter that
    reconnects (`modbus-client` devices, `mqtt`, `tase2-client`): the first retry after
    `backoff_initial` seconds, the delay doubling up to `backoff_max`.

    A subclass may re-declare a field for another default or for the old names it still
    accepts (`validation_alias=AliasChoices(new, old)`).
    """

    backoff_initial: BackoffSeconds = Field(default=0.5, description="first reconnect delay (s)")
    backoff_max: BackoffSeconds = Field(default=30.0, description="longest reconnect delay (s)")

    @model_validator(mode="after")
    def _check_backoff(self) -> Self:
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must not be below backoff_initial")
        return self
