"""MMS service bodies: reference encodings of each TASE.2 service and their round trips."""

from __future__ import annotations

import pytest

from adapters.tase2.mms.access import (
    AllElements,
    AlternateAccessItem,
    AlternateAccessSelection,
    Index,
    IndexRange,
    VariableEntry,
    VariableList,
    VariableListName,
    component_access,
)
from adapters.tase2.mms.data import DataAccessError, Float32, Integer
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.names import ObjectName, Scope, is_valid_identifier
from adapters.tase2.mms.services import (
    ConfirmedServiceRequest,
    ConfirmedServiceResponse,
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
    ObjectClass,
    OtherService,
    ReadRequest,
    ReadResponse,
    WriteRequest,
    WriteResponse,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from adapters.tase2.mms.types import BitStringType, FloatType, StructureComponent, StructureType

ICC1_DS1 = ObjectName.dom("ICC1", "DS1")
DATA_REALQ = StructureType(
    (StructureComponent("Value", FloatType(32, 8)), StructureComponent("Flags", BitStringType(8)))
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace("|", " "))


REQUESTS: list[tuple[ConfirmedServiceRequest, str]] = [
    (IdentifyRequest(), "82 00"),
    (
        GetNameListRequest(ObjectClass.DOMAIN, Scope.VMD),
        "a1 09 a0 03 80 01 09 a1 02 80 00",
    ),
    (
        GetNameListRequest(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, "ICC1"),
        "a1 0d a0 03 80 01 00 a1 06 81 04 49 43 43 31",
    ),
    (
        GetNameListRequest(ObjectClass.NAMED_VARIABLE_LIST, Scope.AA, continue_after="A"),
        "a1 0c a0 03 80 01 02 a1 02 82 00 82 01 41",
    ),
    (
        ReadRequest(VariableList((VariableEntry(ObjectName.vmd("X")),)), True),
        "a4 0e 80 01 ff a1 09 a0 07 30 05 a0 03 80 01 58",
    ),
    (
        ReadRequest(VariableListName(ICC1_DS1)),
        "a4 11 a1 0f a1 0d a1 0b 1a 04 49 43 43 31 1a 03 44 53 31",
    ),
    (
        ReadRequest(
            VariableList((VariableEntry(ObjectName.dom("D", "T"), component_access("Status")),))
        ),
        "a4 1a a1 18 a0 16 30 14 a0 08 a1 06 1a 01 44 1a 01 54 a5 08 81 06 53 74 61 74 75 73",
    ),
    (
        WriteRequest(VariableList((VariableEntry(ObjectName.aa("X")),)), (Integer(1),)),
        "a5 0e a0 07 30 05 a0 03 82 01 58 a0 03 85 01 01",
    ),
    (
        GetVariableAccessAttributesRequest(ObjectName.vmd("TASE2_Version")),
        "a6 11 a0 0f 80 0d 54 41 53 45 32 5f 56 65 72 73 69 6f 6e",
    ),
    (
        DefineNamedVariableListRequest(
            ICC1_DS1, (VariableEntry(ObjectName.dom("ICC1", "Transfer_Set_Name")),)
        ),
        "ab 2e a1 0b 1a 04 49 43 43 31 1a 03 44 53 31 a0 1f 30 1d a0 1b a1 19 1a 04 49 43 43 31"
        " 1a 11 54 72 61 6e 73 66 65 72 5f 53 65 74 5f 4e 61 6d 65",
    ),
    (
        GetNamedVariableListAttributesRequest(ICC1_DS1),
        "ac 0d a1 0b 1a 04 49 43 43 31 1a 03 44 53 31",
    ),
    (
        DeleteNamedVariableListRequest((ICC1_DS1,)),
        "ad 0f a1 0d a1 0b 1a 04 49 43 43 31 1a 03 44 53 31",
    ),
    (
        DeleteNamedVariableListRequest(scope=DeleteScope.DOMAIN, domain="ICC1"),
        "ad 09 80 01 02 82 04 49 43 43 31",
    ),
]

RESPONSES: list[tuple[ConfirmedServiceResponse, str]] = [
    (
        IdentifyResponse("v", "m", "1"),
        "a2 09 80 01 76 81 01 6d 82 01 31",
    ),
    (
        IdentifyResponse("v", "m", "1", ("1.0.9506.2.1",)),
        "a2 12 80 01 76 81 01 6d 82 01 31 a3 07 06 05 28 ca 22 02 01",
    ),
    (GetNameListResponse(("ICC1",), False), "a1 0b a0 06 1a 04 49 43 43 31 81 01 00"),
    (GetNameListResponse((), True), "a1 05 a0 00 81 01 ff"),
    (
        ReadResponse((Float32(123.5), DataAccessError.OBJECT_ACCESS_DENIED)),
        "a4 0c a1 0a 87 05 08 42 f7 00 00 80 01 03",
    ),
    (
        ReadResponse((Integer(1),), VariableListName(ObjectName.vmd("L"))),
        "a4 0c a0 05 a1 03 80 01 4c a1 03 85 01 01",
    ),
    (WriteResponse((None, DataAccessError.TYPE_INCONSISTENT)), "a5 05 81 00 80 01 07"),
    (
        GetVariableAccessAttributesResponse(DATA_REALQ),
        "a6 2a 80 01 00 a2 25 a2 23 a1 21 30 11 80 05 56 61 6c 75 65 a1 08 a7 06 02 01 20 02 01"
        " 08 30 0c 80 05 46 6c 61 67 73 a1 03 84 01 08",
    ),
    (DefineNamedVariableListResponse(), "8b 00"),
    (
        GetNamedVariableListAttributesResponse((VariableEntry(ObjectName.vmd("A")),), True),
        "ac 0c 80 01 ff a1 07 30 05 a0 03 80 01 41",
    ),
    (DeleteNamedVariableListResponse(1, 1), "ad 06 80 01 01 81 01 01"),
    (DeleteNamedVariableListResponse(0, 0), "ad 06 80 01 00 81 01 00"),
]


@pytest.mark.parametrize(("request_", "wire"), REQUESTS)
def test_request_encodings(request_: ConfirmedServiceRequest, wire: str) -> None:
    raw = h(wire)
    assert encode_request(request_) == raw
    assert decode_request(raw, 0, len(raw)) == (request_, len(raw))


@pytest.mark.parametrize(("response", "wire"), RESPONSES)
def test_response_encodings(response: ConfirmedServiceResponse, wire: str) -> None:
    raw = h(wire)
    assert encode_response(response) == raw
    assert decode_response(raw, 0, len(raw)) == (response, len(raw))


def test_more_follows_defaults_to_true() -> None:
    raw = h("a1 08 a0 06 1a 04 49 43 43 31")
    response, _ = decode_response(raw, 0, len(raw))
    assert response == GetNameListResponse(("ICC1",), True)


def test_nested_and_named_alternate_access() -> None:
    nested = component_access("DSTS", "Status")
    entry = VariableEntry(ObjectName.vmd("X"), nested)
    raw = encode_request(ReadRequest(VariableList((entry,))))
    assert h("a5 12 a0 10 80 04 44 53 54 53 30 08 81 06 53 74 61 74 75 73") in raw
    assert decode_request(raw, 0, len(raw))[0] == ReadRequest(VariableList((entry,)))
    others = (
        AlternateAccessItem(AlternateAccessSelection(Index(3))),
        AlternateAccessItem(AlternateAccessSelection(IndexRange(1, 2)), name="n"),
        AlternateAccessItem(AlternateAccessSelection(AllElements())),
        AlternateAccessItem(AlternateAccessSelection(Index(0), (nested[0],))),
    )
    entry = VariableEntry(ObjectName.vmd("X"), others)
    raw = encode_request(ReadRequest(VariableList((entry,))))
    assert decode_request(raw, 0, len(raw))[0] == ReadRequest(VariableList((entry,)))


def test_unknown_services_are_kept_raw() -> None:
    raw = h("bf 47 00")  # getCapabilityList
    assert decode_request(raw, 0, len(raw)) == (OtherService(0xBF47, b""), 3)
    assert encode_request(OtherService(0xBF47, b"")) == raw
    raw = h("80 01 00")  # status
    assert decode_request(raw, 0, len(raw)) == (OtherService(0x80, b"\x00"), 3)


def test_unsupported_forms_are_errors() -> None:
    with pytest.raises(MmsDecodeError):  # GetVariableAccessAttributes by address
        raw = h("a6 05 a1 03 80 01 01")
        decode_request(raw, 0, len(raw))
    with pytest.raises(MmsDecodeError):  # variableSpecification by address
        raw = h("a4 0b a1 09 a0 07 30 05 a1 03 80 01 01")
        decode_request(raw, 0, len(raw))
    with pytest.raises(MmsEncodeError):
        encode_request(GetNameListRequest(ObjectClass.DOMAIN, Scope.DOMAIN))


def test_identifiers() -> None:
    assert is_valid_identifier("TASE2_Version")
    assert not is_valid_identifier("TASE.2_Version")
    assert not is_valid_identifier("1abc")
    assert not is_valid_identifier("x" * 33)
    with pytest.raises(MmsEncodeError):
        ObjectName(Scope.DOMAIN, "x")
    with pytest.raises(MmsEncodeError):
        ObjectName(Scope.VMD, "x", "d")
    assert str(ICC1_DS1) == "ICC1/DS1"
