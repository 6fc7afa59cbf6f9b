"""A small MMS object model and handler for tests: a VMD variable and a domain of variables.

``TestHandler`` implements every service of :class:`adapters.tase2.mms.aio.server.MmsHandler`
over an in-memory model (including a Data_RealQ-like structure), keeps named variable lists
per scope, pages GetNameList answers (``page_size``) and records what it was asked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.aio.server import AssociationContext
from adapters.tase2.mms.data import (
    AccessResult,
    BitString,
    Data,
    DataAccessError,
    Float32,
    Integer,
    Structure,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import AccessCode, DefinitionCode, ErrorClass, MmsServiceError
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
    ObjectClass,
    ReadRequest,
    ReadResponse,
    WriteRequest,
    WriteResponse,
)
from adapters.tase2.mms.types import (
    BitStringType,
    FloatType,
    IntegerType,
    StructureComponent,
    StructureType,
    TypeSpecification,
    VisibleStringType,
    conforms,
)

DOMAIN = "ICC1"
REALQ_TYPE = StructureType(
    (StructureComponent("Value", FloatType()), StructureComponent("Flags", BitStringType(8)))
)


def realq(value: float, flags: int = 0) -> Structure:
    """A Data_RealQ value: {Value float32, Flags 8-bit string}."""
    return Structure((Float32(value), BitString(8, bytes((flags,)))))


def default_variables() -> dict[ObjectName, tuple[TypeSpecification, Data]]:
    """The model: one VMD variable and four ICC1 variables."""
    return {
        ObjectName.vmd("Bilateral_Table_ID"): (VisibleStringType(-32), VisibleString("BLT_1")),
        ObjectName.dom(DOMAIN, "Counter"): (IntegerType(32), Integer(7)),
        ObjectName.dom(DOMAIN, "Label"): (VisibleStringType(-32), VisibleString("hello")),
        ObjectName.dom(DOMAIN, "Power"): (REALQ_TYPE, realq(123.5, 0x20)),
        ObjectName.dom(DOMAIN, "Setpoint"): (FloatType(), Float32(1.0)),
    }


def _not_found() -> MmsServiceError:
    return MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_NON_EXISTENT)


@dataclass
class TestHandler:
    """An MMS handler over an in-memory model (not a pytest class despite the name)."""

    __test__ = False

    variables: dict[ObjectName, tuple[TypeSpecification, Data]] = field(
        default_factory=default_variables
    )
    lists: dict[ObjectName, tuple[VariableEntry, ...]] = field(default_factory=dict)
    domains: tuple[str, ...] = (DOMAIN,)
    page_size: int = 100
    read_delay: float = 0.0
    calls: list[str] = field(default_factory=list)
    reads_in_flight: int = 0
    most_reads_in_flight: int = 0

    async def identify(self, ctx: AssociationContext, request: IdentifyRequest) -> IdentifyResponse:
        """Fixed identity."""
        self.calls.append("identify")
        return IdentifyResponse("iccp-gateway", "test-model", "1.0")

    def _names(self, request: GetNameListRequest) -> list[str]:
        if request.object_class == ObjectClass.DOMAIN:
            return sorted(self.domains) if request.scope == Scope.VMD else []
        if request.object_class == ObjectClass.NAMED_VARIABLE:
            source = list(self.variables)
        elif request.object_class == ObjectClass.NAMED_VARIABLE_LIST:
            source = list(self.lists)
        else:
            return []
        if request.scope == Scope.DOMAIN and request.domain not in self.domains:
            raise _not_found()
        return sorted(
            n.item for n in source if n.scope == request.scope and n.domain == request.domain
        )

    async def get_name_list(
        self, ctx: AssociationContext, request: GetNameListRequest
    ) -> GetNameListResponse:
        """Sorted names, ``page_size`` per answer, continuing after ``continue_after``."""
        self.calls.append("get_name_list")
        names = self._names(request)
        if request.continue_after is not None:
            names = [n for n in names if n > request.continue_after]
        page = names[: self.page_size]
        return GetNameListResponse(tuple(page), more_follows=len(names) > len(page))

    def _read_one(self, entry: VariableEntry) -> AccessResult:
        found = self.variables.get(entry.name)
        if found is None:
            return DataAccessError.OBJECT_NON_EXISTENT
        if entry.alternate_access is not None:
            return DataAccessError.OBJECT_ACCESS_UNSUPPORTED
        return found[1]

    def _entries(self, spec: VariableList | VariableListName) -> tuple[VariableEntry, ...]:
        if isinstance(spec, VariableListName):
            members = self.lists.get(spec.name)
            if members is None:
                raise _not_found()
            return members
        return spec.items

    async def read(self, ctx: AssociationContext, request: ReadRequest) -> ReadResponse:
        """Current values (optionally after ``read_delay`` seconds, to test concurrency)."""
        self.calls.append("read")
        self.reads_in_flight += 1
        self.most_reads_in_flight = max(self.most_reads_in_flight, self.reads_in_flight)
        try:
            if self.read_delay:
                await asyncio.sleep(self.read_delay)
        finally:
            self.reads_in_flight -= 1
        entries = self._entries(request.spec)
        results = tuple(self._read_one(e) for e in entries)
        return ReadResponse(results, request.spec if request.specification_with_result else None)

    async def write(self, ctx: AssociationContext, request: WriteRequest) -> WriteResponse:
        """Store values that conform to the variable's type."""
        self.calls.append("write")
        entries = self._entries(request.spec)
        if len(entries) != len(request.values):
            raise MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_DENIED)
        results: list[DataAccessError | None] = []
        for entry, value in zip(entries, request.values, strict=True):
            found = self.variables.get(entry.name)
            if found is None:
                results.append(DataAccessError.OBJECT_NON_EXISTENT)
            elif not conforms(value, found[0]):
                results.append(DataAccessError.TYPE_INCONSISTENT)
            else:
                self.variables[entry.name] = (found[0], value)
                results.append(None)
        return WriteResponse(tuple(results))

    async def get_variable_access_attributes(
        self, ctx: AssociationContext, request: GetVariableAccessAttributesRequest
    ) -> GetVariableAccessAttributesResponse:
        """The type of a variable."""
        self.calls.append("get_variable_access_attributes")
        found = self.variables.get(request.name)
        if found is None:
            raise _not_found()
        return GetVariableAccessAttributesResponse(found[0])

    async def define_named_variable_list(
        self, ctx: AssociationContext, request: DefineNamedVariableListRequest
    ) -> DefineNamedVariableListResponse:
        """Create a list of existing variables."""
        self.calls.append("define_named_variable_list")
        if request.name in self.lists:
            raise MmsServiceError.of(ErrorClass.DEFINITION, DefinitionCode.OBJECT_EXISTS)
        for entry in request.variables:
            if entry.name not in self.variables:
                raise MmsServiceError.of(ErrorClass.DEFINITION, DefinitionCode.OBJECT_UNDEFINED)
        self.lists[request.name] = request.variables
        return DefineNamedVariableListResponse()

    async def delete_named_variable_list(
        self, ctx: AssociationContext, request: DeleteNamedVariableListRequest
    ) -> DeleteNamedVariableListResponse:
        """Delete the named lists (specific scope only)."""
        self.calls.append("delete_named_variable_list")
        if request.scope != DeleteScope.SPECIFIC:
            raise MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_UNSUPPORTED)
        names = request.names or ()
        matched = [n for n in names if n in self.lists]
        for name in matched:
            del self.lists[name]
        return DeleteNamedVariableListResponse(len(matched), len(matched))

    async def get_named_variable_list_attributes(
        self, ctx: AssociationContext, request: GetNamedVariableListAttributesRequest
    ) -> GetNamedVariableListAttributesResponse:
        """The members of a list."""
        self.calls.append("get_named_variable_list_attributes")
        members = self.lists.get(request.name)
        if members is None:
            raise _not_found()
        return GetNamedVariableListAttributesResponse(members, mms_deletable=True)
