"""Confirmed service request/response bodies and the InformationReport, with their codecs.

``encode_request``/``encode_response`` return the whole ConfirmedServiceRequest/-Response
element (tag included); ``decode_request``/``decode_response`` read one such element.
Services this codec does not model come back as :class:`OtherService` with their raw
content, so a server can answer them with a Reject or a ServiceError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeAlias, TypeVar

from adapters.tase2.asn1.ber import decode_oid, decode_tlv, encode_integer, encode_oid, tlv
from adapters.tase2.mms.access import (
    VariableAccessSpecification,
    VariableEntry,
    decode_variable_access_spec,
    decode_variable_entries,
    encode_variable_access_spec,
    encode_variable_entries,
)
from adapters.tase2.mms.data import (
    AccessResult,
    Data,
    DataAccessError,
    decode_access_results,
    decode_data_list,
    encode_access_results,
    encode_data_list,
)
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.fields import (
    Buffer,
    decode_visible,
    encode_visible,
    read_bool,
    read_int,
    read_uint,
    uint_tlv,
)
from adapters.tase2.mms.names import (
    ObjectName,
    Scope,
    decode_identifier,
    decode_object_name,
    encode_identifier,
    encode_object_name,
)
from adapters.tase2.mms.types import TypeSpecification, decode_type_spec, encode_type_spec

__all__ = [
    "ConfirmedServiceRequest",
    "ConfirmedServiceResponse",
    "DefineNamedVariableListRequest",
    "DefineNamedVariableListResponse",
    "DeleteNamedVariableListRequest",
    "DeleteNamedVariableListResponse",
    "DeleteScope",
    "GetNameListRequest",
    "GetNameListResponse",
    "GetNamedVariableListAttributesRequest",
    "GetNamedVariableListAttributesResponse",
    "GetVariableAccessAttributesRequest",
    "GetVariableAccessAttributesResponse",
    "IdentifyRequest",
    "IdentifyResponse",
    "InformationReport",
    "ObjectClass",
    "OtherService",
    "ReadRequest",
    "ReadResponse",
    "WriteRequest",
    "WriteResponse",
    "decode_information_report",
    "decode_request",
    "decode_response",
    "encode_information_report",
    "encode_read_response",
    "encode_request",
    "encode_response",
]


class ObjectClass(IntEnum):
    """GetNameList objectClass."""

    NAMED_VARIABLE = 0
    SCATTERED_ACCESS = 1
    NAMED_VARIABLE_LIST = 2
    NAMED_TYPE = 3
    SEMAPHORE = 4
    EVENT_CONDITION = 5
    EVENT_ACTION = 6
    EVENT_ENROLLMENT = 7
    JOURNAL = 8
    DOMAIN = 9
    PROGRAM_INVOCATION = 10
    OPERATOR_STATION = 11


class DeleteScope(IntEnum):
    """DeleteNamedVariableList scopeOfDelete."""

    SPECIFIC = 0
    AA_SPECIFIC = 1
    DOMAIN = 2
    VMD = 3


# --------------------------------------------------------------------------- the model


@dataclass(slots=True, frozen=True)
class GetNameListRequest:
    """GetNameList [1]: names of ``object_class`` in a scope, after ``continue_after``.

    ``domain`` is required for domain scope and must be None otherwise.
    """

    object_class: int
    scope: Scope
    domain: str | None = None
    continue_after: str | None = None


@dataclass(slots=True, frozen=True)
class GetNameListResponse:
    """GetNameList answer: one page of names; ``more_follows`` asks for another request."""

    identifiers: tuple[str, ...]
    more_follows: bool = True


@dataclass(slots=True, frozen=True)
class IdentifyRequest:
    """Identify [2] (no argument)."""


@dataclass(slots=True, frozen=True)
class IdentifyResponse:
    """Identify answer: vendor, model, revision and optional abstract syntaxes (OIDs)."""

    vendor: str
    model: str
    revision: str
    abstract_syntaxes: tuple[str, ...] | None = None


@dataclass(slots=True, frozen=True)
class ReadRequest:
    """Read [4] of the variables named by ``spec``."""

    spec: VariableAccessSpecification
    specification_with_result: bool = False


@dataclass(slots=True, frozen=True)
class ReadResponse:
    """Read answer: one AccessResult per variable; ``spec`` only if it was asked for."""

    results: tuple[AccessResult, ...]
    spec: VariableAccessSpecification | None = None


@dataclass(slots=True, frozen=True)
class WriteRequest:
    """Write [5]: one value per variable named by ``spec``."""

    spec: VariableAccessSpecification
    values: tuple[Data, ...]


@dataclass(slots=True, frozen=True)
class WriteResponse:
    """Write answer: per variable None (success) or the DataAccessError."""

    results: tuple[DataAccessError | None, ...]


@dataclass(slots=True, frozen=True)
class GetVariableAccessAttributesRequest:
    """GetVariableAccessAttributes [6] by name."""

    name: ObjectName


@dataclass(slots=True, frozen=True)
class GetVariableAccessAttributesResponse:
    """GetVariableAccessAttributes answer: the variable's type."""

    type_spec: TypeSpecification
    mms_deletable: bool = False


