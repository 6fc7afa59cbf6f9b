"""The quirky TASE.2 test peer (tests/support/tase2/quirky.py) is quirky exactly as its
:class:`Quirks` say, seen through our own MMS client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from adapters.tase2.mms.access import VariableEntry, VariableListName, component_access
from adapters.tase2.mms.aio.client import MmsClient, MmsRequestTimeout
from adapters.tase2.mms.data import (
    BitString,
    Boolean,
    Data,
    DataAccessError,
    Float32,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import (
    AccessCode,
    DefinitionCode,
    ErrorClass,
    MmsServiceError,
)
from adapters.tase2.mms.services import InformationReport, ObjectClass
from adapters.tase2.mms.types import StructureType, VisibleStringType
from adapters.tase2.model.objects import (
    DSConditions,
    ds_conditions_to_data,
    encode_mms_object_name,
)
from adapters.tase2.model.transfer_set import DSTransferSetModel, DSTransferSetValue
from tests.support import eventually
from tests.support.tase2.quirky import (
    DEFAULT_QUIRKS,
    NEXT_STRUCT_TYPE,
    Quirks,
    QuirkyServer,
    running_quirky,
)

pytestmark = pytest.mark.timeout(60)

D = "ICC1"
NEXT = ObjectName.dom(D, "Next_DSTransfer_Set")
DSTS_1 = ObjectName.dom(D, "DSTS_1")
DS = ObjectName.dom(D, "QDS")
SPECIALS = [
    ObjectName.dom(D, "Transfer_Set_Name"),
    ObjectName.dom(D, "DSConditions_Detected"),
    ObjectName.dom(D, "Transfer_Set_Time_Stamp"),
]
POINTS = [ObjectName.dom(D, "pt001"), ObjectName.dom(D, "pt002")]


def dom(item: str) -> ObjectName:
    """A name in the quirky server's domain."""
    return ObjectName.dom(D, item)


@contextlib.asynccontextmanager
async def peer(
    quirks: Quirks = DEFAULT_QUIRKS, transfer_sets: int = 4
) -> AsyncIterator[tuple[QuirkyServer, MmsClient]]:
    """A quirky server and our client associated to it."""
    async with running_quirky(quirks, transfer_sets=transfer_sets) as (server, port):
        client = await MmsClient.connect("127.0.0.1", port, request_timeout=2.0)
        async with client:
            yield server, client


async def next_report(client: MmsClient) -> InformationReport:
    """The next InformationReport (bounded wait)."""

    async def first() -> InformationReport:
        async for report in client.reports():
            return report
        raise AssertionError("association ended without a report")

    return await asyncio.wait_for(first(), 5.0)


async def test_objects_are_listed_and_the_vcc_ones_read() -> None:
    async with peer() as (_, client):
        assert await client.get_name_list(ObjectClass.DOMAIN) == [D]
        vcc = await client.get_name_list(ObjectClass.NAMED_VARIABLE)
        assert vcc == ["Supported_Features", "TASE2_Version"]
        names = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, D)
        assert {"Bilateral_Table_ID", "Next_DSTransfer_Set", "DSTS_4", "pt010"} <= set(names)
        version, features, blt = await client.read(
            ObjectName.vmd("TASE2_Version"),
            ObjectName.vmd("Supported_Features"),
            dom("Bilateral_Table_ID"),
        )
        assert version == Structure((Integer(2000), Integer(8)))
        assert isinstance(features, BitString) and features.set_bits() == [0, 1]
        assert blt == VisibleString("BLT_Q")
        assert await client.read(SPECIALS[0]) == (DataAccessError.OBJECT_ACCESS_DENIED,)


@pytest.mark.parametrize(
    "order", [("Value", "TimeStamp", "Flags"), ("Value", "Flags", "TimeStamp")]
)
async def test_points_have_their_components_in_the_quirky_order(order: tuple[str, ...]) -> None:
    async with peer(Quirks(point_order=order)) as (server, client):
        spec = await client.get_variable_access_attributes(dom("pt007"))
        assert isinstance(spec, StructureType)
        assert tuple(c.name for c in spec.components) == order
        server.set_value("pt007", 12.5, flags=0x20, ts=1_700_000_000)
        (value,) = await client.read(dom("pt007"))
        parts: dict[str, Data] = {
            "Value": Float32(12.5),
            "TimeStamp": Integer(1_700_000_000),
            "Flags": BitString(8, b"\x20"),
        }
        assert value == Structure(tuple(parts[c] for c in order))
        by_name = await client.read(dom("pt007$Value"))
        by_access = await client.read(VariableEntry(dom("pt007"), component_access("Flags")))
        assert (by_name, by_access) == ((Float32(12.5),), (BitString(8, b"\x20"),))


