"""One-frame data TSDUs by their bytes, against the layer-by-layer receiver and unwrap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.asn1.ber import tlv
from adapters.tase2.iso import data_frame, presentation, stack
from adapters.tase2.iso.errors import IsoError
from tests.support.tase2.mutations import mutated

# A libiec61850 client's Read of ICC1/P000 in presentation context 3, as captured
LIBIEC61850_FRAME = (
    "0300003202f0800100010061253023020103a01ea01c020200c7a416a114a0123010a00ea10c1a0449434331"
    "1a0450303030"
)
pdus = st.builds(tlv, st.sampled_from([0xA0, 0xA1, 0xA3, 0x8B]), st.binary(max_size=400))
contexts = st.sampled_from([1, 3, 5, 127, 129, 201, 300])


def layered(frame: bytes, context_id: int) -> bytes | None:
    """The PDU the general path finds in ``frame`` for ``context_id``, else None."""
    try:
        events = stack.TransportReceiver().feed(frame)
        if len(events) != 1 or not isinstance(events[0], stack.TsduReceived):
            return None
        ind = stack.unwrap_data(events[0].data)
    except IsoError:
        return None
    return ind.pdu if ind.context_id == context_id else None


def pdu_of(frame: bytes, context_id: int) -> bytes | None:
    span = data_frame.frame_pdu(frame, 0, len(frame), context_id)
    return None if span is None else frame[span[0] : span[1]]


def test_a_libiec61850_frame_is_found_at_its_fixed_places() -> None:
    frame = bytes.fromhex(LIBIEC61850_FRAME)
    assert data_frame.frame_length(frame, 0) == len(frame)
    pdu = pdu_of(frame, 3)
    assert pdu is not None and pdu.hex().startswith("a01c020200c7a416")
    assert pdu_of(frame, 1) is None  # another presentation context


@given(pdus, contexts)
def test_built_frames_are_what_the_layers_send_and_are_found_again(
    pdu: bytes, context_id: int
) -> None:
    frame = data_frame.data_frame(pdu, context_id)
    assert [frame] == stack.tsdu_frames(stack.wrap_data(pdu, context_id), 65531)
    assert data_frame.frame_length(frame, 0) == len(frame)
    assert layered(frame, context_id) == pdu == pdu_of(frame, context_id)


def test_a_context_id_is_compared_as_the_integer_it_encodes() -> None:
    pdu = bytes.fromhex("a0028b00")
    assert pdu_of(data_frame.data_frame(pdu, 201), 201) == pdu  # 02 02 00 C9
    other = data_frame.data_frame(pdu, -55)  # 02 01 C9: the last octet of 201's alone
    assert pdu_of(other, 201) is None is layered(other, 201)


@given(mutated(st.tuples(pdus, contexts).map(lambda a: data_frame.data_frame(*a))), contexts)
def test_damaged_frames_are_found_only_where_the_layers_find_the_same_pdu(
    frame: bytes, context_id: int
) -> None:
    length = data_frame.frame_length(frame, 0)
    if length != len(frame):
        return  # not one whole frame: the fast path does not look inside
    found = pdu_of(frame, context_id)
    if found is not None:
        assert layered(frame, context_id) == found


def test_a_presentation_transfer_syntax_name_is_accepted() -> None:
    pdv = presentation.PresentationDataValue(3, bytes.fromhex("a0028b00"), "2.1.1")
    tsdu = b"\x01\x00\x01\x00" + presentation.encode_user_data([pdv])
    (frame,) = stack.tsdu_frames(tsdu, 8192)
    assert pdu_of(frame, 3) == layered(frame, 3) == bytes.fromhex("a0028b00")


def test_a_pdu_of_two_elements_is_not_taken() -> None:
    frame = data_frame.data_frame(bytes.fromhex("a0028b00") + b"\x05\x00", 3)
    assert pdu_of(frame, 3) is None is layered(frame, 3)
