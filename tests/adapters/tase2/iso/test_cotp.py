"""COTP class 0: CR/CC negotiation, DT segmentation and reassembly, DR, ER."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.iso import CotpError
from adapters.tase2.iso.cotp import (
    ConnectionConfirm,
    ConnectionRequest,
    DataTpdu,
    DisconnectReason,
    DisconnectRequest,
    ErrorCause,
    Tpdu,
    TpduError,
    TsduReassembler,
    accept_connection,
    agreed_tpdu_size,
    decode_tpdu,
    encode_tpdu,
    negotiate_tpdu_size,
    segment_tsdu,
)
from tests.support.tase2 import annex_a


def test_libiec61850_cr_decodes_and_default_cr_encodes_identically() -> None:
    cr = decode_tpdu(annex_a.COTP_CR[4:])
    assert cr == ConnectionRequest(
        src_ref=1, calling_tsap=b"\x00\x01", called_tsap=b"\x00\x01", tpdu_size=8192
    )
    assert encode_tpdu(ConnectionRequest()) == annex_a.COTP_CR[4:]


def test_responder_echoes_tsaps_and_keeps_offered_size() -> None:
    cr = decode_tpdu(annex_a.COTP_CR[4:])
    assert isinstance(cr, ConnectionRequest)
    cc = accept_connection(cr, own_ref=1, own_max_tpdu_size=8192)
    assert encode_tpdu(cc) == annex_a.COTP_CC[4:]
    assert decode_tpdu(annex_a.COTP_CC[4:]) == cc


def test_responder_lowers_but_never_raises_the_tpdu_size() -> None:
    assert negotiate_tpdu_size(8192, own_max=1024) == 1024
    assert negotiate_tpdu_size(256, own_max=8192) == 256
    assert negotiate_tpdu_size(None) == 128  # ISO 8073 default when C0 is absent


def test_cr_without_size_and_with_unknown_parameters() -> None:
    # C6 additional options and F0 preferred maximum (64 units of 128) are skipped / read
    raw = bytes.fromhex("10 e0 0000 0007 00 c6 01 01 f0 02 00 40 c1 01 05")
    cr = decode_tpdu(raw)
    assert cr == ConnectionRequest(
        src_ref=7,
        calling_tsap=b"\x05",
        called_tsap=None,
        tpdu_size=None,
        preferred_max_tpdu_size=64 * 128,
    )


def test_cc_always_confirms_class_0() -> None:
    assert accept_connection(ConnectionRequest(class_option=0x20)).class_option == 0


def test_initiator_uses_the_confirmed_size_but_never_more_than_it_offered() -> None:
    assert agreed_tpdu_size(8192, 1024) == 1024
    assert agreed_tpdu_size(1024, 8192) == 1024
    assert agreed_tpdu_size(2048, None) == 2048
    assert agreed_tpdu_size(None, None) == 128


def test_small_tsdu_is_one_dt_with_eot() -> None:
    assert segment_tsdu(b"abc", 8192) == [b"\x02\xf0\x80abc"]
    assert segment_tsdu(b"", 128) == [b"\x02\xf0\x80"]


def test_large_tsdu_is_segmented_and_reassembled() -> None:
    tsdu = bytes(range(256)) * 4
    dts = segment_tsdu(tsdu, 128)
    assert all(len(d) <= 128 for d in dts)
    assert [d[2] for d in dts] == [0] * (len(dts) - 1) + [0x80]
    reassembler = TsduReassembler()
    results = [reassembler.feed(decode_tpdu(d)) for d in dts]  # type: ignore[arg-type]
    assert results[:-1] == [None] * (len(dts) - 1)
    assert results[-1] == tsdu


def test_reassembly_is_bounded() -> None:
    reassembler = TsduReassembler(max_tsdu_size=1000)
    reassembler.feed(DataTpdu(bytes(600), eot=False))
    with pytest.raises(CotpError, match="larger than 1000"):
        reassembler.feed(DataTpdu(bytes(600), eot=False))
    assert reassembler.pending == 0


def test_dr_and_er_round_trip() -> None:
    dr = DisconnectRequest(dst_ref=1, src_ref=2, reason=DisconnectReason.ADDRESS_UNKNOWN)
    assert encode_tpdu(dr) == bytes.fromhex("06 80 0001 0002 03")
    assert decode_tpdu(encode_tpdu(dr)) == dr
    er = TpduError(dst_ref=1, cause=ErrorCause.INVALID_TPDU_TYPE, rejected_tpdu=b"\x02\x55")
    assert encode_tpdu(er) == bytes.fromhex("08 70 0001 02 c1 02 0255")
    assert decode_tpdu(encode_tpdu(er)) == er


def test_codes_decode_to_their_names_and_unknown_ones_stay_numbers() -> None:
    dr = decode_tpdu(bytes.fromhex("06 80 0001 0002 80"))
    assert isinstance(dr, DisconnectRequest) and dr.reason is DisconnectReason.NORMAL
    odd = decode_tpdu(bytes.fromhex("06 80 0001 0002 7f"))
    assert isinstance(odd, DisconnectRequest) and type(odd.reason) is int and odd.reason == 0x7F
    er = decode_tpdu(bytes.fromhex("04 70 0001 03"))
    assert isinstance(er, TpduError) and er.cause is ErrorCause.INVALID_PARAMETER_VALUE


@pytest.mark.parametrize(
    ("hex_data", "cause"),
    [
        ("02 55 80", ErrorCause.INVALID_TPDU_TYPE),
        ("11 e0 0000 0001 00 c0 01 0d", ErrorCause.UNSPECIFIED),  # LI overruns
        ("09 e0 0000 0001 00 c0 05 0d", ErrorCause.INVALID_PARAMETER_VALUE),
        ("09 e0 0000 0001 00 c0 01 03", ErrorCause.INVALID_PARAMETER_VALUE),
        ("ff f0 80", ErrorCause.UNSPECIFIED),
    ],
)
def test_malformed_tpdus_give_the_er_cause(hex_data: str, cause: int) -> None:
    with pytest.raises(CotpError) as info:
        decode_tpdu(bytes.fromhex(hex_data))
    assert info.value.cause == cause
    assert info.value.layer == "cotp"


tsaps = st.none() | st.binary(min_size=1, max_size=16)
sizes = st.none() | st.sampled_from([128, 256, 512, 1024, 2048, 4096, 8192])
tpdus = st.one_of(
    st.builds(ConnectionRequest, st.integers(0, 0xFFFF), tsaps, tsaps, sizes),
    st.builds(
        ConnectionConfirm, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), tsaps, tsaps, sizes
    ),
    st.builds(DataTpdu, st.binary(max_size=100), st.booleans()),
    st.builds(
        DisconnectRequest,
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
        st.integers(0, 255),
        st.none() | st.binary(max_size=20),
        st.binary(max_size=20),
    ),
    st.builds(
        TpduError, st.integers(0, 0xFFFF), st.integers(0, 3), st.none() | st.binary(max_size=20)
    ),
)


@given(tpdus)
def test_every_tpdu_round_trips(tpdu: Tpdu) -> None:
    assert decode_tpdu(encode_tpdu(tpdu)) == tpdu


@given(st.binary(min_size=0, max_size=3000), st.sampled_from([128, 256, 1024, 8192]))
def test_segmentation_round_trips(tsdu: bytes, size: int) -> None:
    reassembler = TsduReassembler()
    out = [reassembler.feed(DataTpdu(d[3:], bool(d[2] & 0x80))) for d in segment_tsdu(tsdu, size)]
    assert out[-1] == tsdu


@given(st.binary(max_size=64))
def test_random_bytes_raise_only_cotp_error(data: bytes) -> None:
    with contextlib.suppress(CotpError):
        decode_tpdu(data)


@given(tpdus, st.data())
def test_mutated_tpdus_raise_only_cotp_error(tpdu: Tpdu, data: st.DataObject) -> None:
    raw = bytearray(encode_tpdu(tpdu))
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CotpError):
        decode_tpdu(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
