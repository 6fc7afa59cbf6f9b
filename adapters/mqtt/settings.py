"""Settings of an `mqtt` adapter, as written inline in a config's `adapters:` entry."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from adapters.mqtt.codec import Topics, check_topic, compile_path
from adapters.mqtt.filters import Rule
from gateway.backoff import BackoffSeconds, BackoffSettings
from gateway.registry import AdapterSettings


class TlsSettings(BaseModel):
    """TLS to the broker: CA bundle, optional client certificate, verification."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: str | None = Field(default=None, description="CA bundle; default: system CAs")
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = Field(default=False, description="skip host name verification (labs)")


class PublishPoint(BaseModel):
    """A bus point published to `<prefix>/<site>/<point>`, with its own rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    deadband: float = Field(default=0.0, ge=0, description="minimum change to publish")
    min_interval: float = Field(default=0.0, ge=0, description="seconds between messages")
    retain: bool | None = Field(default=None, description="default: the adapter's `retain`")

    @property
    def rule(self) -> Rule:
        return Rule(self.deadband, self.min_interval)


class TopicBinding(BaseModel):
    """A subscribed topic feeding one point: a bare number, or a number at a JSON path.

    `scale`/`offset` convert the raw number before the point's ISN multiplier/adder; `ts_path`
    picks the source time stamp (epoch s, epoch ms or ISO 8601) from a JSON payload.
    `command_topic`, when set, is where commands for the point are published (QoS 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    point: str
    path: str | None = None
    ts_path: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    qos: Literal[0, 1] = 1
    command_topic: str | None = None

    @field_validator("topic", "command_topic")
    @classmethod
    def _check_topic(cls, value: str | None) -> str | None:
        return None if value is None else check_topic(value)

    @field_validator("path", "ts_path")
    @classmethod
    def _check_path(cls, value: str | None) -> str | None:
        if value is not None:
            compile_path(value)
        return value


class MqttSettings(AdapterSettings, BackoffSettings):
    """Settings of an `mqtt` adapter: connection, publications, subscriptions, commands."""

    # connection
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(default="", description="default: iccp-gateway-<adapter name>")
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsSettings | None = None
    mqtt_version: Literal["5", "3.1.1"] = "5"
    clean_session: bool = True
    session_expiry: int = Field(default=0, ge=0, description="MQTT 5 session expiry (s)")
    keepalive: int = Field(default=30, ge=5, le=65535)
    connect_timeout: float = Field(default=10.0, gt=0)
    # the back-off of BackoffSettings, still accepting the names it had here before
    backoff_initial: BackoffSeconds = Field(
        default=0.5, validation_alias=AliasChoices("backoff_initial", "reconnect_min")
    )
    backoff_max: BackoffSeconds = Field(
        default=30.0, validation_alias=AliasChoices("backoff_max", "reconnect_max")
    )

    # topics
    prefix: str = "iccp"
    site: str = "gateway"
    status_topic: str | None = Field(default=None, description="default: <prefix>/<site>/_status")
    batch_topic: str | None = Field(default=None, description="default: <prefix>/<site>/_batch")

    # publishing
    publish: list[PublishPoint] = Field(default_factory=list)
    qos: Literal[0, 1] = 0
    retain: bool = False
    batch_size: int = Field(default=0, ge=0, description="0: one message per point")
    snapshot_on_connect: bool = True
    buffer_size: int = Field(default=10_000, ge=1, description="QoS 1 store-and-forward bound")
    buffer_file: str | None = Field(default=None, description="keep the QoS 1 buffer on disk")
    max_inflight: int = Field(default=20, ge=1, le=65535)

    # subscribing and commands
    subscribe: list[TopicBinding] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list, description="points settable over MQTT")

    @field_validator("mqtt_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("publish", mode="before")
    @classmethod
    def _bare_point_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"point": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> MqttSettings:
        self.topics  # noqa: B018 - validates prefix, site and the topic overrides
        for topic in (self.status_topic, self.batch_topic):
            if topic is not None:
                check_topic(topic)
        _no_duplicates("publish", [p.point for p in self.publish])
        _no_duplicates("subscribe", [b.point for b in self.subscribe])
        if self.session_expiry and self.mqtt_version != "5":
            raise ValueError("session_expiry needs mqtt_version 5")
        return self

    @property
    def topics(self) -> Topics:
        return Topics.build(self.prefix, self.site, self.status_topic, self.batch_topic)

    def owned_points(self) -> set[str]:
        """Points fed by subscribed topics."""
        return {b.point for b in self.subscribe}

    def consumed_points(self) -> set[str]:
        """Points published, and points that MQTT commands may set."""
        return {p.point for p in self.publish} | set(self.commands)


def _no_duplicates(section: str, points: list[str]) -> None:
    seen: set[str] = set()
    for point in points:
        if point in seen:
            raise ValueError(f"{section}: point {point!r} is listed twice")
        seen.add(point)
