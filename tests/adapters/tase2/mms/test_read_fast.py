"""The Read fast path's recogniser and answer builder against the general codec.

Whatever :func:`parse_read_request` recognises, :func:`decode_pdu` decodes to the same
request; what it does not recognise is left to the general decoder. Answers are octet for
octet those of :func:`encode_pdu`.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.asn1.ber import encode_unsigned
from adapters.tase2.iso.data_frame import data_frame
from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.data import AccessResult, encode_access_results
from adapters.tase2.mms.errors import MmsDecodeError
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import (
    ConfirmedRequest,
    ConfirmedResponse,
    decode_pdu,
    encode_pdu,
)
from adapters.tase2.mms.read_fast import KeptRead, encode_read_answer, parse_read_request
from adapters.tase2.mms.services import IdentifyRequest, ReadRequest, ReadResponse
from tests.support.tase2.mms_strategies import (
    access_results,
    object_names,
    uint32,
    variable_access_specs,
)
from tests.support.tase2.mutations import mutated

plain_specs = st.one_of(
    st.lists(object_names.map(VariableEntry), min_size=1, max_size=20).map(
        lambda entries: VariableList(tuple(entries))
    ),
    object_names.map(VariableListName),
)
plain_reads = st.builds(
    ConfirmedRequest, uint32, st.builds(ReadRequest, plain_specs, st.booleans())
)
other_requests = st.builds(
    ConfirmedRequest,
    uint32,
    st.one_of(
        st.builds(ReadRequest, variable_access_specs, st.booleans()), st.just(IdentifyRequest())
    ),
)


def parse(raw: bytes) -> tuple[int, ReadRequest] | None:
    return parse_read_request(raw, 0, len(raw))


def reference(raw: bytes) -> object:
    """What the general decoder makes of ``raw`` (its error when it refuses it)."""
    try:
        return decode_pdu(raw)
    except MmsDecodeError as exc:
        return exc


# MmsConnection_readVariable(con, "ICC1", "P000") and
# MmsConnection_readNamedVariableListValues(con, "ICC1", "BENCH_NVL", false), as captured
LIBIEC61850_READ = "a01c020200c7a416a114a0123010a00ea10c1a04494343311a0450303030"
LIBIEC61850_LIST_READ = "a01d0202019fa417a115a113a1111a04494343311a0942454e43485f4e564c"


def test_libiec61850s_reads_are_recognised() -> None:
    assert parse(bytes.fromhex(LIBIEC61850_READ)) == (
        199,
        ReadRequest(VariableList((VariableEntry(ObjectName.dom("ICC1", "P000")),))),
    )
    assert parse(bytes.fromhex(LIBIEC61850_LIST_READ)) == (
        415,
        ReadRequest(VariableListName(ObjectName.dom("ICC1", "BENCH_NVL"))),
    )


@given(plain_reads)
def test_plain_reads_parse_as_the_general_decoder_reads_them(pdu: ConfirmedRequest) -> None:
    raw = encode_pdu(pdu)
    assert parse(raw) == (pdu.invoke_id, pdu.service)


@given(other_requests)
def test_other_requests_are_recognised_only_as_what_they_are(pdu: ConfirmedRequest) -> None:
    parsed = parse(encode_pdu(pdu))
    assert parsed is None or parsed == (pdu.invoke_id, pdu.service)


@given(mutated(plain_reads.map(encode_pdu)))
def test_damaged_reads_are_recognised_only_when_they_decode_the_same(raw: bytes) -> None:
    parsed = parse(raw)
    if parsed is None:
        return
    decoded = reference(raw)
    assert isinstance(decoded, ConfirmedRequest), raw.hex()
    assert (decoded.invoke_id, decoded.service) == parsed


@given(st.binary(max_size=60))
def test_random_octets_are_recognised_only_when_they_decode_the_same(raw: bytes) -> None:
    parsed = parse(raw)
    if parsed is not None:
        decoded = reference(raw)
        assert isinstance(decoded, ConfirmedRequest)
        assert (decoded.invoke_id, decoded.service) == parsed


@given(plain_reads, st.lists(access_results, max_size=8))
def test_answers_are_the_general_encoders_octet_for_octet(
    pdu: ConfirmedRequest, results: list[AccessResult]
) -> None:
    request = pdu.service
    assert isinstance(request, ReadRequest)
    spec = request.spec if request.specification_with_result else None
    expected = encode_pdu(ConfirmedResponse(pdu.invoke_id, ReadResponse(tuple(results), spec)))
    assert encode_read_answer(pdu.invoke_id, request, encode_access_results(results)) == expected


@given(
    plain_reads.map(lambda pdu: pdu.service),
    st.lists(
        st.tuples(uint32, st.lists(access_results, max_size=30).map(encode_access_results)),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 127),
)
def test_a_kept_read_answers_as_a_newly_built_frame_whatever_repeats(
    request: ReadRequest, answers: list[tuple[int, bytes]], context_id: int
) -> None:
    kept = KeptRead(request)
    for invoke_id, results in [*answers, *answers]:  # each answer again: from the kept frame
        pdu = encode_read_answer(invoke_id, request, results)
        answer = kept.answer(encode_unsigned(invoke_id), results, context_id)
        assert answer == data_frame(pdu, context_id)
        assert kept.pdu_size == len(pdu)
