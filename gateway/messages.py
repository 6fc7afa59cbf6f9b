"""The message stream: operator text messages between adapters (no point, no protocol).

An adapter that receives a message (an ICCP information message, an MQTT notice, a REST
post) publishes a :class:`Message`; every :class:`MessageSubscription` gets it in order,
in a bounded buffer that drops the oldest message and counts it in ``overflow`` when the
consumer falls behind. ``origin`` names the publisher so that an adapter can skip its own
messages (a gateway relaying messages must not echo them back to where they came from).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Message", "MessageStream", "MessageSubscription"]


@dataclass(frozen=True, slots=True)
class Message:
    """One text message.

    ``reference`` names the message class agreed between the parties (TASE.2
    InfoReference), ``local_reference`` the sender's own reference, ``message_id`` the
    message number; ``text`` is the body (bytes: a message need not be text).
    """

    text: bytes
    reference: int = 0
    local_reference: int = 0
    message_id: int = 0
    origin: str = ""
    ts: float = field(default_factory=time.time)


class MessageSubscription:
    """A consumer's bounded, ordered view of the message stream."""

    def __init__(self, stream: MessageStream, maxlen: int, name: str) -> None:
        self.name = name
        self.maxlen = maxlen
        self.overflow = 0
        self.delivered = 0
        self._stream = stream
        self._queue: deque[Message] = deque(maxlen=maxlen)
        self._event = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def _offer(self, message: Message) -> None:
        if len(self._queue) == self.maxlen:
            self.overflow += 1  # the deque drops the oldest by itself
        self._queue.append(message)
        self._event.set()

    def drain(self) -> list[Message]:
        """Every message pending now, oldest first, and clear them."""
        self._event.clear()
        out = list(self._queue)
        self._queue.clear()
        self.delivered += len(out)
        return out

    async def wait(self, timeout: float | None = None) -> list[Message]:
        """Wait until a message is pending (or the time-out passes), then drain."""
        if not self._queue:
            try:
                async with asyncio.timeout(timeout):  # wait_for can swallow a cancel (3.11)
                    await self._event.wait()
            except TimeoutError:
                return []
        return self.drain()

    def close(self) -> None:
        """Stop receiving messages."""
        self._stream.unsubscribe(self)


class MessageStream:
    """Fan-out of :class:`Message` objects to subscribers (call it from the event loop)."""

    def __init__(self) -> None:
        self._subs: list[MessageSubscription] = []
        self.published = 0

    def publish(self, message: Message) -> int:
        """Give ``message`` to every subscriber; returns how many got it."""
        self.published += 1
        for sub in self._subs:
            sub._offer(message)
        return len(self._subs)

    def subscribe(self, *, maxlen: int = 1000, name: str = "") -> MessageSubscription:
        """A new subscription keeping at most ``maxlen`` unread messages."""
        if maxlen < 1:
            raise ValueError("a message subscription needs room for at least one message")
        sub = MessageSubscription(self, maxlen, name)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: MessageSubscription) -> None:
        """Forget ``sub`` (no error if it is not subscribed)."""
        if sub in self._subs:
            self._subs.remove(sub)

    @property
    def subscriptions(self) -> list[MessageSubscription]:
        """The current subscriptions."""
        return list(self._subs)