@dataclass(slots=True, frozen=True)
class DefineNamedVariableListRequest:
    """DefineNamedVariableList [11]: create list ``name`` of ``variables``."""

    name: ObjectName
    variables: tuple[VariableEntry, ...]


@dataclass(slots=True, frozen=True)
class DefineNamedVariableListResponse:
    """DefineNamedVariableList answer (NULL)."""


@dataclass(slots=True, frozen=True)
class GetNamedVariableListAttributesRequest:
    """GetNamedVariableListAttributes [12] of list ``name``."""

    name: ObjectName


@dataclass(slots=True, frozen=True)
class GetNamedVariableListAttributesResponse:
    """GetNamedVariableListAttributes answer: the list members and whether it is deletable."""

    variables: tuple[VariableEntry, ...]
    mms_deletable: bool = False


@dataclass(slots=True, frozen=True)
class DeleteNamedVariableListRequest:
    """DeleteNamedVariableList [13]: the named lists (scope SPECIFIC) or all of a scope."""

    names: tuple[ObjectName, ...] | None = None
    scope: DeleteScope = DeleteScope.SPECIFIC
    domain: str | None = None


@dataclass(slots=True, frozen=True)
class DeleteNamedVariableListResponse:
    """DeleteNamedVariableList answer: how many lists matched and how many were deleted."""

    matched: int
    deleted: int


@dataclass(slots=True, frozen=True)
class OtherService:
    """A confirmed service this codec does not model: its choice tag and raw content."""

    tag: int
    content: bytes


@dataclass(slots=True, frozen=True)
class InformationReport:
    """Unconfirmed InformationReport: variables named by ``spec`` and their results."""

    spec: VariableAccessSpecification
    results: tuple[AccessResult, ...]


ConfirmedServiceRequest: TypeAlias = (
    GetNameListRequest
    | IdentifyRequest
    | ReadRequest
    | WriteRequest
    | GetVariableAccessAttributesRequest
    | DefineNamedVariableListRequest
    | GetNamedVariableListAttributesRequest
    | DeleteNamedVariableListRequest
    | OtherService
)
"""Any confirmed service request."""

ConfirmedServiceResponse: TypeAlias = (
    GetNameListResponse
    | IdentifyResponse
    | ReadResponse
    | WriteResponse
    | GetVariableAccessAttributesResponse
    | DefineNamedVariableListResponse
    | GetNamedVariableListAttributesResponse
    | DeleteNamedVariableListResponse
    | OtherService
)
"""Any confirmed service response."""


# --------------------------------------------------------------------------- encoding


def _bool(tag: int, value: bool) -> bytes:
    return bytes((tag, 1, 0xFF if value else 0))


def _enc_get_name_list_req(r: GetNameListRequest) -> bytes:
    if r.scope == Scope.DOMAIN:
        if r.domain is None:
            raise MmsEncodeError("GetNameList of domain scope without a domain")
        scope = tlv(0x81, encode_visible(r.domain, "domainSpecific"))
    else:
        scope = b"\x80\x00" if r.scope == Scope.VMD else b"\x82\x00"
    body = tlv(0xA0, tlv(0x80, encode_integer(r.object_class))) + tlv(0xA1, scope)
    if r.continue_after is not None:
        body += tlv(0x82, encode_visible(r.continue_after, "continueAfter"))
    return tlv(0xA1, body)


