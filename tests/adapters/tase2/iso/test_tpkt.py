"""TPKT framing and the streaming reassembler."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.iso import IsoError, TpktError
from adapters.tase2.iso.tpkt import TpktReassembler, encode_tpkt
from tests.support.tase2 import annex_a


def test_encode_tpkt_prefixes_version_and_total_length() -> None:
    assert encode_tpkt(annex_a.COTP_CR[4:]) == annex_a.COTP_CR


def test_reassembler_yields_whole_packets_from_arbitrary_chunks() -> None:
    stream = annex_a.COTP_CR + annex_a.ASSOCIATE_REQUEST
    reassembler = TpktReassembler()
    out: list[bytes] = []
    for i in range(0, len(stream), 5):
        out += reassembler.feed(stream[i : i + 5])
    assert out == [annex_a.COTP_CR[4:], annex_a.ASSOCIATE_REQUEST[4:]]
    assert reassembler.buffered == 0


def test_partial_header_is_kept_until_complete() -> None:
    reassembler = TpktReassembler()
    assert reassembler.feed(annex_a.COTP_CR[:3]) == []
    assert reassembler.buffered == 3
    assert reassembler.feed(annex_a.COTP_CR[3:]) == [annex_a.COTP_CR[4:]]


def test_length_beyond_configured_maximum_is_rejected_before_buffering() -> None:
    reassembler = TpktReassembler(max_length=1024)
    with pytest.raises(TpktError) as info:
        reassembler.feed(b"\x03\x00\xff\xff")
    assert info.value.offset == 2
    assert info.value.layer == "tpkt"


@pytest.mark.parametrize("header", [b"\x02\x00\x00\x10", b"\x03\x01\x00\x10", b"\x03\x00\x00\x06"])
def test_bad_headers_are_rejected(header: bytes) -> None:
    with pytest.raises(TpktError):
        TpktReassembler().feed(header + bytes(12))


def test_stream_stays_failed_after_an_error() -> None:
    reassembler = TpktReassembler()
    with pytest.raises(TpktError):
        reassembler.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(TpktError):
        reassembler.feed(annex_a.COTP_CR)


def test_error_offset_counts_the_whole_stream() -> None:
    reassembler = TpktReassembler()
    reassembler.feed(annex_a.COTP_CR)
    with pytest.raises(TpktError) as info:
        reassembler.feed(b"\x04\x00\x00\x10")
    assert info.value.offset == len(annex_a.COTP_CR)


@given(st.lists(st.binary(min_size=3, max_size=300), max_size=5), st.integers(1, 64))
def test_round_trip_through_any_chunking(tpdus: list[bytes], chunk: int) -> None:
    stream = b"".join(encode_tpkt(t) for t in tpdus)
    reassembler = TpktReassembler()
    out: list[bytes] = []
    for i in range(0, len(stream), chunk):
        out += reassembler.feed(stream[i : i + chunk])
    assert out == tpdus


@given(st.binary(max_size=400))
def test_random_streams_raise_only_tpkt_error(data: bytes) -> None:
    reassembler = TpktReassembler(max_length=256)
    try:
        for packet in reassembler.feed(data):
            assert 3 <= len(packet) <= 252
    except IsoError as exc:
        assert isinstance(exc, TpktError)
    assert reassembler.buffered < 256