@pytest.mark.parametrize(
    ("kind", "first"),
    [
        ("standard", Structure((Unsigned(1), VisibleString(D), VisibleString("DSTS_1")))),
        ("struct", Structure((Integer(1), Integer(2), VisibleString("DSTS_1")))),
        ("string", VisibleString("DSTS_1")),
    ],
)
async def test_next_ds_transfer_set_takes_each_form_and_reserves(
    kind: str, first: Structure | VisibleString
) -> None:
    quirks = Quirks(next_ds_transfer_set=kind)  # type: ignore[arg-type]
    async with peer(quirks, transfer_sets=2) as (server, client):
        spec = await client.get_variable_access_attributes(NEXT)
        if kind == "struct":
            assert spec == NEXT_STRUCT_TYPE
        elif kind == "string":
            assert isinstance(spec, VisibleStringType)
        else:
            assert isinstance(spec, StructureType)
            assert [c.name for c in spec.components] == ["Scope", "DomainName", "Name"]
        assert await client.read(NEXT) == (first,)
        assert server.transfer_sets["DSTS_1"].owner is not None
        (second,) = await client.read(NEXT)
        assert "DSTS_2" in repr(second)
        assert await client.read(NEXT) == (DataAccessError.TEMPORARILY_UNAVAILABLE,)


async def test_a_started_transfer_set_reports_the_data_set_in_point_order() -> None:
    quirks = Quirks(point_order=("Flags", "Value", "TimeStamp"))
    async with peer(quirks) as (server, client):
        await client.define_named_variable_list(DS, [*SPECIALS, *POINTS])
        server.set_value("pt002", 2.5, flags=0x30, ts=1_700_000_002)
        await client.read(NEXT)
        value = DSTransferSetValue(DS, interval=1, status=True)
        assert await client.write(DSTS_1, value.to_data()) is None
        assert server.running() == ["DSTS_1"]
        report = await next_report(client)
        assert report.spec == VariableListName(DS)
        name, conditions, stamp, _, pt2 = report.results
        assert name == encode_mms_object_name(DSTS_1)
        assert conditions == ds_conditions_to_data(DSConditions.INTERVAL_TIMEOUT)
        assert isinstance(stamp, Integer) and stamp.value > 1_700_000_000
        assert pt2 == Structure((BitString(8, b"\x30"), Float32(2.5), Integer(1_700_000_002)))
        # a data set in use is matched, not deleted; Status false stops the reports
        done = await client.delete_named_variable_list(DS)
        assert (done.matched, done.deleted) == (1, 0)
        assert await client.write(dom("DSTS_1"), replace(value, status=False).to_data()) is None
        assert server.running() == []
        assert (await client.delete_named_variable_list(DS)).deleted == 1


async def test_while_running_only_status_may_change_and_a_start_needs_a_data_set() -> None:
    async with peer() as (server, client):
        missing = DSTransferSetValue(dom("NO_SUCH"), status=True)
        assert await client.write(DSTS_1, missing.to_data()) == (
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT
        )
        await client.define_named_variable_list(DS, POINTS)
        running = DSTransferSetValue(DS, interval=5, status=True)
        assert await client.write(DSTS_1, running.to_data()) is None
        changed = replace(running, interval=6)
        assert await client.write(DSTS_1, changed.to_data()) == (
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT
        )
        assert server.transfer_sets["DSTS_1"].value.interval == 5


async def test_a_1996_transfer_set_has_12_components_and_takes_only_those() -> None:
    async with peer(Quirks(dsts_components=12)) as (server, client):
        spec = await client.get_variable_access_attributes(DSTS_1)
        assert isinstance(spec, StructureType) and len(spec.components) == 12
        (read,) = await client.read(DSTS_1)
        assert isinstance(read, Structure) and len(read.items) == 12
        await client.define_named_variable_list(DS, POINTS)
        value = DSTransferSetValue(DS, interval=5, status=True)
        assert await client.write(DSTS_1, value.to_data()) == DataAccessError.TYPE_INCONSISTENT
        model = DSTransferSetModel.MODEL_1996
        assert await client.write(DSTS_1, value.to_data(model)) is None
        assert server.running() == ["DSTS_1"]


async def test_a_string_data_set_name_refuses_an_object_name_write() -> None:
    async with peer(Quirks(data_set_name="string")) as (server, client):
        spec = await client.get_variable_access_attributes(DSTS_1)
        assert isinstance(spec, StructureType)
        assert isinstance(spec.components[0].type, VisibleStringType)
        await client.define_named_variable_list(DS, [SPECIALS[0], POINTS[0]])
        value = DSTransferSetValue(DS, interval=1, status=True).to_data()
        assert await client.write(DSTS_1, value) == DataAccessError.TYPE_INCONSISTENT
        as_string = Structure((VisibleString("QDS"), *value.items[1:]))
        assert await client.write(DSTS_1, as_string) is None
        assert (await client.read(dom("DSTS_1$DataSetName"))) == (VisibleString("QDS"),)
        report = await next_report(client)
        assert report.results[0] == VisibleString("DSTS_1")
        assert server.running() == ["DSTS_1"]