def _enc_read_req(r: ReadRequest) -> bytes:
    head = b"\x80\x01\xff" if r.specification_with_result else b""
    return tlv(0xA4, head + tlv(0xA1, encode_variable_access_spec(r.spec)))


def _enc_write_req(r: WriteRequest) -> bytes:
    return tlv(0xA5, encode_variable_access_spec(r.spec) + tlv(0xA0, encode_data_list(r.values)))


def _enc_gvaa_req(r: GetVariableAccessAttributesRequest) -> bytes:
    return tlv(0xA6, tlv(0xA0, encode_object_name(r.name)))


def _enc_define_nvl_req(r: DefineNamedVariableListRequest) -> bytes:
    return tlv(0xAB, encode_object_name(r.name) + tlv(0xA0, encode_variable_entries(r.variables)))


def _enc_get_nvl_attr_req(r: GetNamedVariableListAttributesRequest) -> bytes:
    return tlv(0xAC, encode_object_name(r.name))


def _enc_delete_nvl_req(r: DeleteNamedVariableListRequest) -> bytes:
    body = b"" if r.scope == DeleteScope.SPECIFIC else tlv(0x80, encode_integer(r.scope))
    if r.names is not None:
        body += tlv(0xA1, b"".join([encode_object_name(n) for n in r.names]))
    if r.domain is not None:
        body += tlv(0x82, encode_visible(r.domain, "domainName"))
    return tlv(0xAD, body)


def _enc_other(r: OtherService) -> bytes:
    return tlv(r.tag, r.content)


_REQUEST_ENCODERS: dict[type, Callable[..., bytes]] = {
    GetNameListRequest: _enc_get_name_list_req,
    IdentifyRequest: lambda _: b"\x82\x00",
    ReadRequest: _enc_read_req,
    WriteRequest: _enc_write_req,
    GetVariableAccessAttributesRequest: _enc_gvaa_req,
    DefineNamedVariableListRequest: _enc_define_nvl_req,
    GetNamedVariableListAttributesRequest: _enc_get_nvl_attr_req,
    DeleteNamedVariableListRequest: _enc_delete_nvl_req,
    OtherService: _enc_other,
}


def _encode_service(
    encoders: dict[type, Callable[..., bytes]], service: object, kind: str
) -> bytes:
    encoder = encoders.get(type(service))
    if encoder is None:
        raise MmsEncodeError(f"not a confirmed service {kind}: {service!r}")
    return encoder(service)


def encode_request(request: ConfirmedServiceRequest) -> bytes:
    """The ConfirmedServiceRequest element (service tag, length, body)."""
    return _encode_service(_REQUEST_ENCODERS, request, "request")


def _enc_get_name_list_rsp(r: GetNameListResponse) -> bytes:
    names = b"".join([encode_identifier(n) for n in r.identifiers])
    return tlv(0xA1, tlv(0xA0, names) + _bool(0x81, r.more_follows))


def _enc_identify_rsp(r: IdentifyResponse) -> bytes:
    body = (
        tlv(0x80, encode_visible(r.vendor, "vendorName"))
        + tlv(0x81, encode_visible(r.model, "modelName"))
        + tlv(0x82, encode_visible(r.revision, "revision"))
    )
    if r.abstract_syntaxes is not None:
        try:
            oids = b"".join([tlv(0x06, encode_oid(o)) for o in r.abstract_syntaxes])
        except ValueError as exc:
            raise MmsEncodeError(str(exc)) from None
        body += tlv(0xA3, oids)
    return tlv(0xA2, body)


def _enc_read_rsp(r: ReadResponse) -> bytes:
    return encode_read_response(encode_access_results(r.results), r.spec)


def encode_read_response(results: bytes, spec: VariableAccessSpecification | None) -> bytes:
    """The Read answer [4] from already encoded AccessResults (``spec`` when asked for)."""
    head = b"" if spec is None else tlv(0xA0, encode_variable_access_spec(spec))
    return tlv(0xA4, head + tlv(0xA1, results))


