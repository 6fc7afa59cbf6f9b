"""Top-level MMS PDUs: Annex A vectors, every PDU kind, errors, rejects and fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.data import (
    BitString,
    Boolean,
    DataAccessError,
    Float32,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.initiate import (
    TASE2_PARAMETER_CBB,
    TASE2_SERVICES,
    ParameterCbb,
    ServiceSupport,
    negotiate,
    parameter_cbb,
    services_supported,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.pdu import (
    REJECT_CODES,
    CancelError,
    CancelRequest,
    CancelResponse,
    ConcludeError,
    ConcludeRequest,
    ConcludeResponse,
    ConfirmedError,
    ConfirmedRequest,
    ConfirmedResponse,
    InitiateError,
    InitiateRequest,
    InitiateResponse,
    MmsPdu,
    Reject,
    RejectType,
    Unconfirmed,
    decode_pdu,
    encode_pdu,
)
from adapters.tase2.mms.service_error import CODES_BY_CLASS, ErrorClass, ServiceError
from adapters.tase2.mms.services import (
    DefineNamedVariableListRequest,
    DefineNamedVariableListResponse,
    DeleteNamedVariableListRequest,
    DeleteNamedVariableListResponse,
    DeleteScope,
    GetNamedVariableListAttributesRequest,
    GetNamedVariableListAttributesResponse,
    GetNameListRequest,
    GetNameListResponse,
    GetVariableAccessAttributesRequest,
    GetVariableAccessAttributesResponse,
    IdentifyRequest,
    IdentifyResponse,
    InformationReport,
    OtherService,
    ReadRequest,
    ReadResponse,
    WriteRequest,
    WriteResponse,
)
from tests.support.tase2 import annex_a
from tests.support.tase2.mms_strategies import (
    access_results,
    data_values,
    identifiers,
    object_names,
    service_errors,
    type_specs,
    uint32,
    variable_access_specs,
    variable_entries,
)


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


ICC1 = "ICC1"
DSTS01 = Structure((Unsigned(1), VisibleString(ICC1), VisibleString("DSTransferSet01")))

# (purpose, bytes, expected PDU) -- reference Annex A and section 6.9
ANNEX_A: list[tuple[str, bytes, MmsPdu]] = [
    (
        "Read ICC1/Next_DSTransfer_Set",
        annex_a.MMS_PDUS["Read ICC1/Next_DSTransfer_Set"],
        ConfirmedRequest(
            1,
            ReadRequest(
                VariableList((VariableEntry(ObjectName.dom(ICC1, "Next_DSTransfer_Set")),))
            ),
        ),
    ),
    (
        "its response",
        annex_a.MMS_PDUS["its response"],
        ConfirmedResponse(1, ReadResponse((DSTS01,))),
    ),
    (
        "Write DSTS (2000 model)",
        annex_a.MMS_PDUS["Write DSTS (2000 model)"],
        ConfirmedRequest(
            2,
            WriteRequest(
                VariableList((VariableEntry(ObjectName.dom(ICC1, "DSTransferSet01")),)),
                (
                    Structure(
                        (
                            Structure((Unsigned(1), VisibleString(ICC1), VisibleString("DS1"))),
                            Integer(0),
                            Integer(10),
                            Integer(0),
                            Integer(2),
                            Integer(60),
                            BitString.from_bits(5, [0, 1, 2]),
                            *(Boolean(b) for b in (False, False, True, False, True)),
                            Integer(0),
                        )
                    ),
                ),
            ),
        ),
    ),
    (
        "GetNameList domains",
        annex_a.MMS_PDUS["GetNameList domains"],
        ConfirmedRequest(3, GetNameListRequest(9, Scope.VMD)),
    ),
    (
        "GetNameList variables in ICC1",
        annex_a.MMS_PDUS["GetNameList variables in ICC1"],
        ConfirmedRequest(4, GetNameListRequest(0, Scope.DOMAIN, ICC1)),
    ),
    (
        "DeleteNamedVariableList ICC1/DS1",
        annex_a.MMS_PDUS["DeleteNamedVariableList ICC1/DS1"],
        ConfirmedRequest(7, DeleteNamedVariableListRequest((ObjectName.dom(ICC1, "DS1"),))),
    ),
    (
        "Select ICC1/Breaker1_SBO",
        annex_a.MMS_PDUS["Select ICC1/Breaker1_SBO"],
        ConfirmedRequest(
            8, ReadRequest(VariableList((VariableEntry(ObjectName.dom(ICC1, "Breaker1_SBO")),)))
        ),
    ),
    (
        "Operate ICC1/Breaker1 := 1",
        annex_a.MMS_PDUS["Operate ICC1/Breaker1 := 1"],
        ConfirmedRequest(
            9,
            WriteRequest(
                VariableList((VariableEntry(ObjectName.dom(ICC1, "Breaker1")),)), (Integer(1),)
            ),
        ),
    ),
    (
        "Error: access denied",
        annex_a.MMS_PDUS["Error: access denied"],
        ConfirmedError(7, ServiceError(ErrorClass.ACCESS, 3)),
    ),
    ("Conclude", h("8b 00"), ConcludeRequest()),
    (
        "Initiate-Request (libiec61850 defaults)",
        annex_a.INITIATE_REQUEST,
        InitiateRequest(
            5,
            5,
            65000,
            10,
            1,
            TASE2_PARAMETER_CBB,
            BitString(85, h("ee 1c 00 00 04 08 00 00 79 ef 18")),
        ),
    ),
    (
        "Initiate-Response (minimal TASE.2 services)",
        annex_a.INITIATE_RESPONSE,
        InitiateResponse(),
    ),
    (
        "Full data-set report (section 6.9)",
        h(
            "a3 46 a0 44 a1 0d a1 0b 1a 04 49 43 43 31 1a 03 44 53 31 a0 33 a2 1a 86 01 01 8a 04"
            " 49 43 43 31 8a 0f 44 53 54 72 61 6e 73 66 65 72 53 65 74 30 31 84 02 03 80 85 04 65"
            " 53 f1 00 a2 0b 87 05 08 42 f7 00 00 84 02 00 20"
        ),
        Unconfirmed(
            InformationReport(
                VariableListName(ObjectName.dom(ICC1, "DS1")),
                (
                    DSTS01,
                    BitString.from_bits(5, [0]),
                    Integer(1700000000),
                    Structure((Float32(123.5), BitString(8, b"\x20"))),
                ),
            )
        ),
    ),
]


@pytest.mark.parametrize(("purpose", "raw", "expected"), ANNEX_A, ids=[a[0] for a in ANNEX_A])
def test_annex_a_vectors(purpose: str, raw: bytes, expected: MmsPdu) -> None:
    assert decode_pdu(raw) == expected
    assert encode_pdu(expected) == raw


def test_tase2_service_bits() -> None:
    assert TASE2_PARAMETER_CBB.data == b"\xf1\x00"
    assert TASE2_SERVICES.data == h("6e 1c 00 00 00 00 00 00 00 01 18")
    assert parameter_cbb(ParameterCbb.STR2).data == b"\x40\x00"
    assert services_supported(ServiceSupport.INFORMATION_REPORT).bit(79)


def test_negotiation() -> None:
    offer = decode_pdu(
        h(
            "a8 26 80 03 00 fd e8 81 01 0a 82 01 03 83 01 0a a4 16 80 01 01 81 03 05 f1 00 82 0c 03"
            " ee 1c 00 00 04 08 00 00 79 ef 18"
        )
    )
    assert isinstance(offer, InitiateRequest)
    own = InitiateResponse(local_detail=8192, parameter_cbb=parameter_cbb(ParameterCbb.STR2))
    answer = negotiate(offer, own)
    assert answer.local_detail == 8192
    assert (answer.max_serv_outstanding_calling, answer.max_serv_outstanding_called) == (5, 3)
    assert answer.parameter_cbb.set_bits() == [ParameterCbb.STR2]
    assert answer.services_supported == TASE2_SERVICES


@pytest.mark.parametrize("error_class", list(ErrorClass))
def test_every_error_class_and_code(error_class: ErrorClass) -> None:
    enum = CODES_BY_CLASS[error_class]
    codes = [int(c) for c in enum] if enum is not None else [0, 1, 99]
    for code in codes:
        pdu = ConfirmedError(0x1234, ServiceError(error_class, code))
        raw = encode_pdu(pdu)
        assert raw == h("a2 0b 80 02 12 34 a2 05 a0 03") + bytes((0x80 + error_class, 1, code))
        decoded = decode_pdu(raw)
        assert decoded == pdu
        assert isinstance(decoded, ConfirmedError)
        if enum is not None:
            assert decoded.error.code_name == enum(code).name


def test_service_error_optional_fields() -> None:
    err = ServiceError(
        ErrorClass.SERVICE,
        2,
        additional_code=7,
        additional_description="busy",
        service_specific=(0x86, b"\x01"),
    )
    for pdu in (
        ConfirmedError(1, err, modifier_position=0),
        InitiateError(err),
        ConcludeError(err),
        CancelError(3, err),
    ):
        assert decode_pdu(encode_pdu(pdu)) == pdu
    assert str(err) == "SERVICE/OBJECT_STATE_CONFLICT"


def test_initiate_error_libiec61850_style() -> None:
    raw = h("aa 05 a0 03 88 01 00")
    assert decode_pdu(raw) == InitiateError(ServiceError(ErrorClass.INITIATE, 0))


@pytest.mark.parametrize("kind", list(RejectType))
def test_every_reject_reason(kind: RejectType) -> None:
    for code in REJECT_CODES[kind]:
        pdu = Reject(kind, code, 5)
        raw = encode_pdu(pdu)
        assert raw == h("a4 06 80 01 05") + bytes((0x80 + kind, 1, code))
        decoded = decode_pdu(raw)
        assert decoded == pdu
        assert isinstance(decoded, Reject) and decoded.code is code
        assert pdu.reason == f"{kind.name.lower().replace('_', '-')}/{_asn1(code.name)}"
    assert decode_pdu(encode_pdu(Reject(kind, 0))) == Reject(kind, 0)


def _asn1(name: str) -> str:
    return (
        name.lower()
        .replace("_", "-")
        .replace("invoke-id", "invokeID")
        .replace("service-error", "serviceError")
    )


def test_reject_reasons_are_named_as_iso_9506_names_them() -> None:
    assert Reject(RejectType.CONFIRMED_REQUEST, 3).reason == "confirmed-request/invalid-invokeID"
    assert Reject(RejectType.CONFIRMED_ERROR, 3).reason == "confirmed-error/invalid-serviceError"
    assert Reject(RejectType.PDU_ERROR, 2).reason == "pdu-error/illegal-acse-mapping"


def test_an_unknown_reject_code_is_kept_as_a_number() -> None:
    decoded = decode_pdu(h("a4 03 81 01 63"))
    assert decoded == Reject(RejectType.CONFIRMED_REQUEST, 99)
    assert isinstance(decoded, Reject) and type(decoded.code) is int
    assert decoded.reason == "confirmed-request/99"


def test_small_pdus() -> None:
    assert encode_pdu(ConcludeResponse()) == h("8c 00")
    assert encode_pdu(CancelRequest(5)) == h("85 01 05")
    assert encode_pdu(CancelResponse(300)) == h("86 02 01 2c")
    for pdu in (ConcludeRequest(), ConcludeResponse(), CancelRequest(5), CancelResponse(300)):
        assert decode_pdu(encode_pdu(pdu)) == pdu


def test_decode_errors_carry_field_offset_and_invoke_id() -> None:
    # a Read with an unknown VariableAccessSpecification: invokeID known, reject possible
    raw = h("a0 09 02 01 2a a4 04 a1 02 a7 00")
    with pytest.raises(MmsDecodeError) as info:
        decode_pdu(raw)
    assert info.value.invoke_id == 42
    assert info.value.offset == 9
    assert "VariableAccessSpecification" in str(info.value)
    with pytest.raises(MmsDecodeError) as info:
        decode_pdu(h("bf 20 00"))
    assert info.value.invoke_id is None
    with pytest.raises(MmsDecodeError):
        decode_pdu(h("8b 00 00"))  # trailing octets
    with pytest.raises(MmsDecodeError):
        decode_pdu(h("a0 84 7f ff ff ff 02 01 01"))  # length claims 2 GB


def test_unknown_service_keeps_invoke_id() -> None:
    pdu = decode_pdu(h("a0 06 02 01 05 bf 47 00"))
    assert pdu == ConfirmedRequest(5, OtherService(0xBF47, b""))


def test_invoke_id_range() -> None:
    with pytest.raises(MmsEncodeError):
        encode_pdu(ConfirmedRequest(2**32, IdentifyRequest()))
    assert decode_pdu(encode_pdu(ConfirmedRequest(2**32 - 1, IdentifyRequest()))) == (
        ConfirmedRequest(2**32 - 1, IdentifyRequest())
    )


requests = st.one_of(
    st.builds(
        GetNameListRequest,
        st.integers(0, 13),
        st.sampled_from([Scope.VMD, Scope.AA]),
        st.none(),
        st.none() | identifiers,
    ),
    st.builds(GetNameListRequest, st.integers(0, 13), st.just(Scope.DOMAIN), identifiers),
    st.just(IdentifyRequest()),
    st.builds(ReadRequest, variable_access_specs, st.booleans()),
    st.builds(WriteRequest, variable_access_specs, st.lists(data_values, max_size=3).map(tuple)),
    st.builds(GetVariableAccessAttributesRequest, object_names),
    st.builds(DefineNamedVariableListRequest, object_names, variable_entries),
    st.builds(GetNamedVariableListAttributesRequest, object_names),
    st.builds(
        DeleteNamedVariableListRequest,
        st.none() | st.lists(object_names, max_size=3).map(tuple),
        st.sampled_from(list(DeleteScope)),
        st.none() | identifiers,
    ),
)
responses = st.one_of(
    st.builds(GetNameListResponse, st.lists(identifiers, max_size=5).map(tuple), st.booleans()),
    st.builds(IdentifyResponse, identifiers, identifiers, identifiers),
    st.builds(
        ReadResponse,
        st.lists(access_results, max_size=4).map(tuple),
        st.none() | variable_access_specs,
    ),
    st.builds(
        WriteResponse,
        st.lists(st.none() | st.sampled_from(list(DataAccessError)), max_size=4).map(tuple),
    ),
    st.builds(GetVariableAccessAttributesResponse, type_specs, st.booleans()),
    st.just(DefineNamedVariableListResponse()),
    st.builds(GetNamedVariableListAttributesResponse, variable_entries, st.booleans()),
    st.builds(DeleteNamedVariableListResponse, uint32, uint32),
)
pdus = st.one_of(
    st.builds(ConfirmedRequest, uint32, requests),
    st.builds(ConfirmedResponse, uint32, responses),
    st.builds(ConfirmedError, uint32, service_errors, st.none() | uint32),
    st.builds(
        Unconfirmed,
        st.builds(
            InformationReport,
            variable_access_specs,
            st.lists(access_results, max_size=4).map(tuple),
        ),
    ),
    st.builds(Reject, st.sampled_from(list(RejectType)), st.integers(0, 9), st.none() | uint32),
    st.builds(CancelRequest, uint32),
    st.builds(CancelResponse, uint32),
    st.builds(CancelError, uint32, service_errors),
    st.builds(
        InitiateRequest,
        st.integers(1, 100),
        st.integers(1, 100),
        st.none() | st.integers(0, 2**31 - 1),
        st.none() | st.integers(0, 100),
    ),
    st.builds(InitiateResponse, st.integers(1, 100), st.integers(1, 100)),
    st.builds(InitiateError, service_errors),
    st.just(ConcludeRequest()),
    st.just(ConcludeResponse()),
    st.builds(ConcludeError, service_errors),
)


@given(pdus)
def test_pdu_roundtrip(pdu: MmsPdu) -> None:
    assert decode_pdu(encode_pdu(pdu)) == pdu


@given(st.binary(max_size=300))
def test_fuzz_random_bytes(raw: bytes) -> None:
    with contextlib.suppress(MmsDecodeError):
        decode_pdu(raw)


@settings(max_examples=300)
@given(pdus, st.data())
def test_fuzz_mutated_pdus(pdu: MmsPdu, draw: st.DataObject) -> None:
    raw = bytearray(encode_pdu(pdu))
    for _ in range(draw.draw(st.integers(1, 4))):
        op = draw.draw(st.sampled_from(["flip", "cut", "insert", "length"]))
        pos = draw.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] ^= draw.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = draw.draw(st.binary(min_size=1, max_size=4))
        elif raw:
            raw[pos] = draw.draw(st.sampled_from([0x80, 0x81, 0x84, 0xFF, 0x7F]))
    with contextlib.suppress(MmsDecodeError):
        decode_pdu(bytes(raw))
