"""The bus's message stream: ordered, bounded, overflow counted."""

import asyncio

import pytest

from gateway.bus import PointBus
from gateway.messages import Message


def test_every_subscriber_gets_every_message_in_order():
    bus = PointBus()
    a, b = bus.subscribe_messages(name="a"), bus.subscribe_messages(name="b")
    for i in range(3):
        assert bus.publish_message(Message(f"m{i}".encode(), message_id=i)) == 2
    assert [m.message_id for m in a.drain()] == [0, 1, 2]
    assert [m.text for m in b.drain()] == [b"m0", b"m1", b"m2"]
    assert a.drain() == [] and a.delivered == 3


def test_a_slow_consumer_keeps_the_newest_and_counts_what_it_lost():
    bus = PointBus()
    sub = bus.subscribe_messages(maxlen=2)
    for i in range(5):
        bus.publish_message(Message(b"x", message_id=i))
    assert [m.message_id for m in sub.drain()] == [3, 4]
    assert sub.overflow == 3
    with pytest.raises(ValueError, match="at least one"):
        bus.subscribe_messages(maxlen=0)


async def test_wait_wakes_on_a_message_and_close_stops_delivery():
    bus = PointBus()
    sub = bus.subscribe_messages()
    waiter = asyncio.create_task(sub.wait(timeout=2))
    await asyncio.sleep(0)
    bus.publish_message(Message(b"trip at 14:02", reference=7, origin="iccp"))
    [msg] = await waiter
    assert (msg.reference, msg.origin) == (7, "iccp")
    assert await sub.wait(timeout=0.01) == []
    sub.close()
    assert bus.publish_message(Message(b"late")) == 0


async def test_a_waiting_consumer_stops_when_cancelled_just_as_a_message_arrives():
    bus = PointBus()
    sub = bus.subscribe_messages()

    async def pump():
        while True:
            await sub.wait(5.0)

    task = asyncio.create_task(pump())
    await asyncio.sleep(0.01)
    bus.publish_message(Message(b"x", message_id=1))  # wakes the waiter in the cancel's step
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert done