def _enc_write_rsp(r: WriteResponse) -> bytes:
    return tlv(
        0xA5,
        b"".join([b"\x81\x00" if e is None else bytes((0x80, 1, int(e))) for e in r.results]),
    )


def _enc_gvaa_rsp(r: GetVariableAccessAttributesResponse) -> bytes:
    return tlv(0xA6, _bool(0x80, r.mms_deletable) + tlv(0xA2, encode_type_spec(r.type_spec)))


def _enc_get_nvl_attr_rsp(r: GetNamedVariableListAttributesResponse) -> bytes:
    return tlv(0xAC, _bool(0x80, r.mms_deletable) + tlv(0xA1, encode_variable_entries(r.variables)))


def _enc_delete_nvl_rsp(r: DeleteNamedVariableListResponse) -> bytes:
    return tlv(
        0xAD, uint_tlv(0x80, r.matched, "numberMatched") + uint_tlv(0x81, r.deleted, "deleted")
    )


_RESPONSE_ENCODERS: dict[type, Callable[..., bytes]] = {
    GetNameListResponse: _enc_get_name_list_rsp,
    IdentifyResponse: _enc_identify_rsp,
    ReadResponse: _enc_read_rsp,
    WriteResponse: _enc_write_rsp,
    GetVariableAccessAttributesResponse: _enc_gvaa_rsp,
    DefineNamedVariableListResponse: lambda _: b"\x8b\x00",
    GetNamedVariableListAttributesResponse: _enc_get_nvl_attr_rsp,
    DeleteNamedVariableListResponse: _enc_delete_nvl_rsp,
    OtherService: _enc_other,
}


def encode_response(response: ConfirmedServiceResponse) -> bytes:
    """The ConfirmedServiceResponse element (service tag, length, body)."""
    return _encode_service(_RESPONSE_ENCODERS, response, "response")


def encode_information_report(report: InformationReport) -> bytes:
    """Content octets of an InformationReport (the caller adds the ``A0`` choice tag)."""
    return encode_variable_access_spec(report.spec) + tlv(
        0xA0, encode_access_results(report.results)
    )


# --------------------------------------------------------------------------- decoding


def _only(data: Buffer, cs: int, ce: int, tag: int, field: str) -> tuple[int, int]:
    t, ics, ice, p = decode_tlv(data, cs, ce)
    if t != tag or p != ce:
        raise MmsDecodeError(f"expected exactly one element 0x{tag:02X}", cs, field)
    return ics, ice


def _dec_get_name_list_req(data: Buffer, cs: int, ce: int) -> GetNameListRequest:
    f = "GetNameList-Request"
    tag, ocs, oce, p = decode_tlv(data, cs, ce)
    if tag != 0xA0:
        raise MmsDecodeError("missing objectClass [0]", cs, f)
    kcs, kce = _only(data, ocs, oce, 0x80, f)
    raw_class = read_uint(data, kcs, kce, "objectClass")
    object_class: int = raw_class
    if raw_class in ObjectClass._value2member_map_:
        object_class = ObjectClass(raw_class)
    tag, scs, sce, p = decode_tlv(data, p, ce)
    if tag != 0xA1:
        raise MmsDecodeError("missing objectScope [1]", scs, f)
    stag, vcs, vce, _q = decode_tlv(data, scs, sce)
    domain: str | None = None
    if stag == 0x80:
        scope = Scope.VMD
    elif stag == 0x81:
        scope, domain = Scope.DOMAIN, decode_visible(data, vcs, vce)
    elif stag == 0x82:
        scope = Scope.AA
    else:
        raise MmsDecodeError(f"unknown objectScope 0x{stag:02X}", scs, f)
    continue_after: str | None = None
    while p < ce:
        tag, acs, ace, p = decode_tlv(data, p, ce)
        if tag == 0x82:
            continue_after = decode_visible(data, acs, ace)
    return GetNameListRequest(object_class, scope, domain, continue_after)


