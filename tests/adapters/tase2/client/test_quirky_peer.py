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
    BinaryTime,
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
from adapters.tase2.mms.types import BitStringType, StructureType, VisibleStringType
from adapters.tase2.model.objects import (
    DSConditions,
    ds_conditions_to_data,
    encode_mms_object_name,
)
from adapters.tase2.model.transfer_set import DSTransferSetModel, DSTransferSetValue
from tests.support import eventually
from tests.support.tase2.quirky import (
    DEFAULT_QUIRKS,
    DS_TRANSFER_SET_FREETASE2_TYPE,
    FREETASE2,
    NEXT_STRUCT_TYPE,
    Quirks,
    QuirkyServer,
    binary_time,
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
    quirks: Quirks = DEFAULT_QUIRKS, transfer_sets: int = 4, points: int = 10
) -> AsyncIterator[tuple[QuirkyServer, MmsClient]]:
    """A quirky server and our client associated to it."""
    async with running_quirky(quirks, transfer_sets=transfer_sets, points=points) as (
        server,
        port,
    ):
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


# ---------------------------------------------------------------------- FreeTASE2's quirks

FREETASE2_EMPTY = Structure(
    (
        VisibleString(""),
        BinaryTime(0, 0),
        *(Integer(0) for _ in range(4)),
        *(Boolean(False) for _ in range(4)),
        Integer(0),
        Integer(0),
        Integer(0),
    )
)
"""A FreeTASE2 transfer set nobody has written."""


def freetase2_dsts(
    data_set: str = "QDS", start: int = 0, interval: int = 1, status: int = 1
) -> Structure:
    """A whole FreeTASE2 DSTransferSet value (DSConditionsRequested: interval)."""
    items = list(FREETASE2_EMPTY.items)
    items[0], items[1], items[2] = VisibleString(data_set), binary_time(start), Integer(interval)
    items[10], items[12] = Integer(status), Integer(int(DSConditions.INTERVAL_TIMEOUT))
    return Structure(tuple(items))


async def test_a_freetase2_transfer_set_has_its_type_and_takes_only_conforming_values() -> None:
    quirks = Quirks(dsts_types="freetase2", data_set_name="string")
    async with peer(quirks) as (server, client):
        assert await client.get_variable_access_attributes(DSTS_1) == (
            DS_TRANSFER_SET_FREETASE2_TYPE
        )
        assert await client.read(DSTS_1) == (FREETASE2_EMPTY,)
        await client.define_named_variable_list(DS, POINTS)
        standard = DSTransferSetValue(DS, interval=1, status=True).to_data()
        assert await client.write(DSTS_1, standard) == DataAccessError.TYPE_INCONSISTENT
        boolean_status = replace(
            freetase2_dsts(), items=(*freetase2_dsts().items[:10], Boolean(True), Integer(0))
        )
        assert await client.write(DSTS_1, boolean_status) == DataAccessError.TYPE_INCONSISTENT
        value = freetase2_dsts(start=1_700_000_000)
        assert await client.write(DSTS_1, value) is None
        assert server.running() == ["DSTS_1"]
        assert server.transfer_sets["DSTS_1"].value.start_time == 1_700_000_000
        assert server.transfer_sets["DSTS_1"].value.conditions == DSConditions.INTERVAL_TIMEOUT
        assert await client.read(DSTS_1) == (value,)
        assert await client.read(dom("DSTS_1$Status")) == (Integer(1),)


async def test_freetase2_ignores_whole_writes_and_most_component_writes() -> None:
    async with peer(FREETASE2) as (server, client):
        await client.define_named_variable_list(DS, POINTS)
        assert await client.write(DSTS_1, freetase2_dsts()) is None
        assert await client.read(DSTS_1) == (FREETASE2_EMPTY,)
        standard = DSTransferSetValue(DS, interval=1, status=True).to_data()
        assert await client.write(DSTS_1, standard) == DataAccessError.TYPE_INCONSISTENT
        assert await client.write(dom("DSTS_1$Status"), Boolean(True)) == (
            DataAccessError.TYPE_INCONSISTENT
        )
        ignored: list[tuple[ObjectName | VariableEntry, Data]] = [
            (dom("DSTS_1$BlockData"), Boolean(True)),
            (VariableEntry(DSTS_1, component_access("RBE")), Boolean(True)),
            (dom("DSTS_1$StartTime"), binary_time(1_700_000_000)),
            (dom("DSTS_1$IntegrityCheck"), Integer(5)),
        ]
        for target, data in ignored:
            assert await client.write(target, data) is None
        assert await client.read(DSTS_1) == (FREETASE2_EMPTY,)
        assert await client.write(dom("DSTS_1$DataSetName"), VisibleString("QDS")) is None
        assert await client.write(dom("DSTS_1$Interval"), Integer(1)) is None
        conditions = VariableEntry(DSTS_1, component_access("DSConditionsRequested"))
        assert await client.write(conditions, Integer(1)) is None
        assert server.running() == []
        assert await client.write(dom("DSTS_1$Status"), Integer(1)) is None
        assert server.running() == ["DSTS_1"]
        assert await client.read(DSTS_1) == (freetase2_dsts(),)


