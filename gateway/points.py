"""The point model every adapter speaks: definitions, TASE.2 quality and values.

TASE.2's quality model is the gateway's lingua franca. `Quality` *is* the `Data_Flags`
octet (IEC 60870-6-802, see tase2-reference.md section 6.4), so encoding it for the wire is
free and comparing two qualities is an integer comparison on the hot path.
"""

from __future__ import annotations

import enum
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.names import MAX_IDENTIFIER_LENGTH, is_iccp_object_id


class PointKind(enum.StrEnum):
    """What a point's value is: an analog, a two-bit state, or an integer."""

    REAL = "real"
    STATE = "state"
    DISCRETE = "discrete"


class Validity(enum.IntEnum):
    """TASE.2 validity (Data_Flags bits 2-3)."""

    VALID = 0
    HELD = 1
    SUSPECT = 2
    NOT_VALID = 3


class Source(enum.IntEnum):
    """TASE.2 current source (Data_Flags bits 4-5)."""

    TELEMETERED = 0
    CALCULATED = 1
    ENTERED = 2
    ESTIMATED = 3


class State(enum.IntEnum):
    """TASE.2 two-bit state (Data_State bits 0-1)."""

    BETWEEN = 0
    OFF = 1
    ON = 2
    INVALID = 3


_VALIDITY_SHIFT = 4
_SOURCE_SHIFT = 2
_ABNORMAL = 0x02
_TIME_INVALID = 0x01
_STATE_SHIFT = 6


class Quality(int):
    """TASE.2 quality: validity, current source, normal-value and timestamp-quality.

    The integer value is the `Data_Flags` octet as it goes on the wire (bits 0-1, the
    state bits of `Data_State`, are always zero). Instances are interned, one per octet.
    """

    __slots__ = ()

    _cache: dict[int, Quality]

    def __new__(
        cls,
        validity: Validity = Validity.VALID,
        source: Source = Source.TELEMETERED,
        abnormal: bool = False,
        timestamp_invalid: bool = False,
    ) -> Quality:
        octet = (
            (int(validity) << _VALIDITY_SHIFT)
            | (int(source) << _SOURCE_SHIFT)
            | (_ABNORMAL if abnormal else 0)
            | (_TIME_INVALID if timestamp_invalid else 0)
        )
        return cls.from_flags(octet)

    @classmethod
    def from_flags(cls, octet: int) -> Quality:
        """Decode a `Data_Flags` (or `Data_State`) octet; the state bits are ignored."""
        if not 0 <= octet <= 0xFF:
            raise ValueError(f"quality octet out of range: {octet!r}")
        return cls._cache[octet & 0x3F]

    @property
    def validity(self) -> Validity:
        return Validity((self >> _VALIDITY_SHIFT) & 3)

    @property
    def source(self) -> Source:
        return Source((self >> _SOURCE_SHIFT) & 3)

    @property
    def abnormal(self) -> bool:
        """NormalValue bit: the value is off-normal."""
        return bool(self & _ABNORMAL)

    @property
    def timestamp_invalid(self) -> bool:
        """TimeStampQuality bit: the time stamp is not the source's own or not reliable."""
        return bool(self & _TIME_INVALID)

    @property
    def is_good(self) -> bool:
        return self.validity is Validity.VALID

    def replace(
        self,
        *,
        validity: Validity | None = None,
        source: Source | None = None,
        abnormal: bool | None = None,
        timestamp_invalid: bool | None = None,
    ) -> Quality:
        """A copy with some fields changed."""
        return Quality(
            self.validity if validity is None else validity,
            self.source if source is None else source,
            self.abnormal if abnormal is None else abnormal,
            self.timestamp_invalid if timestamp_invalid is None else timestamp_invalid,
        )

    def to_flags(self) -> int:
        """The `Data_Flags` octet."""
        return int(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, as published to IT systems."""
        return {
            "validity": self.validity.name.lower(),
            "source": self.source.name.lower(),
            "normal": not self.abnormal,
            "timestamp_valid": not self.timestamp_invalid,
        }

    def __repr__(self) -> str:
        extra = ""
        if self.abnormal:
            extra += ", abnormal"
        if self.timestamp_invalid:
            extra += ", timestamp_invalid"
        return f"Quality({self.validity.name}, {self.source.name}{extra})"

    __str__ = __repr__


def _build_quality_cache() -> None:
    cache: dict[int, Quality] = {}
    for octet in range(0x40):
        cache[octet] = int.__new__(Quality, octet)
    Quality._cache = cache


_build_quality_cache()

GOOD = Quality()
NOT_VALID = Quality(Validity.NOT_VALID)


def encode_state(state: State, quality: Quality) -> int:
    """The `Data_State` octet: state in bits 0-1, quality in bits 2-7."""
    return (int(state) << _STATE_SHIFT) | int(quality)


def decode_state(octet: int) -> tuple[State, Quality]:
    """Split a `Data_State` octet into its state and quality."""
    return State((octet >> _STATE_SHIFT) & 3), Quality.from_flags(octet)


class PointValue(NamedTuple):
    """One value of one point, as the bus holds and delivers it.

    `ts` is the source time stamp in POSIX seconds (UTC); `cov` is the TASE.2 COV counter,
    bumped on every recorded change and wrapping at 16 bits.
    """

    point: str
    value: float | int
    quality: Quality
    ts: float
    cov: int

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.ts, UTC)

    def to_dict(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "value": self.value,
            "quality": self.quality.to_dict(),
            "ts": self.timestamp.isoformat().replace("+00:00", "Z"),
            "ts_ms": round(self.ts * 1000),
            "cov": self.cov,
        }


def now() -> float:
    """The gateway's clock for receive time stamps (POSIX seconds, UTC)."""
    return time.time()


class PointDef(BaseModel):
    """A point: its ICCP object name, kind and what the ISN file says about it.

    `usage_multiplier` and `usage_adder` are the ISN UsageMultiplier/UsageAdder, applied as
    `a * x + b` to raw values on the way in. `target_freshness` (seconds) is the ISN
    TargFresh: a point not updated within it (plus the bus grace) turns suspect.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: PointKind = PointKind.REAL
    units: str = ""
    description: str = ""
    usage_multiplier: float = 1.0
    usage_adder: float = 0.0
    target_freshness: float | None = Field(default=None, gt=0)
    deadband: float = Field(default=0.0, ge=0)
    isn: dict[str, str] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        check_point_id(value)
        return value


def check_point_id(name: str) -> None:
    """Raise ValueError unless `name` is a valid ICCP object name (see `gateway.names`)."""
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise ValueError(f"point id {name!r} is longer than {MAX_IDENTIFIER_LENGTH} characters")
    if not is_iccp_object_id(name):
        raise ValueError(f"point id {name!r} must start with a letter and use only A-Z a-z 0-9 $ _")