def _dec_read_req(data: Buffer, cs: int, ce: int) -> ReadRequest:
    f = "Read-Request"
    with_result = False
    tag, vcs, vce, p = decode_tlv(data, cs, ce)
    if tag == 0x80:
        with_result = read_bool(data, vcs, vce, "specificationWithResult")
        tag, vcs, vce, p = decode_tlv(data, p, ce)
    if tag != 0xA1:
        raise MmsDecodeError("missing variableAccessSpecification [1]", vcs, f)
    spec, q = decode_variable_access_spec(data, vcs, vce)
    if q != vce:
        raise MmsDecodeError("extra octets after variableAccessSpecification", q, f)
    return ReadRequest(spec, with_result)


def _dec_write_req(data: Buffer, cs: int, ce: int) -> WriteRequest:
    spec, p = decode_variable_access_spec(data, cs, ce)
    tag, dcs, dce, p = decode_tlv(data, p, ce)
    if tag != 0xA0:
        raise MmsDecodeError("missing listOfData [0]", dcs, "Write-Request")
    return WriteRequest(spec, decode_data_list(data, dcs, dce))


def _dec_gvaa_req(data: Buffer, cs: int, ce: int) -> GetVariableAccessAttributesRequest:
    f = "GetVariableAccessAttributes-Request"
    tag, ncs, nce, _p = decode_tlv(data, cs, ce)
    if tag != 0xA0:
        raise MmsDecodeError(f"only the name form [0] is supported, got 0x{tag:02X}", cs, f)
    name, q = decode_object_name(data, ncs, nce)
    if q != nce:
        raise MmsDecodeError("extra octets after ObjectName", q, f)
    return GetVariableAccessAttributesRequest(name)


def _dec_define_nvl_req(data: Buffer, cs: int, ce: int) -> DefineNamedVariableListRequest:
    name, p = decode_object_name(data, cs, ce)
    tag, lcs, lce, p = decode_tlv(data, p, ce)
    if tag != 0xA0:
        raise MmsDecodeError("missing listOfVariable [0]", lcs, "DefineNamedVariableList")
    return DefineNamedVariableListRequest(name, decode_variable_entries(data, lcs, lce))


def _dec_get_nvl_attr_req(data: Buffer, cs: int, ce: int) -> GetNamedVariableListAttributesRequest:
    name, p = decode_object_name(data, cs, ce)
    if p != ce:
        raise MmsDecodeError("extra octets after ObjectName", p, "GetNVLAttributes-Request")
    return GetNamedVariableListAttributesRequest(name)


def _dec_delete_nvl_req(data: Buffer, cs: int, ce: int) -> DeleteNamedVariableListRequest:
    f = "DeleteNamedVariableList-Request"
    scope = DeleteScope.SPECIFIC
    names: tuple[ObjectName, ...] | None = None
    domain: str | None = None
    p = cs
    while p < ce:
        tag, vcs, vce, p = decode_tlv(data, p, ce)
        if tag == 0x80:
            raw = read_uint(data, vcs, vce, "scopeOfDelete")
            if raw > 3:
                raise MmsDecodeError(f"unknown scopeOfDelete {raw}", vcs, f)
            scope = DeleteScope(raw)
        elif tag == 0xA1:
            out: list[ObjectName] = []
            q = vcs
            while q < vce:
                name, q = decode_object_name(data, q, vce)
                out.append(name)
            names = tuple(out)
        elif tag == 0x82:
            domain = decode_visible(data, vcs, vce)
    return DeleteNamedVariableListRequest(names, scope, domain)


_REQUEST_DECODERS: dict[int, tuple[str, Callable[[Buffer, int, int], ConfirmedServiceRequest]]] = {
    0xA1: ("GetNameList-Request", _dec_get_name_list_req),
    0x82: ("Identify-Request", lambda d, s, e: IdentifyRequest()),
    0xA4: ("Read-Request", _dec_read_req),
    0xA5: ("Write-Request", _dec_write_req),
    0xA6: ("GetVariableAccessAttributes-Request", _dec_gvaa_req),
    0xAB: ("DefineNamedVariableList-Request", _dec_define_nvl_req),
    0xAC: ("GetNamedVariableListAttributes-Request", _dec_get_nvl_attr_req),
    0xAD: ("DeleteNamedVariableList-Request", _dec_delete_nvl_req),
}


