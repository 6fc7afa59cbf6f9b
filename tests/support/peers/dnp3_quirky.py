"""A scripted DNP3 outstation that behaves like real ones do, not like opendnp3.

:class:`QuirkyOutstation` listens on 127.0.0.1 (an asyncio TCP server in the test's own
loop) and answers a master with frames built from py1815's public framing pieces
(``link.build``/``control_byte``, ``transport.segment``, ``application.build_response``,
``parse_request``, ``IIN``, ``AppControl``). It records every request it got
(:attr:`QuirkyOutstation.requests`) and every link-layer frame (:attr:`link_frames`).

What it does is switched by its attributes, all changeable while it runs:

- ``answer_link``: answer the master's link-layer requests (LINK_STATUS, ACK) or not;
- ``confirmed_data``: send responses as CONFIRMED_USER_DATA link frames (FCV set, FCB
  alternating; a repeated fragment repeats its frames, FCB and all);
- ``greeting``: an unsolicited response (with CON) sent as soon as a master connects, as
  outstations do at start-up (the body, often empty, with IIN1.7 set);
- ``read_answers``: a queue of scripted answers to the next READs, each a list of
  :class:`Out` fragments (several fragments ask for confirmation; a fragment can carry
  another sequence number, repeat, or be followed by a closed connection); READs beyond the
  queue get ``static`` in one fragment;
- ``iin1``/``iin2``: indications set on every response (IIN1.7 restart is cleared by a WRITE
  of g80v1 index 7 = 0 unless ``restart_clears`` is off, IIN1.4 by a time WRITE);
- ``control_status``, ``echo_controls``, ``ignore``: the status a control is echoed with,
  whether it is echoed at all (an IIN2 refusal carries no objects), and the functions
  answered by nothing (a SELECT answered but its OPERATE ignored);
- ``garbage``: octets (noise, a frame with a bad CRC) sent before every frame;
- ``delay``: seconds each answer waits.

``send_unsolicited`` sends an unsolicited response unasked, with or without CON, as often
as asked; ``close`` ends the master's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from py1815 import link, objects
from py1815.application import (
    IIN,
    AppControl,
    FunctionCode,
    Request,
    RequestError,
    build_response,
    parse_request,
)
from py1815.transport import Reassembler, TransportError, segment

OUTSTATION = 1024
MASTER = 1
IIN1_RESTART = 0x80
IIN1_NEED_TIME = 0x10
CONTROL_FUNCTIONS = frozenset(
    {FunctionCode.SELECT, FunctionCode.OPERATE, FunctionCode.DIRECT_OPERATE}
)


def analogs(start: int, *values: float) -> bytes:
    """A g30v5 (float with flags) range of ONLINE analog inputs from index ``start``."""
    points = [objects.AnalogPoint(v) for v in values]
    return objects.analog_range(start, points, variation=objects.AnalogVariation.FLOAT32_WITH_FLAG)


def binaries(start: int, *states: bool) -> bytes:
    """A g1v2 range of ONLINE binary inputs from index ``start``."""
    return objects.binary_range(start, [objects.BinaryPoint(s) for s in states])


def unknown_object() -> bytes:
    """An object header of a group/variation no master knows (g99v99, one object)."""
    return bytes([99, 99, 0x00, 0, 0, 0xAA])


def bad_crc_frame() -> bytes:
    """A link frame whose header CRC is wrong."""
    control = link.control_byte(
        from_master=False, primary=True, function=link.PrimaryFunction.UNCONFIRMED_USER_DATA
    )
    frame = bytearray(link.build(control, MASTER, OUTSTATION, b"\xc0\xc0\x81\x00\x00"))
    frame[8] ^= 0xFF
    return bytes(frame)


@dataclass(frozen=True, slots=True)
class Out:
    """One response fragment the peer sends: its body and how it is framed.

    ``fir``/``fin`` default to the fragment's place in its answer; ``sequence_shift`` moves
    its application sequence number off the one the master awaits; ``repeat`` sends it
    twice; ``close_after`` ends the connection once it is sent; ``iin`` replaces the peer's
    indications in this fragment only.
    """

    body: bytes = b""
    con: bool | None = None
    sequence_shift: int = 0
    repeat: bool = False
    close_after: bool = False
    iin: IIN | None = None


class QuirkyOutstation:
    """The scripted outstation (see the module docstring); one master connection at a time."""

    def __init__(self, *, static: bytes = b"") -> None:
        self.static = static
        self.answer_link = True
        self.confirmed_data = False
        self.greeting: bytes | None = None
        self.restart_clears = True
        self.read_answers: deque[list[Out]] = deque()
        self.iin1 = 0
        self.iin2 = 0
        self.control_status = 0
        self.echo_controls = True
        self.alter_echo = False  # echo a control with one octet of its object changed
        self.ignore: set[FunctionCode] = set()
        self.garbage = b""
        self.delay = 0.0
        self.requests: list[Request] = []
        self.link_frames: list[link.LinkFrame] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._transport_sequence = 0
        self._unsolicited_sequence = 0
        self._lock = asyncio.Lock()
        self._fcb = False

    # -- what the tests read ------------------------------------------------------------

    def functions(self) -> list[int]:
        """The function codes of the requests received, in order."""
        return [r.function for r in self.requests]

    def confirms(self, *, unsolicited: bool | None = None) -> list[Request]:
        """The CONFIRMs received (only those of unsolicited or solicited responses if asked)."""
        return [
            r
            for r in self.requests
            if r.function == FunctionCode.CONFIRM
            and (unsolicited is None or r.control.uns == unsolicited)
        ]

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free loopback port (``port``)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the connection and stop listening."""
        self.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    def close(self) -> None:
        """End the master's connection now."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.close()
        self._writer = writer
        self.connections += 1
        frames = link.FrameReader()
        reassembler = Reassembler()
        tasks: set[asyncio.Task[None]] = set()
        if self.greeting is not None:
            await self.send_unsolicited(self.greeting)
        try:
            while data := await reader.read(4096):
                for frame in frames.feed(data):
                    fragment = self._frame(frame, reassembler, writer)
                    if fragment is not None:
                        task = asyncio.create_task(self._answer(fragment, writer))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
        except (ConnectionError, OSError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            writer.close()
            if self._writer is writer:
                self._writer = None

    def _frame(
        self, frame: link.LinkFrame, reassembler: Reassembler, writer: asyncio.StreamWriter
    ) -> bytes | None:
        if not frame.is_primary:
            self.link_frames.append(frame)
            return None
        function = frame.function
        if function in (
            link.PrimaryFunction.UNCONFIRMED_USER_DATA,
            link.PrimaryFunction.CONFIRMED_USER_DATA,
        ):
            if function == link.PrimaryFunction.CONFIRMED_USER_DATA and self.answer_link:
                self._write(writer, self._link_reply(link.SecondaryFunction.ACK))
            try:
                return reassembler.add(frame.payload)
            except TransportError:
                return None
        self.link_frames.append(frame)
        if self.answer_link:
            reply = (
                link.SecondaryFunction.LINK_STATUS
                if function == link.PrimaryFunction.REQUEST_LINK_STATUS
                else link.SecondaryFunction.ACK
            )
            self._write(writer, self._link_reply(reply))
        return None

    async def _answer(self, fragment: bytes, writer: asyncio.StreamWriter) -> None:
        try:
            request = parse_request(fragment)
        except RequestError:
            return
        self.requests.append(request)
        function = request.known_function
        if function is None or function == FunctionCode.CONFIRM or function in self.ignore:
            return
        if self.delay:
            await asyncio.sleep(self.delay)
        async with self._lock:
            await self._respond(request, function, writer)

    async def _respond(
        self, request: Request, function: FunctionCode, writer: asyncio.StreamWriter
    ) -> None:
        sequence = request.control.sequence
        if function == FunctionCode.WRITE:
            self._write_objects(fragment_body(request))
        if function == FunctionCode.READ:
            outs = self.read_answers.popleft() if self.read_answers else [Out(self.static)]
        elif function in CONTROL_FUNCTIONS:
            echo = fragment_body(request) if self.echo_controls else b""
            if echo:
                echo = echo[:-1] + bytes([self.control_status])
            if echo and self.alter_echo:
                echo = echo[:-2] + bytes([echo[-2] ^ 0x01]) + echo[-1:]
            outs = [Out(echo)]
        else:
            outs = [Out()]
        for n, out in enumerate(outs):
            control = AppControl(
                fir=n == 0,
                fin=n == len(outs) - 1,
                con=len(outs) > 1 if out.con is None else out.con,
                sequence=(sequence + out.sequence_shift) % 16,
            )
            if n:
                await asyncio.sleep(0.02)  # a fragment at a time, as a slow device sends them
            frames = self._frames(
                build_response(control=control, iin=out.iin or self._iin(), body=out.body)
            )
            self._write(writer, frames)
            if out.repeat:
                self._write(writer, frames)
            if out.close_after:
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.drain()
                writer.close()
                return
            sequence = (sequence + 1) % 16

    def _write_objects(self, body: bytes) -> None:
        """Clear IIN1.7 on a WRITE of g80v1 index 7 = 0 and IIN1.4 on a time WRITE (g50)."""
        if body[:2] == b"\x50\x01" and self.restart_clears:
            self.iin1 &= ~IIN1_RESTART
        elif body[:1] == b"\x32":
            self.iin1 &= ~IIN1_NEED_TIME

    async def send_unsolicited(
        self, body: bytes, *, con: bool = True, times: int = 1, iin: IIN | None = None
    ) -> None:
        """Send one unsolicited response ``times`` times (a repeat keeps its sequence), with
        the peer's indications or ``iin``."""
        writer = self._writer
        if writer is None:
            raise ConnectionError("no master connected")
        control = AppControl(con=con, uns=True, sequence=self._unsolicited_sequence)
        self._unsolicited_sequence = (self._unsolicited_sequence + 1) % 16
        fragment = build_response(
            control=control,
            iin=iin or self._iin(),
            body=body,
            function=FunctionCode.UNSOLICITED_RESPONSE,
        )
        frames = self._frames(fragment)  # the same octets each time, transport sequence too
        for _ in range(times):
            self._write(writer, frames)
            await asyncio.sleep(0.05)

    # -- framing ----------------------------------------------------------------------------

    def _iin(self) -> IIN:
        return IIN(self.iin1, self.iin2)

    def _frames(self, fragment: bytes) -> bytes:
        function = (
            link.PrimaryFunction.CONFIRMED_USER_DATA
            if self.confirmed_data
            else link.PrimaryFunction.UNCONFIRMED_USER_DATA
        )
        segments = segment(fragment, first_sequence=self._transport_sequence)
        self._transport_sequence = (self._transport_sequence + len(segments)) % 64
        frames = b""
        for tpdu in segments:
            if self.confirmed_data:  # FCV set, FCB alternating frame by frame
                self._fcb = not self._fcb
            control = link.control_byte(
                from_master=False,
                primary=True,
                function=function,
                fcb=self._fcb and self.confirmed_data,
                fcv=self.confirmed_data,
            )
            frames += self.garbage + link.build(control, MASTER, OUTSTATION, tpdu)
        return frames

    def _link_reply(self, function: link.SecondaryFunction) -> bytes:
        control = link.control_byte(from_master=False, primary=False, function=function)
        return link.build(control, MASTER, OUTSTATION)

    def _write(self, writer: asyncio.StreamWriter, octets: bytes) -> None:
        if not writer.is_closing():
            writer.write(octets)

    async def send_link_request(self, function: link.PrimaryFunction) -> None:
        """Send the master a link-layer request (REQUEST_LINK_STATUS, RESET_LINK_STATES...)."""
        writer = self._writer
        if writer is None:
            raise ConnectionError("no master connected")
        control = link.control_byte(from_master=False, primary=True, function=function)
        self._write(writer, link.build(control, MASTER, OUTSTATION))


def fragment_body(request: Request) -> bytes:
    """A request's objects as sent: the first header (re-encoded) and the data after it."""
    if not request.headers:
        return request.body
    header = request.headers[0]
    raw = bytes([header.group, header.variation, header.qualifier])
    if header.start is not None and header.stop is not None:
        width = 1 if header.qualifier == 0x00 else 2
        raw += header.start.to_bytes(width, "little") + header.stop.to_bytes(width, "little")
    elif header.count is not None:
        width = 1 if header.qualifier in (0x07, 0x17) else 2
        raw += header.count.to_bytes(width, "little")
    return raw + request.body


@contextlib.asynccontextmanager
async def quirky_outstation(*, static: bytes = b"") -> AsyncIterator[QuirkyOutstation]:
    """A started :class:`QuirkyOutstation`, stopped when the block ends."""
    peer = QuirkyOutstation(static=static)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()
