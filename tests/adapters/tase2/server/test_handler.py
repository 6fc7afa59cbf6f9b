"""The TASE.2 service handler on plain objects: no sockets, no event loop of its own.

A :class:`Server` dataclass is everything :class:`Tase2Handler` needs of a server (the
real engine, registry and controls, a dictionary of point values, a clock that stands
still); a :class:`Ctx` is everything it needs of an association.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.data import (
    Boolean,
    DataAccessError,
    Float32,
    Structure,
    VisibleString,
    encode_access_results,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.service_error import (
    AccessCode,
    ErrorClass,
    MmsServiceError,
    ResourceCode,
)
from adapters.tase2.mms.services import (
    DefineNamedVariableListRequest,
    DeleteNamedVariableListRequest,
    DeleteScope,
    GetNamedVariableListAttributesRequest,
    GetVariableAccessAttributesRequest,
    ReadRequest,
    WriteRequest,
)
from adapters.tase2.model.objects import ICC_SPECIAL_TYPES, encode_mms_object_name
from adapters.tase2.model.points import PointType
from adapters.tase2.model.transfer_set import DSTransferSetValue
from adapters.tase2.server.bilateral import BilateralTableConfig, compile_table
from adapters.tase2.server.controls import PeerInfo, ServerControls
from adapters.tase2.server.datasets import DataSetRegistry, VccDataSetConfig
from adapters.tase2.server.encoded import EncodedValues
from adapters.tase2.server.handler import PlannedRead, Tase2Handler
from adapters.tase2.server.peers import PeerSession
from adapters.tase2.server.settings import ServerLimits
from adapters.tase2.server.transfer import TransferEngine
from gateway.points import PointKind, PointValue, Quality

T0 = 1_700_000_000.0
DOMAIN = "ICC1"
KINDS = {"P1": PointKind.REAL, "P2": PointKind.REAL, "SP": PointKind.REAL}


@dataclass(frozen=True)
class Negotiated:
    max_pdu_size: int = 65000


@dataclass(eq=False)
class Ctx:
    """An association as the handler sees it."""

    association_id: int = 1
    peer_address: tuple[str, int] = ("127.0.0.1", 40000)
    parameters: Negotiated = field(default_factory=Negotiated)


@dataclass
class Source:
    """Point values in a dictionary; commands are recorded."""

    by_id: dict[str, PointValue] = field(default_factory=dict)
    commands: list[tuple[str, float | int, str]] = field(default_factory=list)

    def kinds(self) -> Mapping[str, PointKind]:
        return KINDS

    def current(self, point: str) -> PointValue | None:
        return self.by_id.get(point)

    def values(self, points: Sequence[str]) -> list[PointValue | None]:
        return [self.by_id.get(p) for p in points]

    async def command(self, point: str, value: float | int, origin: str) -> DataAccessError | None:
        self.commands.append((point, value, origin))
        return None


@dataclass
class Server:
    """Everything the handler uses of a server."""

    source: Source
    engine: TransferEngine
    encoded: EncodedValues
    registry: DataSetRegistry
    controls: ServerControls
    limits: ServerLimits
    peers: dict[Ctx, PeerSession] = field(default_factory=dict)
    wakes: int = 0

    def peer(self, ctx: object) -> PeerSession | None:
        return self.peers.get(ctx)  # type: ignore[call-overload]

    def now(self) -> float:
        return T0

    def wake(self) -> None:
        self.wakes += 1


def server_with(ctx: Ctx, *, data_set_size: int = 2000, **limits: int) -> Server:
    table = BilateralTableConfig.model_validate(
        {
            "id": "BLT_1",
            "domain": DOMAIN,
            "peer": {"ap_title": "1.1.1.999", "ae_qualifier": 12},
            "points": [{"match": "P*", "type": "Data_RealQ"}, {"match": "SP", "write": True}],
        }
    )
    view = compile_table(table, KINDS)
    source = Source({p: PointValue(p, 1.5, Quality(), T0, 0) for p in KINDS})
    engine = TransferEngine(2)
    engine.configure_domain(DOMAIN, 2)
    engine.open_association(ctx, view, ctx.parameters.max_pdu_size)
    controls = ServerControls(
        source.kinds, source.current, source.command, clock=lambda: 0.0, wall_clock=lambda: T0
    )
    registry = DataSetRegistry()
    registry.set_vcc([VccDataSetConfig(name="VCC_DS", members=("Transfer_Set_Name", "P1"))])
    limits_ = ServerLimits(data_set_size=data_set_size, **limits)
    server = Server(source, engine, EncodedValues(), registry, controls, limits_)
    info = PeerInfo(ctx, "BLT_1", "1.1.1.999", 12, ctx.peer_address[0])
    server.peers[ctx] = PeerSession(ctx.association_id, "BLT_1", view, info, "test peer")
    return server


@pytest.fixture
def ctx() -> Ctx:
    return Ctx()


@pytest.fixture
def server(ctx: Ctx) -> Server:
    return server_with(ctx)


def dom(item: str) -> VariableEntry:
    return VariableEntry(ObjectName.dom(DOMAIN, item))


async def read(handler: Tase2Handler, ctx: Ctx, *items: str) -> tuple[object, ...]:
    response = await handler.read(ctx, ReadRequest(VariableList(tuple(dom(i) for i in items))))
    return response.results


async def test_reads_resolve_points_and_special_objects(ctx: Ctx, server: Server) -> None:
    handler = Tase2Handler(server)
    point, table_id, report_only, missing, next_ts = await read(
        handler, ctx, "P1", "Bilateral_Table_ID", "Transfer_Set_Name", "Nope", "Next_DSTransfer_Set"
    )
    assert point == PointType.DATA_REALQ.info.encode(server.source.by_id["P1"])
    assert table_id == VisibleString("BLT_1")
    assert report_only is DataAccessError.OBJECT_ACCESS_DENIED
    assert missing is DataAccessError.OBJECT_NON_EXISTENT
    assert next_ts == encode_mms_object_name(ObjectName.dom(DOMAIN, "DSTransferSet01"))


async def test_a_point_gone_from_the_bus_reads_temporarily_unavailable(
    ctx: Ctx, server: Server
) -> None:
    del server.source.by_id["P2"]
    assert await read(Tase2Handler(server), ctx, "P2") == (DataAccessError.TEMPORARILY_UNAVAILABLE,)


async def test_an_association_without_a_peer_record_is_denied(server: Server) -> None:
    with pytest.raises(MmsServiceError) as info:
        await read(Tase2Handler(server), Ctx(association_id=2), "P1")
    assert info.value.error.error_class is ErrorClass.ACCESS
    assert info.value.error.code == AccessCode.OBJECT_ACCESS_DENIED


async def test_writes_command_writable_points_and_refuse_the_rest(ctx: Ctx, server: Server) -> None:
    handler = Tase2Handler(server)
    spec = VariableList((dom("SP"), dom("P1"), dom("Bilateral_Table_ID")))
    response = await handler.write(
        ctx, WriteRequest(spec, (Float32(7.25), Float32(1.0), VisibleString("x")))
    )
    assert response.results == (
        None,
        DataAccessError.OBJECT_ACCESS_DENIED,
        DataAccessError.OBJECT_ACCESS_DENIED,
    )
    assert server.source.commands == [("SP", 7.25, "tase2:BLT_1:127.0.0.1")]


async def test_a_transfer_set_write_starts_it_and_wakes_the_scheduler(
    ctx: Ctx, server: Server
) -> None:
    handler = Tase2Handler(server)
    (allocated,) = await read(handler, ctx, "Next_DSTransfer_Set")
    assert allocated == encode_mms_object_name(ObjectName.dom(DOMAIN, "DSTransferSet01"))
    value = DSTransferSetValue(data_set=ObjectName.vmd("VCC_DS"), status=True, interval=5)
    response = await handler.write(
        ctx, WriteRequest(VariableList((dom("DSTransferSet01"),)), (value.to_data(),))
    )
    assert response.results == (None,)
    transfer_set = server.engine.get(ObjectName.dom(DOMAIN, "DSTransferSet01"))
    assert transfer_set is not None and transfer_set.running
    assert server.wakes == 1


async def test_the_flattened_component_name_writes_one_component(ctx: Ctx, server: Server) -> None:
    handler = Tase2Handler(server)
    await read(handler, ctx, "Next_DSTransfer_Set")
    value = DSTransferSetValue(data_set=ObjectName.vmd("VCC_DS"), status=False)
    name = ObjectName.dom(DOMAIN, "DSTransferSet01")
    whole = VariableList((dom("DSTransferSet01"),))
    await handler.write(ctx, WriteRequest(whole, (value.to_data(),)))

    response = await handler.write(
        ctx, WriteRequest(VariableList((dom("DSTransferSet01$Status"),)), (Boolean(True),))
    )
    assert response.results == (None,)
    transfer_set = server.engine.get(name)
    assert transfer_set is not None and transfer_set.running


async def test_types_come_from_the_same_resolution(ctx: Ctx, server: Server) -> None:
    handler = Tase2Handler(server)

    async def type_of(item: str) -> object:
        request = GetVariableAccessAttributesRequest(ObjectName.dom(DOMAIN, item))
        return (await handler.get_variable_access_attributes(ctx, request)).type_spec

    assert await type_of("P1") == PointType.DATA_REALQ.info.spec
    assert await type_of("Next_DSTransfer_Set") == ICC_SPECIAL_TYPES["Next_DSTransfer_Set"]
    with pytest.raises(MmsServiceError) as info:
        await type_of("Nope")
    assert info.value.error.code == AccessCode.OBJECT_NON_EXISTENT


async def test_a_data_set_too_big_for_the_pdu_is_refused_and_not_kept() -> None:
    ctx = Ctx(parameters=Negotiated(max_pdu_size=60))
    server = server_with(ctx)
    handler = Tase2Handler(server)
    name = ObjectName.dom(DOMAIN, "DS1")
    request = DefineNamedVariableListRequest(name, (dom("Transfer_Set_Name"), dom("P1"), dom("P2")))
    with pytest.raises(MmsServiceError, match="negotiated MMS PDU size of 60") as info:
        await handler.define_named_variable_list(ctx, request)
    assert info.value.error.error_class is ErrorClass.RESOURCE
    assert info.value.error.code == ResourceCode.CAPABILITY_UNAVAILABLE
    assert server.registry.get(ctx, name) is None


async def test_a_defined_data_set_is_read_member_by_member(ctx: Ctx, server: Server) -> None:
    handler = Tase2Handler(server)
    name = ObjectName.dom(DOMAIN, "DS1")
    members = (dom("Transfer_Set_Name"), dom("P1"))
    await handler.define_named_variable_list(ctx, DefineNamedVariableListRequest(name, members))
    attributes = await handler.get_named_variable_list_attributes(
        ctx, GetNamedVariableListAttributesRequest(name)
    )
    assert attributes.variables == members
    response = await handler.read(ctx, ReadRequest(VariableListName(name)))
    special, point = response.results
    assert special is DataAccessError.OBJECT_ACCESS_DENIED  # report-only
    assert isinstance(point, Structure)


async def test_the_servers_vcc_data_sets_cannot_be_deleted(ctx: Ctx, server: Server) -> None:
    handler = Tase2Handler(server)
    mine = ObjectName.dom(DOMAIN, "DS1")
    await handler.define_named_variable_list(
        ctx, DefineNamedVariableListRequest(mine, (dom("P1"),))
    )
    request = DeleteNamedVariableListRequest((mine, ObjectName.vmd("VCC_DS")), DeleteScope.SPECIFIC)
    with pytest.raises(MmsServiceError, match="configured by the server") as info:
        await handler.delete_named_variable_list(ctx, request)
    assert info.value.error.code == AccessCode.OBJECT_ACCESS_DENIED
    assert info.value.error.service_specific == (0x86, b"\x01")  # numberDeleted 1
    assert server.registry.get(ctx, mine) is None
    assert server.registry.is_vcc(ObjectName.vmd("VCC_DS"))


async def test_data_sets_per_association_are_bounded_in_number_and_members(
    ctx: Ctx, caplog: pytest.LogCaptureFixture
) -> None:
    server = server_with(ctx, max_data_sets=3, max_data_set_members=5)
    handler = Tase2Handler(server)

    async def define(item: str, *members: str) -> None:
        request = DefineNamedVariableListRequest(
            ObjectName.dom(DOMAIN, item), tuple(dom(m) for m in members)
        )
        await handler.define_named_variable_list(ctx, request)

    async def refused(item: str, *members: str) -> MmsServiceError:
        with pytest.raises(MmsServiceError) as info:
            await define(item, *members)
        assert info.value.error.error_class is ErrorClass.RESOURCE
        assert info.value.error.code == ResourceCode.CAPABILITY_UNAVAILABLE
        return info.value

    await define("DS1", "P1")
    await define("DS2", "P1", "P2")
    with caplog.at_level(logging.WARNING):
        assert "max_data_set_members" in str(await refused("DS3", "P1", "P2", "P1"))
        await define("DS3", "P2", "P1")  # 5 members in all: exactly the limit
        for _ in range(10):
            assert "max_data_sets" in str(await refused("DS4", "P1"))
    assert server.registry.get(ctx, ObjectName.dom(DOMAIN, "DS4")) is None
    lines = [r.getMessage() for r in caplog.records if "limits.max_data_sets" in r.getMessage()]
    assert len(lines) == 4  # refusals 1, 2, 4 and 8 of that limit
    assert "the limit (max_data_sets) is 3" in lines[0]

    delete = DeleteNamedVariableListRequest((ObjectName.dom(DOMAIN, "DS2"),), DeleteScope.SPECIFIC)
    await handler.delete_named_variable_list(ctx, delete)
    assert server.registry.usage(ctx) == (2, 3)
    await define("DS4", "P1", "P2")  # room again after a delete
    server.registry.drop_association(ctx)
    assert server.registry.usage(ctx) == (0, 0)

    # the quota and the log throttle are the association's own: another starts afresh
    other = Ctx(association_id=2)
    mine = server.peers[ctx]
    server.peers[other] = PeerSession(2, "BLT_1", mine.view, mine.info, "other peer")
    caplog.clear()
    for i in range(4):
        request = DefineNamedVariableListRequest(ObjectName.dom(DOMAIN, f"O{i}"), (dom("P1"),))
        if i < 3:
            await handler.define_named_variable_list(other, request)
        else:
            with pytest.raises(MmsServiceError):
                await handler.define_named_variable_list(other, request)
    assert "association 2 (other peer): data set refused over limits.max_data_sets (refusal 1" in (
        caplog.text
    )


# --------------------------------------------------------------------------- read fast path

READ_NAMES = [
    *(ObjectName.dom(DOMAIN, i) for i in ("P1", "P2", "SP", "Nope", "Bilateral_Table_ID")),
    *(ObjectName.dom(DOMAIN, i) for i in ("Next_DSTransfer_Set", "Transfer_Set_Name")),
    *(ObjectName.dom(DOMAIN, i) for i in ("DSTransferSet01", "DSTransferSet01$Status")),
    ObjectName.dom("ICC2", "P1"),
    ObjectName.vmd("P1"),
    ObjectName.vmd("TASE2_Version"),
    ObjectName.aa("P1"),
]
SPECIAL_NAMES = {*READ_NAMES[4:9], ObjectName.vmd("TASE2_Version")}
LIST_NAMES = [ObjectName.dom(DOMAIN, "DS1"), ObjectName.vmd("VCC_DS"), ObjectName.dom(DOMAIN, "NO")]
read_requests = st.builds(
    ReadRequest,
    st.one_of(
        st.lists(st.sampled_from(READ_NAMES).map(VariableEntry), max_size=6).map(
            lambda e: VariableList(tuple(e))
        ),
        st.sampled_from(LIST_NAMES).map(VariableListName),
    ),
    st.booleans(),
)


def server_with_data_set() -> tuple[Ctx, Server, Tase2Handler]:
    ctx = Ctx()
    server = server_with(ctx)
    handler = Tase2Handler(server)
    request = DefineNamedVariableListRequest(
        ObjectName.dom(DOMAIN, "DS1"), (dom("Transfer_Set_Name"), dom("P1"), dom("SP"))
    )
    asyncio.run(handler.define_named_variable_list(ctx, request))
    return ctx, server, handler


def read_once(handler: Tase2Handler, ctx: Ctx, request: ReadRequest) -> bytes | None:
    """What the fast path answers ``request`` with, prepared afresh."""
    read = handler.prepare_read(ctx, request)
    return None if read is None else read()


@settings(max_examples=200, deadline=None)
@given(read_requests, st.sets(st.sampled_from(sorted(KINDS))))
def test_prepared_reads_answer_what_read_now_answers_or_nothing(
    request: ReadRequest, gone: set[str]
) -> None:
    ctx, server, handler = server_with_data_set()
    for point in gone:
        del server.source.by_id[point]
    octets = read_once(handler, ctx, request)
    if octets is not None:
        assert octets == encode_access_results(handler.read_now(ctx, request).results)
    if isinstance(request.spec, VariableListName):  # any data set of the peer's
        assert (octets is None) == (request.spec.name == LIST_NAMES[2])
    else:  # anything but the special objects, which read_now answers
        assert (octets is None) == any(e.name in SPECIAL_NAMES for e in request.spec.items)


def test_a_prepared_read_follows_the_value_and_none_is_prepared_without_a_peer() -> None:
    ctx, server, handler = server_with_data_set()
    request = ReadRequest(VariableList((dom("P1"),)))
    read = handler.prepare_read(ctx, request)
    assert read is not None
    first = read()
    assert read() is first  # the same value: the same octets
    server.source.by_id["P1"] = PointValue("P1", 2.5, Quality(), T0 + 1, 1)
    changed = read()
    assert changed != first
    assert changed == encode_access_results(handler.read_now(ctx, request).results)
    assert handler.prepare_read(Ctx(association_id=2), request) is None  # no table: as before


def test_a_prepared_read_tells_a_negative_zero_from_zero() -> None:
    # 0.0 == -0.0, but they encode differently: a new value object is encoded again.
    ctx, server, handler = server_with_data_set()
    request = ReadRequest(VariableList((dom("P1"),)))
    read = handler.prepare_read(ctx, request)
    assert read is not None
    for value in (0.0, -0.0, 0.0):
        server.source.by_id["P1"] = PointValue("P1", value, Quality(), T0, 7)
        assert read() == encode_access_results(handler.read_now(ctx, request).results)


def test_prepared_reads_go_out_of_date_with_new_data_sets_tables_and_transfer_sets() -> None:
    # Each Read is prepared once and read again as the association does: prepared anew
    # only when its reader says it is out of date (None).
    ctx, server, handler = server_with_data_set()
    by_list = ReadRequest(VariableListName(ObjectName.dom(DOMAIN, "DS1")))
    by_name = ReadRequest(VariableList((dom("P1"), dom("DSTransferSet03"))))
    readers: dict[int, PlannedRead | None] = {}

    def answers(request: ReadRequest) -> bytes | None:
        read = readers.get(id(request))
        octets = None if read is None else read()
        if octets is None:
            read = readers[id(request)] = handler.prepare_read(ctx, request)
            octets = None if read is None else read()
        assert octets is None or octets == encode_access_results(
            handler.read_now(ctx, request).results
        )
        return octets

    before = answers(by_list), answers(by_name)
    name = ObjectName.dom(DOMAIN, "DS1")
    asyncio.run(handler.delete_named_variable_list(ctx, DeleteNamedVariableListRequest((name,))))
    asyncio.run(
        handler.define_named_variable_list(ctx, DefineNamedVariableListRequest(name, (dom("P2"),)))
    )
    assert answers(by_list) != before[0]

    peer = server.peers[ctx]
    no_p1 = BilateralTableConfig.model_validate(
        {
            "id": "BLT_1",
            "domain": DOMAIN,
            "peer": {"ap_title": "1.1.1.999", "ae_qualifier": 12},
            "points": [{"match": "P2"}],
        }
    )
    peer.view = compile_table(no_p1, KINDS)
    assert answers(by_name) != before[1]  # P1 is no longer the peer's

    server.engine.configure_domain(DOMAIN, 3)  # DSTransferSet03 now exists: not a point
    assert answers(by_name) is None
