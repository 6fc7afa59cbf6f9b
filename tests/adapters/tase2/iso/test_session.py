"""Session SPDUs: the Annex A frames, both length forms, version rules, robustness."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.iso import SessionError
from adapters.tase2.iso.session import (
    AbortAcceptSpdu,
    AbortSpdu,
    AcceptSpdu,
    ConnectSpdu,
    DataSpdu,
    DisconnectSpdu,
    FinishSpdu,
    NotFinishedSpdu,
    RefuseReason,
    RefuseSpdu,
    Spdu,
    decode_spdu,
    encode_spdu,
    negotiate_version,
)
from tests.support.tase2 import annex_a


def test_annex_a_connect_decodes_and_re_encodes() -> None:
    tsdu = annex_a.tsdu_of(annex_a.ASSOCIATE_REQUEST)
    cn = decode_spdu(tsdu)
    assert isinstance(cn, ConnectSpdu)
    assert cn.calling_selector == cn.called_selector == b"\x00\x01"
    assert (cn.version, cn.protocol_options, cn.requirements) == (2, 0, 0x0002)
    assert cn.user_data[:3] == b"\x31\x81\x99"
    assert encode_spdu(cn) == tsdu


def test_annex_a_accept_finish_disconnect() -> None:
    for frame, kind in [
        (annex_a.ASSOCIATE_RESPONSE, AcceptSpdu),
        (annex_a.FINISH, FinishSpdu),
        (annex_a.DISCONNECT, DisconnectSpdu),
    ]:
        tsdu = annex_a.tsdu_of(frame)
        spdu = decode_spdu(tsdu)
        assert isinstance(spdu, kind)
        assert encode_spdu(spdu) == tsdu


def test_data_with_and_without_give_tokens() -> None:
    dt = decode_spdu(annex_a.CONCLUDE_TSDU)
    assert dt == DataSpdu(annex_a.CONCLUDE_TSDU[4:], give_tokens=True)
    bare = decode_spdu(b"\x01\x00" + annex_a.CONCLUDE_TSDU[4:])
    assert bare == DataSpdu(annex_a.CONCLUDE_TSDU[4:], give_tokens=False)
    assert encode_spdu(bare) == b"\x01\x00" + annex_a.CONCLUDE_TSDU[4:]


def test_three_octet_length_form_for_large_user_data() -> None:
    cpa = b"\x31" + bytes(400)
    ac = encode_spdu(AcceptSpdu(cpa))
    assert ac[1] == 0xFF  # SPDU LI in the FF hi lo form
    assert decode_spdu(ac) == AcceptSpdu(cpa)


def test_large_connect_user_data_goes_to_extended_user_data() -> None:
    cn = ConnectSpdu(bytes(600))
    raw = encode_spdu(cn)
    assert b"\xc2\xff\x02\x58" in raw  # PGI 194, length 600
    assert decode_spdu(raw) == cn


def test_version_bit_2_is_enough_and_02_is_answered() -> None:
    assert negotiate_version(0x02) == 0x02
    assert negotiate_version(0x03) == 0x02
    with pytest.raises(SessionError):
        negotiate_version(0x01)


def test_connect_without_version_reads_as_version_1() -> None:
    raw = bytes.fromhex("0d 05 c1 03 31 01 00")
    cn = decode_spdu(raw)
    assert isinstance(cn, ConnectSpdu)
    assert cn.version == 1
    assert cn.user_data == b"\x31\x01\x00"


def test_unknown_parameters_are_skipped() -> None:
    # PGI 1 connection identifier (with PI 10) and unknown PI 99 before the user data
    raw = bytes.fromhex("0d 0f 01 03 0a 01 07 63 02 aa bb 16 01 02 c1 01 ff")
    cn = decode_spdu(raw)
    assert cn == ConnectSpdu(b"\xff", None, None, version=2, requirements=None)


def test_refuse_carries_user_data_in_reason_code() -> None:
    rf = RefuseSpdu(b"\x30\x00", reason=RefuseReason.USER_REJECTION_WITH_DATA)
    raw = encode_spdu(rf)
    assert raw.endswith(b"\x32\x03\x02\x30\x00")
    assert decode_spdu(raw) == rf


def test_abort_as_libiec61850_sends_it() -> None:
    ab = AbortSpdu(b"\xa0\x00")
    assert encode_spdu(ab) == bytes.fromhex("19 07 11 01 0b c1 02 a0 00")
    assert decode_spdu(encode_spdu(ab)) == ab


@pytest.mark.parametrize(
    ("hex_data", "offset"),
    [
        ("0d", 0),  # too short
        ("0d 05 c1 03 31", 1),  # LI larger than the SPDU
        ("0d 03 c1 05 31", 3),  # parameter overruns
        ("0d ff 00", 1),  # truncated 3-octet LI
        ("7f 00", 0),  # unknown SPDU identifier
        ("01 05 01 00", 1),  # DT length overruns
    ],
)
def test_malformed_spdus(hex_data: str, offset: int) -> None:
    with pytest.raises(SessionError) as info:
        decode_spdu(bytes.fromhex(hex_data))
    assert info.value.offset == offset
    assert info.value.layer == "session"


selectors = st.none() | st.binary(max_size=16)
user_data = st.binary(max_size=700)
spdus = st.one_of(
    st.builds(
        ConnectSpdu,
        user_data,
        selectors,
        selectors,
        st.integers(0, 255),
        st.integers(0, 255),
        st.none() | st.integers(0, 0xFFFF),
        st.none() | st.binary(min_size=4, max_size=4),
    ),
    st.builds(AcceptSpdu, user_data, selectors, st.integers(0, 255), st.integers(0, 255)),
    st.builds(
        RefuseSpdu,
        st.binary(max_size=300),
        st.integers(0, 255),
        st.none() | st.integers(0, 255),
        st.none() | st.integers(0, 255),
    ),
    st.builds(DataSpdu, st.binary(max_size=50).map(lambda b: b"\x61" + b), st.booleans()),
    st.builds(FinishSpdu, user_data, st.none() | st.integers(0, 255)),
    st.builds(DisconnectSpdu, user_data),
    st.builds(NotFinishedSpdu, user_data),
    st.builds(AbortSpdu, user_data, st.none() | st.integers(0, 255)),
    st.just(AbortAcceptSpdu()),
)


@given(spdus)
def test_every_spdu_round_trips(spdu: Spdu) -> None:
    assert decode_spdu(encode_spdu(spdu)) == spdu


@given(st.binary(max_size=100))
def test_random_bytes_raise_only_session_error(data: bytes) -> None:
    with contextlib.suppress(SessionError):
        decode_spdu(data)


@given(spdus, st.data())
def test_mutated_spdus_raise_only_session_error(spdu: Spdu, data: st.DataObject) -> None:
    raw = bytearray(encode_spdu(spdu))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(SessionError):
        decode_spdu(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