async def test_a_fixed_next_ds_transfer_set_reserves_nothing_and_the_starter_owns_it() -> None:
    fixed = Structure((Integer(4), Integer(4), VisibleString("DSTS_1")))
    value = DSTransferSetValue(DS, interval=1, status=True).to_data()
    async with running_quirky(Quirks(next_ds_transfer_set="fixed")) as (server, port):
        tset = server.transfer_sets["DSTS_1"]

        def owner() -> int | None:
            return tset.owner

        async with await MmsClient.connect("127.0.0.1", port) as first:
            assert await first.get_variable_access_attributes(NEXT) == NEXT_STRUCT_TYPE
            for _ in range(3):
                assert await first.read(NEXT) == (fixed,)
            assert owner() is None
            await first.define_named_variable_list(DS, POINTS)
            assert await first.write(DSTS_1, value) is None
            first_owner = owner()
            assert first_owner is not None
            await next_report(first)
            async with await MmsClient.connect("127.0.0.1", port) as second:
                assert await second.read(NEXT) == (fixed,)
                assert await second.write(DSTS_1, value) is None  # Status 1 again: now its
                assert owner() not in (None, first_owner)
                assert (await next_report(second)).spec == VariableListName(DS)
            await eventually(lambda: owner() is None, what="the owner's end")
            assert server.running() == [] and tset.value.data_set == DS


async def test_freetase2_reports_name_the_transfer_set_and_come_every_interval() -> None:
    async with peer(FREETASE2) as (server, client):
        await client.define_named_variable_list(DS, [*SPECIALS, *POINTS])
        starts: list[tuple[str, Data]] = [
            ("DataSetName", VisibleString("QDS")),
            ("Interval", Integer(1)),
            ("Status", Integer(1)),
        ]
        for comp, data in starts:
            assert await client.write(dom(f"DSTS_1${comp}"), data) is None
        report = await next_report(client)
        assert report.spec == VariableListName(ObjectName.vmd("DSTS_1"))
        name, now, conditions, *members = report.results
        assert name == VisibleString("DSTS_1")
        assert isinstance(now, BinaryTime) and now.days is not None and now.days > 14_000
        assert conditions == Integer(2)
        point = Structure((Float32(1.0), BitString(8, b"\0"), Integer(0)))
        assert members[:4] == [VisibleString(""), Integer(0), BinaryTime(0, 0), point]
        assert len(members) == 5
        server.set_value("pt001", 7.5)
        for _ in range(5):  # a report made before the change is still integrity
            report = await next_report(client)
            if report.results[3 + 3] != point:
                break
        assert report.results[2] == Integer(4)
        assert report.results[6] == Structure((Float32(7.5), BitString(8, b"\0"), Integer(0)))
        unchanged = await next_report(client)
        assert unchanged.results[2] == Integer(2)


@pytest.mark.parametrize("zero", [False, True])
async def test_point_time_stamps_stay_zero_until_given(zero: bool) -> None:
    async with peer(Quirks(point_time_zero=zero)) as (server, client):
        stamp = dom("pt001$TimeStamp")
        (first,) = await client.read(stamp)
        assert isinstance(first, Integer) and (first.value == 0) == zero
        server.set_value("pt001", 2.0)
        (second,) = await client.read(stamp)
        assert isinstance(second, Integer) and (second.value == 0) == zero
        server.set_value("pt001", 3.0, ts=1_700_000_000)
        server.set_value("pt001", 4.0)
        (third,) = await client.read(stamp)
        assert isinstance(third, Integer) and (third.value == 1_700_000_000) == zero


async def test_freetase2_data_sets_refuse_missing_members_and_too_many() -> None:
    async with peer(FREETASE2, points=70) as (server, client):
        with pytest.raises(MmsServiceError) as missing:
            await client.define_named_variable_list(DS, [dom("pt001"), dom("pt999")])
        assert (missing.value.error.error_class, missing.value.error.code) == (
            ErrorClass.DEFINITION,
            DefinitionCode.OBJECT_UNDEFINED,
        )
        many = [dom(f"pt{i:03d}") for i in range(1, 66)]
        with pytest.raises(MmsServiceError) as too_many:
            await client.define_named_variable_list(DS, many)
        assert (too_many.value.error.error_class, too_many.value.error.code) == (
            ErrorClass.DEFINITION,
            DefinitionCode.OTHER,
        )
        assert server.data_sets == {}
        await client.define_named_variable_list(DS, many[:64])
        assert list(server.data_sets) == [DS]
        assert FREETASE2.keep_data_sets


async def test_freetase2_advertises_blocks_1_2_5_in_16_bits() -> None:
    async with peer(FREETASE2) as (_, client):
        features = ObjectName.vmd("Supported_Features")
        assert await client.get_variable_access_attributes(features) == BitStringType(16)
        (value,) = await client.read(features)
        assert isinstance(value, BitString) and value.nbits == 16
        assert value.set_bits() == [0, 1, 4]
        (point,) = await client.read(dom("pt001"))
        assert point == Structure((Float32(1.0), BitString(8, b"\0"), Integer(0)))
