"""The master association, driven with frames built by py1815's own link, transport and
application encoders (an outstation's side, written by someone else)."""

from py1815 import link
from py1815.application import IIN, AppControl, FunctionCode, build_response
from py1815.transport import Reassembler, segment

from adapters.dnp3.master.association import Completed, Fragment, MasterAssociation, Problem

MASTER, OUTSTATION = 1, 1024
NO_IIN = IIN(0, 0)


def association(max_fragment: int = 4096) -> MasterAssociation:
    return MasterAssociation(
        master_address=MASTER,
        outstation_address=OUTSTATION,
        response_timeout=5.0,
        max_fragment=max_fragment,
    )


def outstation_frames(
    fragment: bytes, *, source: int = OUTSTATION, confirmed: bool = False
) -> bytes:
    function = (
        link.PrimaryFunction.CONFIRMED_USER_DATA
        if confirmed
        else link.PrimaryFunction.UNCONFIRMED_USER_DATA
    )
    control = link.control_byte(from_master=False, primary=True, function=function)
    return b"".join(link.build(control, MASTER, source, tpdu) for tpdu in segment(fragment))


def response(
    sequence: int, body: bytes = b"", *, fir=True, fin=True, con=False, uns=False, iin=NO_IIN
) -> bytes:
    function = FunctionCode.UNSOLICITED_RESPONSE if uns else FunctionCode.RESPONSE
    control = AppControl(fir=fir, fin=fin, con=con, uns=uns, sequence=sequence)
    return build_response(control=control, iin=iin, body=body, function=function)


def master_fragments(octets: bytes) -> list[bytes]:
    """What the master sent, as application fragments (checked through py1815's reader)."""
    reassembler = Reassembler()
    out = []
    for frame in link.FrameReader().feed(octets):
        assert (frame.destination, frame.source, frame.from_master) == (OUTSTATION, MASTER, True)
        fragment = reassembler.add(frame.payload)
        if fragment is not None:
            out.append(fragment)
    return out


def test_a_read_is_one_fragment_with_its_sequence_and_the_answer_completes_it():
    a = association()
    (sent,) = master_fragments(a.request(FunctionCode.READ, b"\x3c\x01\x06", now=0.0))
    assert sent == bytes([0xC0, FunctionCode.READ, 0x3C, 0x01, 0x06])
    assert a.busy and a.deadline == 5.0
    assert a.receive(outstation_frames(response(0, b"\x01\x02", iin=IIN(0x90, 0))), 0.1) == b""
    fragment, completed = a.take_events()
    assert fragment == Fragment(b"\x01\x02", 0x90, 0, unsolicited=False, final=True)
    assert completed == Completed(FunctionCode.READ, timed_out=False, fragments=1)
    assert not a.busy
    # The next request takes the next sequence number.
    (sent,) = master_fragments(a.request(FunctionCode.READ, b"", now=1.0))
    assert sent[0] & 0x0F == 1


def test_a_multi_fragment_response_is_confirmed_fragment_by_fragment():
    a = association()
    a.request(FunctionCode.READ, b"", now=0.0)
    confirm = a.receive(outstation_frames(response(0, b"A", fin=False, con=True)), 0.1)
    assert master_fragments(confirm) == [bytes([0xC0, FunctionCode.CONFIRM])]
    assert [type(e) for e in a.take_events()] == [Fragment]
    assert a.deadline == 5.1  # the wait starts again for the next fragment
    # A fragment out of sequence is dropped and not confirmed.
    assert a.receive(outstation_frames(response(5, b"X", fir=False)), 0.2) == b""
    (problem,) = a.take_events()
    assert isinstance(problem, Problem) and "not the one awaited" in problem.detail
    a.receive(outstation_frames(response(1, b"B", fir=False, con=True)), 0.3)
    events = a.take_events()
    assert [e.body for e in events if isinstance(e, Fragment)] == [b"B"]
    assert events[-1] == Completed(FunctionCode.READ, timed_out=False, fragments=2)


def test_unsolicited_responses_are_confirmed_and_a_repeat_is_not_delivered_twice():
    a = association()
    unsolicited = outstation_frames(response(3, b"E", con=True, uns=True))
    assert a.receive(unsolicited, 0.0) == b""  # the confirmation goes a moment later
    assert master_fragments(a.take_late()) == [bytes([0xD3, FunctionCode.CONFIRM])]  # UNS, 3
    assert a.take_events() == [Fragment(b"E", 0, 0, unsolicited=True, final=True)]
    a.receive(unsolicited, 0.1)
    assert master_fragments(a.take_late()) == [bytes([0xD3, FunctionCode.CONFIRM])]
    assert a.take_events() == []
    assert a.take_late() == b""


def test_an_unanswered_request_expires_at_its_deadline_and_a_late_answer_is_dropped():
    a = association()
    a.request(FunctionCode.READ, b"", now=0.0)
    assert not a.expire(4.9)
    assert a.expire(5.0)
    assert a.take_events() == [Completed(FunctionCode.READ, timed_out=True, fragments=0)]
    a.receive(outstation_frames(response(0, b"late")), 6.0)
    (problem,) = a.take_events()
    assert isinstance(problem, Problem) and "nothing outstanding" in problem.detail


def test_link_requests_of_the_outstation_are_answered():
    a = association()
    for function, answer in (
        (link.PrimaryFunction.REQUEST_LINK_STATUS, link.SecondaryFunction.LINK_STATUS),
        (link.PrimaryFunction.RESET_LINK_STATES, link.SecondaryFunction.ACK),
    ):
        control = link.control_byte(from_master=False, primary=True, function=function)
        (reply,) = link.FrameReader().feed(a.receive(link.build(control, MASTER, OUTSTATION), 0))
        assert not reply.is_primary and reply.function == answer
    # Confirmed user data is acknowledged at the link layer and then taken.
    a.request(FunctionCode.READ, b"", now=0.0)
    reply = a.receive(outstation_frames(response(0, b"C"), confirmed=True), 0.1)
    ack = link.FrameReader().feed(reply)[0]
    assert ack.function == link.SecondaryFunction.ACK and not ack.is_primary
    assert isinstance(a.take_events()[0], Fragment)


def test_frames_from_another_station_and_oversized_fragments_are_dropped_with_a_reason():
    a = association(max_fragment=300)
    a.request(FunctionCode.READ, b"", now=0.0)
    a.receive(outstation_frames(response(0, b"x"), source=77), 0.1)
    a.receive(outstation_frames(response(0, bytes(400))), 0.2)
    details = [e.detail for e in a.take_events() if isinstance(e, Problem)]
    assert "frame from 77" in details[0]
    assert "300" in details[1]
    assert a.busy  # still waiting for a real answer


def test_a_lost_connection_ends_the_outstanding_request_and_keeps_the_sequence():
    a = association()
    a.request(FunctionCode.READ, b"", now=0.0)
    a.receive(outstation_frames(response(0, b"A", fin=False))[:7], 0.1)  # half a frame
    a.connection_reset()
    assert a.take_events() == [Completed(FunctionCode.READ, timed_out=True, fragments=0)]
    (sent,) = master_fragments(a.request(FunctionCode.READ, b"", now=1.0))
    assert sent[0] & 0x0F == 1
