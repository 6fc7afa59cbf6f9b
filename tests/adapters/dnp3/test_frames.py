"""Link frames read from a stream: checked against py1815's frame builder and reader."""

from hypothesis import given
from hypothesis import strategies as st
from py1815 import link

from adapters.dnp3.frames import FrameReader, crc16_dnp

CONTROL = link.control_byte(
    from_master=False, primary=True, function=link.PrimaryFunction.UNCONFIRMED_USER_DATA
)


def frame(payload: bytes, destination: int = 1, source: int = 1024) -> bytes:
    return link.build(CONTROL, destination, source, payload)


def test_the_crc_is_crc16_dnp():
    assert crc16_dnp(b"123456789") == 0xEA82


def test_frames_come_out_whole_and_in_order_whatever_the_chunks():
    wire = frame(b"") + frame(bytes(range(250))) + frame(b"\x01" * 17)
    reader = FrameReader()
    out = []
    for n in range(0, len(wire), 7):
        out += reader.feed(wire[n : n + 7])
    assert [f.payload for f in out] == [b"", bytes(range(250)), b"\x01" * 17]
    assert (out[0].control, out[0].destination, out[0].source) == (CONTROL, 1, 1024)
    assert reader.problems == []


def test_garbage_and_a_bad_header_are_skipped_to_the_next_frame():
    good = frame(b"hello")
    bad_header = bytearray(frame(b"x"))
    bad_header[4] ^= 0xFF  # the destination, under the header CRC
    reader = FrameReader()
    frames = reader.feed(b"\x00\x05\x64\xff" + bytes(bad_header) + good)
    assert [f.payload for f in frames] == [b"hello"]
    assert any("header" in p for p in reader.problems)


def test_a_frame_with_a_bad_data_block_is_dropped_whole():
    bad = bytearray(frame(bytes(40)))
    bad[30] ^= 0x01  # inside the second data block
    reader = FrameReader()
    assert [f.payload for f in reader.feed(bytes(bad) + frame(b"next"))] == [b"next"]
    assert reader.problems == ["link frame with a bad data block CRC dropped"]


def test_a_start_octet_at_the_end_of_a_chunk_is_kept():
    wire = frame(b"abc")
    reader = FrameReader()
    assert reader.feed(b"\x00\x00" + wire[:1]) == []
    assert [f.payload for f in reader.feed(wire[1:])] == [b"abc"]


@given(
    st.lists(st.binary(max_size=250), min_size=1, max_size=5),
    st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20),
    st.binary(max_size=12),
)
def test_the_same_frames_as_py1815s_reader(payloads, cuts, noise):
    wire = noise + b"".join(frame(p) for p in payloads)
    ours, theirs = FrameReader(), link.FrameReader()
    got, expected = [], []
    position = 0
    for cut in [*cuts, len(wire)]:
        chunk = wire[position : position + cut]
        position += cut
        got += ours.feed(chunk)
        expected += theirs.feed(chunk)
    assert got == expected
    assert [f.payload for f in got][-len(payloads) :] == payloads