_S = TypeVar("_S")


def _decode_service(
    decoders: dict[int, tuple[str, Callable[[Buffer, int, int], _S]]],
    data: Buffer,
    pos: int,
    end: int,
) -> tuple[_S | OtherService, int]:
    tag, cs, ce, nxt = decode_tlv(data, pos, end)
    entry = decoders.get(tag)
    if entry is None:
        return OtherService(tag, bytes(data[cs:ce])), nxt
    return entry[1](data, cs, ce), nxt


def _service_name(decoders: dict[int, tuple[str, Any]], tag: int) -> str:
    entry = decoders.get(tag)
    return entry[0] if entry else f"service 0x{tag:02X}"


def decode_request(data: Buffer, pos: int, end: int) -> tuple[ConfirmedServiceRequest, int]:
    """Decode the ConfirmedServiceRequest element at ``pos``; returns ``(request, next)``."""
    return _decode_service(_REQUEST_DECODERS, data, pos, end)


def _dec_get_name_list_rsp(data: Buffer, cs: int, ce: int) -> GetNameListResponse:
    f = "GetNameList-Response"
    tag, lcs, lce, p = decode_tlv(data, cs, ce)
    if tag != 0xA0:
        raise MmsDecodeError("missing listOfIdentifier [0]", cs, f)
    names: list[str] = []
    q = lcs
    while q < lce:
        name, q = decode_identifier(data, q, lce, f)
        names.append(name)
    more = True
    while p < ce:
        tag, mcs, mce, p = decode_tlv(data, p, ce)
        if tag == 0x81:
            more = read_bool(data, mcs, mce, "moreFollows")
    return GetNameListResponse(tuple(names), more)


def _dec_identify_rsp(data: Buffer, cs: int, ce: int) -> IdentifyResponse:
    fields: dict[int, str] = {}
    syntaxes: tuple[str, ...] | None = None
    p = cs
    while p < ce:
        tag, vcs, vce, p = decode_tlv(data, p, ce)
        if tag in (0x80, 0x81, 0x82):
            fields[tag] = decode_visible(data, vcs, vce)
        elif tag == 0xA3:
            out: list[str] = []
            q = vcs
            while q < vce:
                otag, ocs, oce, q = decode_tlv(data, q, vce)
                if otag != 0x06 or oce - ocs > 128:
                    raise MmsDecodeError("bad abstract syntax OID", ocs, "Identify-Response")
                out.append(decode_oid(data, ocs, oce))
            syntaxes = tuple(out)
    if len(fields) != 3:
        raise MmsDecodeError("missing vendor/model/revision", cs, "Identify-Response")
    return IdentifyResponse(fields[0x80], fields[0x81], fields[0x82], syntaxes)


def _dec_read_rsp(data: Buffer, cs: int, ce: int) -> ReadResponse:
    f = "Read-Response"
    spec: VariableAccessSpecification | None = None
    tag, vcs, vce, p = decode_tlv(data, cs, ce)
    if tag == 0xA0:
        spec, q = decode_variable_access_spec(data, vcs, vce)
        if q != vce:
            raise MmsDecodeError("extra octets after variableAccessSpecification", q, f)
        tag, vcs, vce, p = decode_tlv(data, p, ce)
    if tag != 0xA1:
        raise MmsDecodeError("missing listOfAccessResult [1]", vcs, f)
    return ReadResponse(decode_access_results(data, vcs, vce), spec)


def _dec_write_rsp(data: Buffer, cs: int, ce: int) -> WriteResponse:
    out: list[DataAccessError | None] = []
    p = cs
    while p < ce:
        tag, vcs, vce, p = decode_tlv(data, p, ce)
        if tag == 0x81:
            out.append(None)
        elif tag == 0x80:
            code = read_int(data, vcs, vce, "Write-Response failure")
            if code not in DataAccessError._value2member_map_:
                raise MmsDecodeError(f"unknown DataAccessError {code}", vcs, "Write-Response")
            out.append(DataAccessError(code))
        else:
            raise MmsDecodeError(f"unexpected tag 0x{tag:02X}", vcs, "Write-Response")
    return WriteResponse(tuple(out))


