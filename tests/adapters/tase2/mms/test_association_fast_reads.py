"""The read fast path of a responder against the general path: same answers for every input.

Two responders receive the same bytes: one answers Reads through ``prepare_read`` (the fast
path), the other only through the events a shell answers. Whatever arrives (plain Reads,
Reads the reader declines or fails on, other requests, damaged frames, random octets, frames
cut anywhere), both send the same octets and end in the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.tase2.iso import data_frame, stack
from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.association import (
    _MAX_KEPT_READS,
    Association,
    AssociationClosed,
    AssociationConfig,
    Event,
    PduReceived,
    PduTooLargeError,
    PreparedRead,
)
from adapters.tase2.mms.data import (
    AccessResult,
    DataAccessError,
    Float32,
    Integer,
    Structure,
    encode_access_results,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import (
    ConfirmedError,
    ConfirmedRequest,
    ConfirmedResponse,
    Reject,
    encode_pdu,
)
from adapters.tase2.mms.service_error import ErrorClass, ServiceCode, ServiceError
from adapters.tase2.mms.services import (
    IdentifyRequest,
    IdentifyResponse,
    ReadRequest,
    ReadResponse,
)
from tests.support.tase2.associations import decode_sent, pair
from tests.support.tase2.mutations import mutated

VALUES: dict[ObjectName, AccessResult] = {
    ObjectName.dom("ICC1", f"P{i}"): Structure((Float32(i + 0.5), Integer(1700000000 + i)))
    for i in range(6)
} | {ObjectName.vmd("V"): Integer(7)}
SLOW = ObjectName.dom("ICC1", "SLOW")  # the fast reader leaves it to the general path
BOOM = ObjectName.dom("ICC1", "BOOM")  # the reader fails on it
LISTS = {ObjectName.dom("ICC1", "DS"): [*VALUES][:4], ObjectName.dom("ICC1", "BIG"): [*VALUES] * 9}
NAMES = [*VALUES, SLOW, BOOM, ObjectName.dom("ICC2", "P1"), ObjectName.aa("X")]


def names_of(request: object) -> list[ObjectName]:
    """The variables a request reads (none for other services)."""
    if not isinstance(request, ReadRequest):
        return []
    spec = request.spec
    if isinstance(spec, VariableListName):
        return LISTS.get(spec.name, [])
    return [e.name for e in spec.items]


def results(request: ReadRequest) -> tuple[AccessResult, ...]:
    """The reference reader: what a handler answers (raises for BOOM)."""
    names = names_of(request)
    if BOOM in names:
        raise RuntimeError("reader failed")
    return tuple(VALUES.get(n, DataAccessError.OBJECT_NON_EXISTENT) for n in names)


def prepare_read(request: ReadRequest) -> PreparedRead | None:
    """The same reader as a fast path: declines SLOW and unknown lists."""
    spec = request.spec
    if isinstance(spec, VariableListName) and spec.name not in LISTS:
        return None
    if isinstance(spec, VariableList) and any(e.name == SLOW for e in spec.items):
        return None
    return lambda: encode_access_results(results(request))


@dataclass
class Shell:
    """A responder and what a shell does with its events: answer requests in order, at
    once, or, with ``defer_slow``, a Read of SLOW and all behind it once the next input
    has been received (as a handler that awaits; their invokeIDs stay in use meanwhile)."""

    association: Association
    defer_slow: bool
    events: list[str] = field(default_factory=list)
    later: list[ConfirmedRequest] = field(default_factory=list)

    def feed(self, data: bytes) -> bytes:
        assoc = self.association
        events = assoc.receive_bytes(data)
        waiting, self.later = self.later, []
        for pdu in waiting:
            self._answer(pdu)
        for ev in events:
            if isinstance(ev, PduReceived) and isinstance(ev.pdu, ConfirmedRequest):
                if self.later or (self.defer_slow and SLOW in names_of(ev.pdu.service)):
                    self.later.append(ev.pdu)
                else:
                    self._answer(ev.pdu)
            elif isinstance(ev, AssociationClosed):
                self.events.append(f"closed {ev.reason} {ev.detail}")
            else:
                self.events.append(type(ev).__name__)
        return assoc.data_to_send()

    def _answer(self, pdu: ConfirmedRequest) -> None:
        if self.association.closed:  # as the server's shell: nothing is sent any more
            return
        request = pdu.service
        error = None
        try:
            if isinstance(request, ReadRequest):
                spec = request.spec if request.specification_with_result else None
                answer: object = ReadResponse(results(request), spec)
            else:
                answer = IdentifyResponse("v", "m", "r")
            self.association.send_pdu(ConfirmedResponse(pdu.invoke_id, answer))  # type: ignore[arg-type]
            return
        except PduTooLargeError:
            error = ServiceError(ErrorClass.SERVICE, ServiceCode.PDU_SIZE)
        except Exception:
            error = ServiceError(ErrorClass.SERVICE, ServiceCode.OTHER)
        self.association.send_pdu(ConfirmedError(pdu.invoke_id, error))


def responders(
    max_pdu_size: int, tpdu_size: int, defer_slow: bool = True
) -> tuple[Shell, Shell, Association]:
    """(fast, general) responders in the same state, and the client of the first."""
    config = AssociationConfig(max_pdu_size=max_pdu_size, tpdu_size=tpdu_size)
    client, fast = pair(server_cfg=config)
    _, general = pair(server_cfg=config)
    fast.prepare_read = prepare_read
    return Shell(fast, defer_slow), Shell(general, defer_slow), client


specs = st.one_of(
    st.lists(st.sampled_from(NAMES).map(VariableEntry), min_size=1, max_size=20).map(
        lambda e: VariableList(tuple(e))
    ),
    st.sampled_from([*LISTS, ObjectName.dom("ICC1", "NONE")]).map(VariableListName),
)
services = st.one_of(st.builds(ReadRequest, specs, st.booleans()), st.just(IdentifyRequest()))


def frame(pdu: ConfirmedRequest, tpdu_size: int = 8192) -> bytes:
    """``pdu`` as a client sends it: in DT segments of at most ``tpdu_size`` octets."""
    return b"".join(stack.tsdu_frames(stack.wrap_data(encode_pdu(pdu)), tpdu_size))


requests = st.builds(ConfirmedRequest, st.integers(0, 3), services).map(frame)
inputs = st.one_of(requests, requests, mutated(requests), st.binary(min_size=1, max_size=40))
configs = st.tuples(st.sampled_from([120, 400, 65000]), st.sampled_from([128, 8192]))


def whole_frames(stream: bytes) -> list[bytes]:
    """``stream`` cut after every whole TPKT frame (the rest, from a bad header on, whole)."""
    out, pos = [], 0
    while len(stream) - pos >= 4 and stream[pos : pos + 2] == b"\x03\x00":
        length = int.from_bytes(stream[pos + 2 : pos + 4], "big")
        if length < 7 or pos + length > len(stream):
            break
        out.append(stream[pos : pos + length])
        pos += length
    return out + ([stream[pos:]] if pos < len(stream) else [])


@settings(max_examples=300, deadline=None)
@given(st.lists(inputs, min_size=1, max_size=6), configs)
def test_every_frame_is_answered_as_the_general_path_answers_it(
    frames: list[bytes], config: tuple[int, int]
) -> None:
    fast, general, _ = responders(*config)
    for chunk in whole_frames(b"".join(frames)):
        assert fast.feed(chunk) == general.feed(chunk)
        assert fast.events == general.events
        assert fast.association.state is general.association.state


@st.composite
def chunked(draw: st.DrawFn) -> tuple[list[bytes], tuple[int, int]]:
    """A configuration, and the requests a conforming client may send at once (distinct
    invokeIDs, no more than may be outstanding, within the PDU size, in DT segments of the
    TPDU size) cut into chunks at arbitrary places."""
    config = draw(configs)
    pdus = [ConfirmedRequest(i, s) for i, s in enumerate(draw(st.lists(services, max_size=5)))]
    fitting = [p for p in pdus if len(encode_pdu(p)) <= config[0]]
    data = b"".join(frame(p, config[1]) for p in fitting) or b"\x03\x00"
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=5)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True) if b > a]
    return chunks, config


@settings(max_examples=200, deadline=None)
@given(chunked())
def test_frames_in_any_chunks_are_answered_as_if_each_came_alone(
    case: tuple[list[bytes], tuple[int, int]],
) -> None:
    chunks, config = case
    fast, general, _ = responders(*config, defer_slow=False)
    sent = b"".join(fast.feed(chunk) for chunk in chunks)
    assert sent == b"".join(general.feed(f) for f in whole_frames(b"".join(chunks)))
    assert fast.events == general.events
    assert fast.association.state is general.association.state


def test_plain_reads_raise_no_event_and_are_answered_at_once() -> None:
    fast, general, client = responders(65000, 8192)
    client.send_pdu(
        ConfirmedRequest(1, ReadRequest(VariableListName(ObjectName.dom("ICC1", "DS"))))
    )
    data = client.data_to_send()
    assert fast.association.receive_bytes(data) == []
    assert general.association.receive_bytes(data) != []  # the request, as an event
    answer = fast.association.data_to_send()
    events = client.receive_bytes(answer)
    assert [type(e) for e in events] == [PduReceived]
    response = events[0].pdu  # type: ignore[attr-defined]
    assert response == ConfirmedResponse(1, ReadResponse(tuple(VALUES.values())[:4]))


def test_a_read_whose_invoke_id_is_in_use_is_rejected_as_before() -> None:
    fast, general, _ = responders(65000, 8192)
    slow = frame(ConfirmedRequest(2, ReadRequest(VariableList((VariableEntry(SLOW),)))))
    plain = frame(ConfirmedRequest(2, ReadRequest(VariableListName(ObjectName.dom("ICC1", "DS")))))
    for shell in (fast, general):
        shell.association.receive_bytes(slow)  # not answered yet
    sent = fast.association.receive_bytes(plain), fast.association.data_to_send()
    assert sent == (general.association.receive_bytes(plain), general.association.data_to_send())
    (reject,) = decode_sent(sent[1])
    assert isinstance(reject, Reject) and reject.original_invoke_id == 2


def test_a_request_above_the_pdu_size_gets_the_pdu_size_error_as_before() -> None:
    fast, general, _ = responders(120, 8192)
    names = (VariableEntry(ObjectName.dom("ICC2", f"LONG_NAME_{i}")) for i in range(8))
    big = frame(ConfirmedRequest(1, ReadRequest(VariableList(tuple(names)))))
    assert len(big) > 120
    sent = fast.feed(big)
    assert sent == general.feed(big)
    (error,) = decode_sent(sent)
    assert isinstance(error, ConfirmedError) and error.error.code == ServiceCode.PDU_SIZE


POLLED = ObjectName.dom("ICC1", "P0")


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [VariableList((VariableEntry(POLLED),)), VariableListName(ObjectName.dom("ICC1", "DS"))]
    ),
    st.lists(st.tuples(st.integers(0, (1 << 32) - 1), st.integers(-3, 3)), max_size=12),
    configs,
)
def test_a_poller_repeating_a_read_gets_the_general_answers_as_values_change(
    spec: VariableList | VariableListName, polls: list[tuple[int, int]], config: tuple[int, int]
) -> None:
    # The same Read again and again, under invokeIDs of any size, while the value changes
    # now and then: each answer is the one the general path gives at that moment.
    fast, general, _ = responders(*config)
    kept = VALUES[POLLED]
    try:
        for invoke_id, value in polls:
            VALUES[POLLED] = Structure((Float32(value), Integer(1700000000)))
            request = frame(ConfirmedRequest(invoke_id, ReadRequest(spec)))
            assert fast.feed(request) == general.feed(request)
            assert fast.events == general.events == []
    finally:
        VALUES[POLLED] = kept


def test_reads_of_names_ending_alike_are_each_recognised_again(monkeypatch) -> None:
    # Probes of UNIT1_GROSS_MW, UNIT2_GROSS_MW and UNIT3_GROSS_MW in turn: frames that end in
    # the same octets are each answered from their kept frame, not parsed again.
    fast, general, _ = responders(65000, 8192)
    names = [ObjectName.dom("ICC1", f"UNIT{u}_GROSS_MW") for u in (1, 2, 3)]
    parsed: list[object] = []
    real = data_frame.frame_pdu
    monkeypatch.setattr(data_frame, "frame_pdu", lambda *a: parsed.append(a) or real(*a))
    for invoke_id in range(12):
        read = ReadRequest(VariableList((VariableEntry(names[invoke_id % 3]),)))
        request = frame(ConfirmedRequest(invoke_id, read))
        assert fast.feed(request) == general.feed(request)
    assert len(parsed) == len(names)


def test_a_read_out_of_date_is_prepared_again_or_left_to_the_general_path() -> None:
    # The upper layer's reader says its Read is out of date (None): the association asks
    # for a new one at once; when none comes, the general path takes the Read.
    fast, _, _ = responders(65000, 8192)
    state = {"epoch": 0, "prepared": 0, "preparable": True}

    def prepare(request: ReadRequest) -> PreparedRead | None:
        state["prepared"] += 1
        epoch = state["epoch"]
        if not state["preparable"]:
            return None
        return lambda: encode_access_results(results(request)) if state["epoch"] == epoch else None

    fast.association.prepare_read = prepare
    read = ReadRequest(VariableList((VariableEntry(POLLED),)))

    def poll(invoke_id: int) -> list[Event]:
        return fast.association.receive_bytes(frame(ConfirmedRequest(invoke_id, read)))

    assert [poll(i) for i in range(3)] == [[], [], []]  # answered by the association
    assert state["prepared"] == 1
    state["epoch"] += 1  # out of date: prepared again
    assert poll(3) == [] and state["prepared"] == 2
    state["epoch"] += 1
    state["preparable"] = False
    (event,) = poll(4)
    assert isinstance(event, PduReceived) and state["prepared"] == 3  # the general path's


def request_with_invoke_octets(octets: bytes, read: ReadRequest) -> bytes:
    """A confirmed Read whose invokeID is the INTEGER content ``octets``, of any form."""
    service = encode_pdu(ConfirmedRequest(0, read))[5:]  # after A0 L 02 01 00
    body = bytes((0x02, len(octets))) + octets + service
    return b"".join(stack.tsdu_frames(stack.wrap_data(b"\xa0" + bytes((len(body),)) + body), 8192))


@pytest.mark.parametrize(
    "octets",
    ["05", "0005", "7f", "0080", "7fff", "ff", "ff7f", "8000", "00ffffffff", "0100000000"],
)
def test_a_repeated_read_under_an_invoke_id_of_any_form_is_answered_as_before(
    octets: str,
) -> None:
    # Poll frames that differ only in the invokeID's octets: minimal ones are answered from
    # the kept frame; non-minimal (0005), negative (ff) or too large (0100000000) ones get
    # what the general path gives them (a minimal invokeID in the answer, or a reject).
    fast, general, _ = responders(65000, 8192)
    read = ReadRequest(VariableList((VariableEntry(POLLED),)))
    size = len(bytes.fromhex(octets))
    kept = 1 if size == 1 else 1 << (8 * size - 9)  # the least minimal one of that size
    first = request_with_invoke_octets(kept.to_bytes(size, "big"), read)
    for request in (first, request_with_invoke_octets(bytes.fromhex(octets), read)):
        assert fast.feed(request) == general.feed(request)
        assert fast.events == general.events


def test_a_pollers_next_read_is_answered_from_the_last_frame(monkeypatch) -> None:
    # A poller reading the same point again: once its Read was answered alone in one frame,
    # the next one is checked against that frame first, without finding its frame again;
    # a value that changed sends it the long way, and the answer carries the new value.
    fast, general, _ = responders(65000, 8192)
    read = ReadRequest(VariableList((VariableEntry(POLLED),)))
    found: list[object] = []
    real = data_frame.frame_length
    monkeypatch.setattr(data_frame, "frame_length", lambda *a: found.append(a) or real(*a))
    kept = VALUES[POLLED]
    try:
        for invoke_id in range(200, 210):
            if invoke_id == 205:
                VALUES[POLLED] = Structure((Float32(9.5), Integer(1700000001)))
            request = frame(ConfirmedRequest(invoke_id, read))
            assert fast.feed(request) == general.feed(request)
    finally:
        VALUES[POLLED] = kept
    assert len(found) == 2  # the first Read, and the one after the value changed


def test_a_pollers_next_read_under_an_invoke_id_in_use_is_rejected_as_before() -> None:
    fast, general, _ = responders(65000, 8192)
    poll = ReadRequest(VariableListName(ObjectName.dom("ICC1", "DS")))
    slow = frame(ConfirmedRequest(2, ReadRequest(VariableList((VariableEntry(SLOW),)))))
    first, again = (frame(ConfirmedRequest(i, poll)) for i in (1, 2))
    for shell in (fast, general):
        shell.association.receive_bytes(slow)  # past the shell: never answered
    assert fast.feed(first) == general.feed(first)  # the fast one checks the next poll first
    sent = fast.feed(again)
    assert sent == general.feed(again)
    (reject,) = decode_sent(sent)
    assert isinstance(reject, Reject) and reject.original_invoke_id == 2


def test_a_read_behind_a_request_not_yet_answered_is_answered_after_it() -> None:
    fast, general, _ = responders(65000, 8192)
    slow = frame(ConfirmedRequest(1, ReadRequest(VariableList((VariableEntry(SLOW),)))))
    plain = frame(ConfirmedRequest(2, ReadRequest(VariableListName(ObjectName.dom("ICC1", "DS")))))
    assert fast.feed(slow) == general.feed(slow) == b""  # its handler awaits
    sent = fast.feed(plain)
    assert sent == general.feed(plain)
    assert [pdu.invoke_id for pdu in decode_sent(sent)] == [1, 2]  # type: ignore[attr-defined]


def test_a_peer_reading_ever_new_variables_leaves_a_bounded_number_of_kept_answers() -> None:
    # names ending alike four at a time: 64 frame endings, four frames kept for each
    fast, _, _ = responders(65000, 8192)
    for i in range(250):
        name = ObjectName.dom("ICC1", f"{i % 4}_{i // 4:08d}")
        fast.feed(frame(ConfirmedRequest(i % 4, ReadRequest(VariableList((VariableEntry(name),))))))
    assoc = fast.association
    kept = {id(r.kept) for alike in assoc._repeats.values() for r in alike}
    kept |= {id(k) for k in assoc._reads.values()}
    assert len(kept) <= _MAX_KEPT_READS
