"""MQTT adapter (type `mqtt`): publish bus points, take points and commands from topics.

The sans-IO parts (payloads and topics, the store-and-forward buffer, publication rules) live
in `codec`, `buffer` and `filters`; `link` drives paho-mqtt from the asyncio event loop and
`adapter` binds it all to the point bus.
"""

from adapters.mqtt.adapter import MqttAdapter, MqttStats
from adapters.mqtt.settings import MqttSettings, PublishPoint, TlsSettings, TopicBinding

__all__ = [
    "MqttAdapter",
    "MqttSettings",
    "MqttStats",
    "PublishPoint",
    "TlsSettings",
    "TopicBinding",
]