def _dec_gvaa_rsp(data: Buffer, cs: int, ce: int) -> GetVariableAccessAttributesResponse:
    f = "GetVariableAccessAttributes-Response"
    deletable = False
    type_spec: TypeSpecification | None = None
    p = cs
    while p < ce:
        tag, vcs, vce, p = decode_tlv(data, p, ce)
        if tag == 0x80:
            deletable = read_bool(data, vcs, vce, "mmsDeletable")
        elif tag == 0xA2:
            type_spec, q = decode_type_spec(data, vcs, vce)
            if q != vce:
                raise MmsDecodeError("extra octets after typeSpecification", q, f)
    if type_spec is None:
        raise MmsDecodeError("missing typeSpecification [2]", cs, f)
    return GetVariableAccessAttributesResponse(type_spec, deletable)


def _dec_get_nvl_attr_rsp(data: Buffer, cs: int, ce: int) -> GetNamedVariableListAttributesResponse:
    deletable = False
    variables: tuple[VariableEntry, ...] | None = None
    p = cs
    while p < ce:
        tag, vcs, vce, p = decode_tlv(data, p, ce)
        if tag == 0x80:
            deletable = read_bool(data, vcs, vce, "mmsDeletable")
        elif tag == 0xA1:
            variables = decode_variable_entries(data, vcs, vce)
    if variables is None:
        raise MmsDecodeError("missing listOfVariable [1]", cs, "GetNVLAttributes-Response")
    return GetNamedVariableListAttributesResponse(variables, deletable)


def _dec_delete_nvl_rsp(data: Buffer, cs: int, ce: int) -> DeleteNamedVariableListResponse:
    f = "DeleteNamedVariableList-Response"
    tag, mcs, mce, p = decode_tlv(data, cs, ce)
    tag2, dcs, dce, p = decode_tlv(data, p, ce)
    if tag != 0x80 or tag2 != 0x81:
        raise MmsDecodeError("expected numberMatched [0] and numberDeleted [1]", cs, f)
    return DeleteNamedVariableListResponse(
        read_uint(data, mcs, mce, "numberMatched"), read_uint(data, dcs, dce, "numberDeleted")
    )


_RESPONSE_DECODERS: dict[
    int, tuple[str, Callable[[Buffer, int, int], ConfirmedServiceResponse]]
] = {
    0xA1: ("GetNameList-Response", _dec_get_name_list_rsp),
    0xA2: ("Identify-Response", _dec_identify_rsp),
    0xA4: ("Read-Response", _dec_read_rsp),
    0xA5: ("Write-Response", _dec_write_rsp),
    0xA6: ("GetVariableAccessAttributes-Response", _dec_gvaa_rsp),
    0x8B: ("DefineNamedVariableList-Response", lambda d, s, e: DefineNamedVariableListResponse()),
    0xAC: ("GetNamedVariableListAttributes-Response", _dec_get_nvl_attr_rsp),
    0xAD: ("DeleteNamedVariableList-Response", _dec_delete_nvl_rsp),
}


def decode_response(data: Buffer, pos: int, end: int) -> tuple[ConfirmedServiceResponse, int]:
    """Decode the ConfirmedServiceResponse element at ``pos``; returns ``(response, next)``."""
    return _decode_service(_RESPONSE_DECODERS, data, pos, end)


def decode_information_report(data: Buffer, start: int, end: int) -> InformationReport:
    """Decode InformationReport content filling ``[start, end)``."""
    spec, p = decode_variable_access_spec(data, start, end)
    tag, rcs, rce, p = decode_tlv(data, p, end)
    if tag != 0xA0:
        raise MmsDecodeError("missing listOfAccessResult [0]", rcs, "InformationReport")
    return InformationReport(spec, decode_access_results(data, rcs, rce))


def request_name(tag: int) -> str:
    """Readable name of a confirmed request choice tag (for error messages)."""
    return _service_name(_REQUEST_DECODERS, tag)


def response_name(tag: int) -> str:
    """Readable name of a confirmed response choice tag (for error messages)."""
    return _service_name(_RESPONSE_DECODERS, tag)
