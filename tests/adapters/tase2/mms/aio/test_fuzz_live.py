"""Random and mutated bytes against a live server connection.

The only acceptable outcomes are a clean close, a Reject (or a confirmed answer when the
mutation happened to stay valid); never a hang, never a huge allocation, and the server keeps
serving other associations throughout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random

import pytest

from adapters.tase2.iso import stack
from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.aio.server import MmsServer
from adapters.tase2.mms.association import (
    Association,
    AssociationClosed,
    AssociationConfig,
    AssociationEstablished,
    Event,
    PduReceived,
    Role,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import (
    ConfirmedError,
    ConfirmedRequest,
    ConfirmedResponse,
    Reject,
    encode_pdu,
)
from adapters.tase2.mms.services import GetNameListRequest, ReadRequest
from tests.support.tase2 import annex_a
from tests.support.tase2.mms_model import DOMAIN, TestHandler

pytestmark = pytest.mark.timeout(120)

SEEDS = [
    encode_pdu(
        ConfirmedRequest(
            1, ReadRequest(VariableList((VariableEntry(ObjectName.dom(DOMAIN, "Power")),)))
        )
    ),
    encode_pdu(ConfirmedRequest(2, GetNameListRequest(0, ObjectName.vmd("x").scope))),
    annex_a.MMS_PDUS["GetNameList domains"],
    annex_a.MMS_PDUS["DeleteNamedVariableList ICC1/DS1"],
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """Flip, insert, delete or overwrite a few octets (lengths included)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        pos = rng.randrange(len(buf)) if buf else 0
        if op == 0 and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf.insert(pos, rng.randrange(256))
        elif op == 2 and len(buf) > 1:
            del buf[pos]
        elif buf:
            buf[pos] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0x84, 0xFF))
    return bytes(buf)


async def _drain(reader: asyncio.StreamReader, assoc: Association, timeout: float) -> list[Event]:
    """Events from whatever the server sends within ``timeout`` (or until it closes)."""
    events: list[Event] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and not assoc.closed:
        try:
            data = await asyncio.wait_for(reader.read(65536), deadline - loop.time())
        except TimeoutError:
            break
        if not data:
            events.extend(assoc.connection_lost("eof"))
            break
        events.extend(assoc.receive_bytes(data))
        if any(isinstance(e, PduReceived) for e in events):
            break
    return events


async def _associate(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Association]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assoc = Association(Role.INITIATOR, AssociationConfig())
    assoc.start()
    for _ in range(10):
        writer.write(assoc.data_to_send())
        events = assoc.receive_bytes(await asyncio.wait_for(reader.read(65536), 5.0))
        if any(isinstance(e, AssociationEstablished) for e in events):
            return reader, writer, assoc
    raise AssertionError("no association")


async def test_random_bytes_are_closed_cleanly() -> None:
    rng = random.Random(1234)
    async with MmsServer(TestHandler(), port=0, association_timeout=0.5) as server:
        for i in range(60):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            if i % 3 == 0:
                junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
            elif i % 3 == 1:  # valid TPKT framing around junk
                body = bytes(rng.randrange(256) for _ in range(rng.randint(3, 200)))
                junk = b"\x03\x00" + (len(body) + 4).to_bytes(2, "big") + body
            else:  # a CR, then a DT claiming a 2 GB BER length
                huge = b"\x03\x00\x00\x10\x02\xf0\x80\x0d\x84\x7f\xff\xff\xff\x05\x06\x13\x01"
                junk = annex_a.COTP_CR + huge
            writer.write(junk)
            data = b""
            for _ in range(20):
                chunk = await asyncio.wait_for(reader.read(65536), 3.0)
                if not chunk:
                    break
                data += chunk
            writer.close()
            assert len(data) < 100, data  # at most a CC: nothing else is answered to junk
        client = await MmsClient.connect("127.0.0.1", server.port)
        assert await client.identify()
        await client.conclude()


async def test_mutated_mms_requests_get_reject_or_answer() -> None:
    rng = random.Random(99)
    async with MmsServer(TestHandler(), port=0) as server:
        bystander = await MmsClient.connect("127.0.0.1", server.port)
        reader, writer, assoc = await _associate(server.port)
        outcomes: dict[str, int] = {}
        for i in range(300):
            if assoc.closed:
                reader, writer, assoc = await _associate(server.port)
            pdu = mutate(rng, rng.choice(SEEDS))
            writer.write(b"".join(stack.tsdu_frames(stack.wrap_data(pdu), 8192)))
            events = await _drain(reader, assoc, 0.3)
            for ev in events:
                if isinstance(ev, PduReceived):
                    assert isinstance(ev.pdu, Reject | ConfirmedResponse | ConfirmedError), ev
                    key = type(ev.pdu).__name__
                else:
                    assert isinstance(ev, AssociationClosed), ev
                    key = f"closed:{ev.reason.value}"
                outcomes[key] = outcomes.get(key, 0) + 1
            if i % 50 == 0:  # the server keeps serving the other association
                assert await bystander.read(ObjectName.dom(DOMAIN, "Counter"))
        writer.close()
        assert outcomes.get("Reject", 0) > 10, outcomes
        await bystander.conclude()


SESSION_FRAMES = (
    annex_a.COTP_CR,
    annex_a.ASSOCIATE_REQUEST,
    b"".join(stack.tsdu_frames(stack.wrap_data(SEEDS[0]), 8192)),
    b"".join(stack.tsdu_frames(stack.wrap_data(annex_a.MMS_PDUS["GetNameList domains"]), 8192)),
    b"".join(stack.tsdu_frames(annex_a.CONCLUDE_TSDU, 8192)),
    annex_a.FINISH,
)
SESSIONS = int(os.environ.get("GATEWAY_FUZZ_SESSIONS", "300"))
"""Mutated whole sessions per run (raise it for a longer run of your own)."""


def mutated_session(rng: random.Random) -> list[bytes]:
    """A whole session (CR, AARQ, requests, Conclude, release) with a mutation somewhere,
    cut into one to three sends."""
    frames = list(SESSION_FRAMES[: rng.randint(2, len(SESSION_FRAMES))])
    if rng.random() < 0.5:
        i = rng.randrange(len(frames))
        frames[i] = mutate(rng, frames[i])
        data = b"".join(frames)
    else:
        data = mutate(rng, b"".join(frames))
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randrange(3)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


async def _play(port: int, sends: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in sends:
            writer.write(chunk)
            await writer.drain()
        for _ in range(100):  # until the server closes (it times out what it cannot use)
            if not await asyncio.wait_for(reader.read(65536), 5.0):
                break
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()


async def test_mutated_sessions_never_log_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(2013)
    async with MmsServer(
        TestHandler(),
        port=0,
        association_timeout=0.3,
        idle_timeout=0.3,
        max_pending_per_source=64,
    ) as server:
        for start in range(0, SESSIONS, 16):
            batch = [mutated_session(rng) for _ in range(min(16, SESSIONS - start))]
            await asyncio.gather(*(_play(server.port, sends) for sends in batch))
        client = await MmsClient.connect("127.0.0.1", server.port)
        assert await client.identify()
        await client.conclude()
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    print(f"sessions={SESSIONS} log_lines={len(caplog.records)} tracebacks={len(tracebacks)}")
    assert [r.getMessage() for r in tracebacks] == []