async def test_component_writes_start_a_transfer_set_that_refuses_whole_writes() -> None:
    async with peer(Quirks(transfer_set_writes="components")) as (server, client):
        await client.define_named_variable_list(DS, POINTS)
        whole = DSTransferSetValue(DS, interval=1, status=True).to_data()
        assert await client.write(DSTS_1, whole) == DataAccessError.OBJECT_ACCESS_DENIED
        assert await client.write(dom("DSTS_1$DataSetName"), encode_mms_object_name(DS)) is None
        assert await client.write(dom("DSTS_1$Interval"), Integer(1)) is None
        assert await client.write(dom("DSTS_1$Interval"), Boolean(True)) == (
            DataAccessError.TYPE_INCONSISTENT
        )
        assert await client.write(dom("DSTS_1$NoSuch"), Integer(1)) == (
            DataAccessError.OBJECT_NON_EXISTENT
        )
        status = VariableEntry(DSTS_1, component_access("Status"))
        assert await client.write(status, Boolean(True)) is None
        assert server.running() == ["DSTS_1"]
        assert await client.read(dom("DSTS_1$Status")) == (Boolean(True),)
        report = await next_report(client)
        assert report.spec == VariableListName(DS)
        assert [n.item for n, _ in server.writes] == [
            "DSTS_1",
            "DSTS_1$DataSetName",
            "DSTS_1$Interval",
            "DSTS_1$Interval",
            "DSTS_1$NoSuch",
            "DSTS_1$Status",
        ]


@pytest.mark.parametrize("mode", ["refuse", "whole"])
async def test_refused_transfer_set_writes(mode: str) -> None:
    quirks = Quirks(transfer_set_writes=mode)  # type: ignore[arg-type]
    async with peer(quirks) as (server, client):
        await client.define_named_variable_list(DS, POINTS)
        whole = DSTransferSetValue(DS, interval=1, status=True).to_data()
        expected = DataAccessError.OBJECT_ACCESS_DENIED
        assert await client.write(DSTS_1, whole) == (None if mode == "whole" else expected)
        assert await client.write(dom("DSTS_1$Status"), Boolean(False)) == expected
        assert await client.write(dom("pt001"), whole) == expected
        assert await client.write(DSTS_1, Integer(3)) == (
            expected if mode == "refuse" else DataAccessError.TYPE_INCONSISTENT
        )
        assert server.running() == ([] if mode == "refuse" else ["DSTS_1"])


async def test_a_missing_point_is_absent_and_refuses_a_data_set_without_naming_it() -> None:
    async with peer(Quirks(missing=frozenset({"pt007"}))) as (server, client):
        names = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, D)
        assert "pt007" not in names and "pt006" in names
        assert await client.read(dom("pt007")) == (DataAccessError.OBJECT_NON_EXISTENT,)
        with pytest.raises(MmsServiceError) as gvaa:
            await client.get_variable_access_attributes(dom("pt007"))
        assert gvaa.value.error.code == AccessCode.OBJECT_NON_EXISTENT
        with pytest.raises(MmsServiceError) as define:
            await client.define_named_variable_list(DS, [dom("pt006"), dom("pt007")])
        error = define.value.error
        assert (error.error_class, error.code) == (
            ErrorClass.ACCESS,
            AccessCode.OBJECT_NON_EXISTENT,
        )
        assert error.additional_description is None and error.additional_code is None
        assert server.data_sets == {}


@pytest.mark.parametrize("keep", [False, True])
async def test_data_sets_outlive_their_association_only_when_kept(keep: bool) -> None:
    async with running_quirky(Quirks(keep_data_sets=keep)) as (server, port):
        async with await MmsClient.connect("127.0.0.1", port) as first:
            await first.define_named_variable_list(DS, POINTS)
            with pytest.raises(MmsServiceError) as exists:
                await first.define_named_variable_list(DS, POINTS)
            assert exists.value.error.error_class == ErrorClass.DEFINITION
            assert exists.value.error.code == DefinitionCode.OBJECT_EXISTS
            await first.read(NEXT)  # reserved until the association ends
            lists = await first.get_name_list(ObjectClass.NAMED_VARIABLE_LIST, Scope.DOMAIN, D)
            assert lists == ["QDS"]
        tset = server.transfer_sets["DSTS_1"]
        await eventually(lambda: tset.owner is None, what="the end of the association")
        assert list(server.data_sets) == ([DS] if keep else [])
        async with await MmsClient.connect("127.0.0.1", port) as second:
            if keep:
                with pytest.raises(MmsServiceError, match="OBJECT_EXISTS"):
                    await second.define_named_variable_list(DS, POINTS)
            else:
                await second.define_named_variable_list(DS, POINTS)


async def test_a_silent_server_keeps_the_connection_and_answers_nothing() -> None:
    async with running_quirky() as (server, port):
        client = await MmsClient.connect("127.0.0.1", port, request_timeout=0.3)
        async with client:
            server.silent = True
            with pytest.raises(MmsRequestTimeout):
                await client.read(dom("Bilateral_Table_ID"))
            assert not client.closed
            server.silent = False
            assert await client.read(dom("Bilateral_Table_ID")) == (VisibleString("BLT_Q"),)
