"""The TASE.2 server with our own MMS client: objects, types, rights, data sets, transfer
sets, reports, critical ACKs, association clean-up and live table changes."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.tase2.mms.aio.client import MmsAssociationError, MmsClient
from adapters.tase2.mms.data import (
    BitString,
    Boolean,
    DataAccessError,
    Float32,
    Integer,
    Structure,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import AccessCode, ErrorClass, MmsServiceError, ResourceCode
from adapters.tase2.mms.services import InformationReport, ObjectClass
from adapters.tase2.model.objects import (
    ICC_SPECIAL_TYPES,
    SUPPORTED_FEATURES_TYPE,
    TASE2_VERSION_TYPE,
    DSConditions,
    decode_mms_object_name,
)
from adapters.tase2.model.points import PointType, decode_point
from adapters.tase2.model.transfer_set import DS_TRANSFER_SET_2000_TYPE, DSTransferSetValue
from adapters.tase2.server.settings import Tase2ServerSettings
from gateway.bus import PointBus
from gateway.points import PointDef, PointKind
from tests.support import REPO
from tests.support.gateway import running_gateway
from tests.support.tase2.server import (
    DOMAIN,
    OTHER_AP,
    OTHER_DOMAIN,
    connect,
    make_bus,
    running_server,
    send_ack,
    server_up,
    settings,
    table,
    type_point,
)

pytestmark = pytest.mark.timeout(30)
T = PointType

ICC = ObjectName.dom
HEAD = ("Transfer_Set_Name", "DSConditions_Detected", "Transfer_Set_Time_Stamp")
IV, IG, OC = (
    DSConditions.INTERVAL_TIMEOUT,
    DSConditions.INTEGRITY_TIMEOUT,
    DSConditions.OBJECT_CHANGE,
)


async def start_transfer(
    client: MmsClient, points: list[str], name: str = "DS1", **attrs: Any
) -> tuple[ObjectName, ObjectName]:
    """Define a data set [specials, points], allocate a transfer set and start it."""
    ds = ICC(DOMAIN, name)
    await client.define_named_variable_list(ds, [ICC(DOMAIN, n) for n in (*HEAD, *points)])
    (allocated,) = await client.read(ICC(DOMAIN, "Next_DSTransfer_Set"))
    ts = decode_mms_object_name(allocated)
    assert ts is not None
    value = DSTransferSetValue(data_set=ds, status=True, **attrs)
    assert await client.write(ts, value.to_data()) is None
    return ds, ts


async def next_report(client: MmsClient, timeout: float = 3.0) -> InformationReport:
    """The next InformationReport (bounded wait)."""
    it = client.reports()
    return await asyncio.wait_for(it.__anext__(), timeout)


def by_name(report: InformationReport) -> dict[str, Any]:
    """A listOfVariable report as item name -> value."""
    spec: Any = report.spec
    return {e.name.item: v for e, v in zip(spec.items, report.results, strict=True)}


async def test_unknown_ap_title_is_refused() -> None:
    async with running_server() as adapter:
        with pytest.raises(MmsAssociationError):
            await connect(adapter, ap="1.2.3.4")
        assert adapter.server is not None and adapter.server.associations == 0


async def test_vcc_and_icc_objects_and_name_lists() -> None:
    async with running_server() as adapter:
        client = await connect(adapter)
        try:
            version, features, blt = await client.read(
                ObjectName.vmd("TASE2_Version"),
                ObjectName.vmd("Supported_Features"),
                ICC(DOMAIN, "Bilateral_Table_ID"),
            )
            assert version == Structure((Integer(2000), Integer(8)))
            assert features == BitString(12, b"\xd8\x00")  # Blocks 1, 2, 4 and 5
            assert blt == VisibleString("BLT_ICC1")
            assert await client.get_name_list(ObjectClass.DOMAIN) == [DOMAIN]
            vmd = await client.get_name_list(ObjectClass.NAMED_VARIABLE)
            assert vmd == ["FREQ", "Supported_Features", "TASE2_Version"]
            icc = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, DOMAIN)
            assert "SECRET" not in icc and "GEN1" in icc and "DSTransferSet10" in icc
            for special in ("Next_DSTransfer_Set", "Transfer_Set_Name", "Event_Code_Detected"):
                assert special in icc
            assert icc == sorted(icc)
            with pytest.raises(MmsServiceError) as exc:
                await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, OTHER_DOMAIN)
            assert exc.value.error.code == AccessCode.OBJECT_ACCESS_DENIED
        finally:
            await client.conclude()


async def test_name_list_pages_follow_on() -> None:
    many = [{"match": f"P{i:04d}"} for i in range(2500)]
    bus = PointBus()
    bus.add_owner("plant")
    for i in range(2500):
        bus.register(PointDef(id=f"P{i:04d}"), "plant")
    s = settings(tables=[table(points=many)], vcc_points=[])
    async with running_server(s, bus) as adapter:
        client = await connect(adapter)
        names = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, DOMAIN)
        assert len(names) == 2500 + 6 + 10
        await client.conclude()


async def test_gvaa_gives_the_exact_type_of_each_point_type() -> None:
    async with running_server() as adapter:
        client = await connect(adapter)
        try:
            for ptype in PointType:
                spec = await client.get_variable_access_attributes(ICC(DOMAIN, type_point(ptype)))
                assert spec == ptype.info.spec, ptype
            assert await client.get_variable_access_attributes(ObjectName.vmd("TASE2_Version")) == (
                TASE2_VERSION_TYPE
            )
            assert (
                await client.get_variable_access_attributes(ObjectName.vmd("Supported_Features"))
                == SUPPORTED_FEATURES_TYPE
            )
            for name, spec in ICC_SPECIAL_TYPES.items():
                assert await client.get_variable_access_attributes(ICC(DOMAIN, name)) == spec
            ts_type = await client.get_variable_access_attributes(ICC(DOMAIN, "DSTransferSet01"))
            assert ts_type == DS_TRANSFER_SET_2000_TYPE
            with pytest.raises(MmsServiceError) as exc:
                await client.get_variable_access_attributes(ICC(DOMAIN, "SECRET"))
            assert exc.value.error.code == AccessCode.OBJECT_ACCESS_DENIED
        finally:
            await client.conclude()


async def test_read_values_equal_the_bus() -> None:
    bus, _ = make_bus()
    async with running_server(bus=bus) as adapter:
        client = await connect(adapter)
        try:
            types = list(PointType)
            results = await client.read(*(ICC(DOMAIN, type_point(t)) for t in types))
            for ptype, data in zip(types, results, strict=True):
                pv = bus.get(type_point(ptype))
                got = decode_point(data, ptype)  # type: ignore[arg-type]
                if ptype.info.has_quality:
                    assert got.quality == pv.quality, ptype
                if got.value is not None:
                    assert got.value == pytest.approx(pv.value), ptype
                if ptype.info.has_time:
                    assert got.ts is not None and abs(got.ts - pv.ts) < (
                        0.001 if ptype.info.has_milliseconds else 1
                    )
                if ptype.info.has_cov:
                    assert got.cov == pv.cov
            (freq,) = await client.read(ObjectName.vmd("FREQ"))
            assert decode_point(freq).value == pytest.approx(bus.get("FREQ").value)  # type: ignore[arg-type]
        finally:
            await client.conclude()


async def test_reads_and_writes_outside_the_table_are_denied() -> None:
    bus, owner = make_bus()
    async with running_server(bus=bus) as adapter:
        client = await connect(adapter)
        try:
            denied = DataAccessError.OBJECT_ACCESS_DENIED
            results = await client.read(
                ICC(DOMAIN, "SECRET"),
                ICC(OTHER_DOMAIN, "GEN1"),
                ICC(DOMAIN, "Transfer_Set_Name"),
                ICC(DOMAIN, "NoSuchThing"),
            )
            assert results == (denied, denied, denied, DataAccessError.OBJECT_NON_EXISTENT)
            assert await client.write(ICC(DOMAIN, "RO1"), Float32(1.0)) == denied
            assert await client.write(ICC(DOMAIN, "SECRET"), Float32(1.0)) == denied
            assert await client.write(ICC(OTHER_DOMAIN, "GEN1"), Float32(1.0)) == denied
            assert await client.write(ICC(DOMAIN, "Bilateral_Table_ID"), VisibleString("x")) == (
                denied
            )
            assert owner.commands == []
            # define: a member outside the table, or a set outside the peer's domain
            with pytest.raises(MmsServiceError) as exc:
                await client.define_named_variable_list(
                    ICC(DOMAIN, "BAD"), [ICC(DOMAIN, "GEN1"), ICC(DOMAIN, "SECRET")]
                )
            assert exc.value.error.error_class == ErrorClass.ACCESS
            assert exc.value.error.code == AccessCode.OBJECT_ACCESS_DENIED
            for outside in (ObjectName.vmd("BAD"), ICC(OTHER_DOMAIN, "BAD")):
                with pytest.raises(MmsServiceError) as exc:
                    await client.define_named_variable_list(outside, [ICC(DOMAIN, "GEN1")])
                assert exc.value.error.code == AccessCode.OBJECT_ACCESS_DENIED
            # enable: a data set in another domain
            (allocated,) = await client.read(ICC(DOMAIN, "Next_DSTransfer_Set"))
            ts = decode_mms_object_name(allocated)
            assert ts is not None
            bad = DSTransferSetValue(data_set=ICC(OTHER_DOMAIN, "DS"), status=True)
            assert await client.write(ts, bad.to_data()) == denied
        finally:
            await client.conclude()


async def test_transfer_set_of_another_association_cannot_be_enabled() -> None:
    async with running_server() as adapter:
        a, b = await connect(adapter), await connect(adapter)
        try:
            (allocated,) = await a.read(ICC(DOMAIN, "Next_DSTransfer_Set"))
            ts = decode_mms_object_name(allocated)
            assert ts is not None
            await b.define_named_variable_list(ICC(DOMAIN, "DSB"), [ICC(DOMAIN, "GEN1")])
            value = DSTransferSetValue(data_set=ICC(DOMAIN, "DSB"), status=True)
            assert await b.write(ts, value.to_data()) == DataAccessError.OBJECT_ACCESS_DENIED
        finally:
            await a.conclude()
            await b.conclude()


async def test_writes_become_bus_commands_with_their_outcome() -> None:
    bus, owner = make_bus()
    async with running_server(bus=bus) as adapter:
        client = await connect(adapter)
        try:
            assert await client.write(ICC(DOMAIN, "SP1"), Float32(42.5)) is None
            assert bus.get("SP1").value == 42.5
            failed = await client.write(ICC(DOMAIN, "SP_FAIL"), Float32(1e9))
            assert failed == DataAccessError.OBJECT_VALUE_INVALID
            wrong = await client.write(ICC(DOMAIN, "SP1"), VisibleString("high"))
            assert wrong == DataAccessError.TYPE_INCONSISTENT
            assert [c[0] for c in owner.commands] == ["SP1", "SP_FAIL"]
        finally:
            await client.conclude()


async def test_malformed_transfer_set_writes_are_refused_and_change_nothing() -> None:
    async with running_server() as adapter:
        client = await connect(adapter)
        try:
            (allocated,) = await client.read(ICC(DOMAIN, "Next_DSTransfer_Set"))
            ts = decode_mms_object_name(allocated)
            assert ts is not None
            before = await client.read(ts)
            inconsistent = DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT
            assert await client.write(ts, Structure((Integer(1),) * 5)) == inconsistent
            items = list(DSTransferSetValue(status=True).to_data().items)
            items[2] = Boolean(True)  # Interval must be an integer
            assert await client.write(ts, Structure(tuple(items))) == inconsistent
            assert await client.write(ts, Integer(3)) == inconsistent
            # a valid shape naming no data set cannot start either
            assert await client.write(ts, DSTransferSetValue(status=True).to_data()) == (
                inconsistent
            )
            assert await client.read(ts) == before
        finally:
            await client.conclude()


async def test_oversized_data_sets_are_refused_with_a_clear_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    types = list(PointType)
    async with running_server(settings(limits={"data_set_size": 8})) as adapter:
        client = await connect(adapter, max_pdu_size=1024)
        try:
            assert client.parameters.max_pdu_size == 1024
            members = [ICC(DOMAIN, type_point(t)) for t in types[:8]]
            await client.define_named_variable_list(ICC(DOMAIN, "OK"), members[:3])
            with pytest.raises(MmsServiceError) as exc:  # over the member limit
                await client.define_named_variable_list(
                    ICC(DOMAIN, "TOO_MANY"), [*members, ICC(DOMAIN, "GEN1")]
                )
            assert exc.value.error.error_class == ErrorClass.RESOURCE
            assert exc.value.error.code == ResourceCode.CAPABILITY_UNAVAILABLE
            assert "the limit is 8" in caplog.text
        finally:
            await client.conclude()
    # a full report that cannot fit the negotiated PDU (the request itself does fit)
    ext = PointType.DATA_REALQ_TIMETAG_EXTENDED.value
    many = [{"match": f"P{i:03d}", "type": ext} for i in range(120)]
    bus = PointBus()
    bus.add_owner("plant")
    for i in range(120):
        bus.register(PointDef(id=f"P{i:03d}"), "plant")
    async with running_server(settings(tables=[table(points=many)], vcc_points=[]), bus) as adapter:
        client = await connect(adapter, max_pdu_size=2560)
        try:
            with pytest.raises(MmsServiceError) as exc:
                await client.define_named_variable_list(
                    ICC(DOMAIN, "BIG"), [ICC(DOMAIN, f"P{i:03d}") for i in range(120)]
                )
            assert exc.value.error.error_class == ErrorClass.RESOURCE
            assert "more than the negotiated MMS PDU size of 2560" in caplog.text
            names = await client.get_name_list(
                ObjectClass.NAMED_VARIABLE_LIST, Scope.DOMAIN, DOMAIN
            )
            assert names == []
        finally:
            await client.conclude()


async def test_rbe_integrity_and_interval_reports_carry_the_bus_values() -> None:
    bus, _ = make_bus()
    async with running_server(bus=bus) as adapter:
        client = await connect(adapter)
        try:
            points = ["GEN1", "GEN2", "BRK1", "TAP1"]
            ds, ts = await start_transfer(
                client, points, interval=1, integrity_check=1, conditions=IG | OC, rbe=True
            )
            bus.update("GEN2", 77.25, ts=1_700_000_100.0)
            report = await next_report(client)
            values = by_name(report)
            assert list(values) == [*HEAD, "GEN2"]
            assert decode_mms_object_name(values["Transfer_Set_Name"]) == ts
            assert values["DSConditions_Detected"] == BitString(5, b"\x20")
            got = decode_point(values["GEN2"], PointType.DATA_REALQ_TIMETAG)
            assert got.value == 77.25 and got.quality == bus.get("GEN2").quality
            assert got.ts == 1_700_000_100.0
            full = await next_report(client)  # integrity: the whole data set
            assert full.spec.name == ds  # type: ignore[union-attr]
            assert full.results[1] == BitString(5, b"\x40")
            types = [T.DATA_REALQ_TIMETAG] * 2 + [T.DATA_STATEQ_TIMETAG, T.DATA_DISCRETEQ_TIMETAG]
            for name, ptype, data in zip(points, types, full.results[3:], strict=True):
                decoded = decode_point(data, ptype)
                pv = bus.get(name)
                assert decoded.value == pytest.approx(pv.value) and decoded.quality == pv.quality
            # a plain interval transfer set (no RBE): full reports every Interval
            await start_transfer(client, ["TAP1"], name="DS2", interval=1, conditions=IV)
            deadline = time.monotonic() + 3
            seen: set[bytes] = set()
            while time.monotonic() < deadline and b"\x80" not in seen:
                r = await next_report(client)
                if r.spec.name.item == "DS2":  # type: ignore[union-attr]
                    seen.add(r.results[1].data)  # type: ignore[union-attr]
            assert b"\x80" in seen
        finally:
            await client.conclude()


async def test_critical_reports_are_acknowledged_or_time_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, _ = make_bus()
    async with running_server(settings(limits={"critical_timeout": 0.3}), bus) as adapter:
        server = adapter.server
        assert server is not None
        client = await connect(adapter)
        try:
            _, ts = await start_transfer(client, ["GEN1"], conditions=OC, rbe=True, critical=True)
            bus.update("GEN1", 5.0)
            values = by_name(await next_report(client))
            await send_ack(client, ts, values["Transfer_Set_Time_Stamp"].value)
            await asyncio.sleep(0.5)
            assert list(server.events) == []
            bus.update("GEN1", 6.0)
            await next_report(client)  # not acknowledged
            await asyncio.sleep(0.6)
            bus.update("GEN1", 7.0)  # the scheduler runs: the time-out is noticed
            await asyncio.sleep(0.1)
            assert [e.kind for e in server.events] == ["critical-timeout"]
            assert "critical report not acknowledged in time" in caplog.text
        finally:
            await client.conclude()


async def test_status_component_write_stops_and_association_end_frees(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    bus, _ = make_bus()
    async with running_server(bus=bus) as adapter:
        server = adapter.server
        assert server is not None
        client = await connect(adapter)
        ds, ts = await start_transfer(client, ["GEN1"], conditions=OC, rbe=True)
        flat = ICC(DOMAIN, f"{ts.item}$Status")
        assert await client.write(flat, Boolean(False)) is None
        assert "stopped by association" in caplog.text
        # in use data sets cannot be deleted; a stopped one can
        assert (await client.delete_named_variable_list(ds)).deleted == 1
        ds, ts = await start_transfer(client, ["GEN1"], name="DS9", conditions=OC, rbe=True)
        assert (await client.delete_named_variable_list(ds)).deleted == 0
        await client.abort()
        for _ in range(100):
            if server.associations == 0:
                break
            await asyncio.sleep(0.02)
        assert server.associations == 0
        assert server.registry.names(None, Scope.DOMAIN, DOMAIN) == []
        other = await connect(adapter)
        (allocated,) = await other.read(ICC(DOMAIN, "Next_DSTransfer_Set"))
        assert decode_mms_object_name(allocated) == ICC(DOMAIN, "DSTransferSet01")
        await other.conclude()


async def test_points_added_with_a_table_change_are_served_at_once() -> None:
    bus, _ = make_bus()
    s = settings()
    async with running_server(s, bus) as adapter:
        mine = await connect(adapter)
        theirs = await connect(adapter, ap=OTHER_AP)
        try:
            # the runtime registers a new point, then reconfigures: ICC2's table now names it,
            # ICC1's table, unchanged, matches it by its GEN* pattern
            bus.register(PointDef(id="GEN3", kind=PointKind.REAL), "plant")
            bus.update("GEN3", 42.0)
            raw = s.model_dump()
            raw["tables"][1]["points"] = [*raw["tables"][1]["points"], {"match": "GEN3"}]
            assert adapter.reconfigure(type(s).model_validate(raw)) is True
            for client, domain in ((mine, DOMAIN), (theirs, OTHER_DOMAIN)):
                (value,) = await client.read(ICC(domain, "GEN3"))  # not in refresh_period
                assert decode_point(value).value == 42.0
        finally:
            await mine.abort()
            await theirs.abort()


async def test_changing_one_table_touches_only_its_peer() -> None:
    bus, _ = make_bus()
    s = settings()
    async with running_server(s, bus) as adapter:
        server = adapter.server
        assert server is not None
        mine = await connect(adapter)
        theirs = await connect(adapter, ap=OTHER_AP)
        try:
            _, ts1 = await start_transfer(mine, ["GEN1", "GEN2"], conditions=OC, rbe=True)
            ds2 = ICC(OTHER_DOMAIN, "DSX")
            await theirs.define_named_variable_list(ds2, [ICC(OTHER_DOMAIN, "GEN1")])
            (allocated,) = await theirs.read(ICC(OTHER_DOMAIN, "Next_DSTransfer_Set"))
            ts2 = decode_mms_object_name(allocated)
            assert ts2 is not None
            value = DSTransferSetValue(data_set=ds2, status=True, conditions=OC, rbe=True)
            assert await theirs.write(ts2, value.to_data()) is None
            # ICC1 loses GEN2: its transfer set stops; ICC2 keeps running
            raw = s.model_dump()
            raw["tables"][0]["points"] = [{"match": "GEN1"}]
            new = type(s).model_validate(raw)
            assert adapter.reconfigure(new) is True
            assert server.engine.get(ts1) is not None and not server.engine.get(ts1).running  # type: ignore[union-attr]
            assert server.engine.get(ts2).running  # type: ignore[union-attr]
            (gen2,) = await mine.read(ICC(DOMAIN, "GEN2"))
            assert gen2 == DataAccessError.OBJECT_ACCESS_DENIED
            bus.update("GEN1", 1234.0)
            report = by_name(await next_report(theirs))
            assert decode_point(report["GEN1"]).value == 1234.0
            # a table that cannot compile changes nothing
            raw["tables"][1]["points"] = [{"match": "BRK1", "type": "Data_RealQ"}]
            assert adapter.reconfigure(type(s).model_validate(raw)) is True
            assert server.engine.get(ts2).running  # type: ignore[union-attr]
            # removing ICC1's table ends its association only
            raw["tables"] = raw["tables"][1:2]
            raw["tables"][0]["points"] = [{"match": "GEN1"}]
            assert adapter.reconfigure(type(s).model_validate(raw)) is True
            await asyncio.wait_for(mine.wait_closed(), 3)
            for _ in range(100):
                if server.associations == 1:
                    break
                await asyncio.sleep(0.02)
            assert server.associations == 1
            (still,) = await theirs.read(ICC(OTHER_DOMAIN, "GEN1"))
            assert isinstance(still, Structure)
        finally:
            await theirs.conclude()
            await mine.abort()


async def test_settings_validation_and_consumed_points() -> None:
    s = settings()
    assert {"SP1", "RO1", "FREQ", "GEN1"} <= s.consumed_points()
    assert not any("*" in p for p in s.consumed_points())
    with pytest.raises(ValueError, match="used twice"):
        settings(tables=[table(), table()])
    with pytest.raises(ValueError, match="dotted OID"):
        settings(ap_title="not-an-oid")
    assert s.restart_needed(settings(port=1234))
    assert not s.restart_needed(settings(vcc_points=[]))


async def test_example_config_loads_and_serves(tmp_path: Path) -> None:
    from adapters.sim import SimAdapter
    from adapters.tase2.server.adapter import Tase2ServerAdapter
    from gateway.config import load_config
    from gateway.registry import AdapterRegistry
    from gateway.runtime import Backoff

    registry = AdapterRegistry(group="no-such-group")
    registry.register(SimAdapter)
    registry.register(Tase2ServerAdapter)
    path = REPO / "mappings" / "tase2-example.yaml"
    config = load_config(path, registry)
    iccp = config.adapter_map()["iccp"].settings
    assert isinstance(iccp, type(settings())) and "GEN1_SETPOINT" in iccp.consumed_points()
    raw = config.model_dump()
    raw["adapters"][1]["settings"]["port"] = 0
    raw["adapters"][1]["settings"]["state_dir"] = str(tmp_path)  # not next to the example
    for a in raw["adapters"]:
        a.update(a.pop("settings"))
    from gateway.config import build_config

    async with running_gateway(
        build_config(raw, "test", registry=registry), registry, Backoff(0.1, 0.5)
    ) as runtime:
        adapter = runtime.adapters["iccp"]
        assert isinstance(adapter, Tase2ServerAdapter)
        await server_up(adapter)
        client = await connect(adapter)
        names = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, "ICC1")
        assert {"GEN1_MW", "GEN1_SETPOINT", "BRK1_STATE", "TAP1_POS"} <= set(names)
        assert await client.write(ICC("ICC1", "GEN1_SETPOINT"), Float32(99.0)) is None
        assert runtime.bus.get("GEN1_SETPOINT").value == 99.0
        assert await client.write(ICC("ICC1", "GEN1_MW"), Float32(1.0)) == (
            DataAccessError.OBJECT_ACCESS_DENIED
        )
        (freq,) = await client.read(ObjectName.vmd("SYS_FREQ"))
        assert isinstance(freq, Structure)
        lists = await client.get_name_list(ObjectClass.NAMED_VARIABLE_LIST, Scope.VMD)
        assert lists == ["DS_SYSTEM"]
        values = await client.read_list(ObjectName.vmd("DS_SYSTEM"))
        assert all(isinstance(v, Structure) for v in values[3:])
        await client.conclude()


async def test_peer_address_and_association_limit_are_enforced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = table()
    raw["peer"]["addresses"] = ["10.0.0.0/8"]
    async with running_server(settings(tables=[raw])) as adapter:
        with pytest.raises(MmsAssociationError):
            await connect(adapter)
        assert "matches no bilateral table" in caplog.text  # the refusal says why
    async with running_server(settings(limits={"max_associations": 1})) as adapter:
        first = await connect(adapter)
        with pytest.raises(MmsAssociationError):
            await connect(adapter)
        assert "limit of 1 associations" in caplog.text
        await first.conclude()


# --------------------------------------------------------------------------- VCC data sets

VCC_MEMBERS = [*HEAD, "FREQ", "GEN1", "TAP1"]
VCC_DS = ObjectName.vmd("DS_SYSTEM")


def vcc_settings(**extra: Any) -> Any:
    """Settings with the VCC data set DS_SYSTEM; ICC2 may write but not read TAP1."""
    icc2 = table(
        "BLT_ICC2",
        OTHER_DOMAIN,
        OTHER_AP,
        [{"match": "GEN1"}, {"match": "TAP1", "read": False, "write": True}],
    )
    raw: dict[str, Any] = {
        "tables": [table(), icc2],
        "vcc_data_sets": [{"name": "DS_SYSTEM", "members": VCC_MEMBERS}],
    }
    raw.update(extra)
    return settings(**raw)


async def start_vcc(client: MmsClient, domain: str = DOMAIN) -> ObjectName:
    """Allocate a transfer set (Next_DSTransfer_Set) of ``domain``."""
    (allocated,) = await client.read(ICC(domain, "Next_DSTransfer_Set"))
    ts = decode_mms_object_name(allocated)
    assert ts is not None
    return ts


async def test_vcc_data_sets_are_listed_described_read_and_not_deletable() -> None:
    bus, _ = make_bus()
    async with running_server(vcc_settings(), bus) as adapter:
        client = await connect(adapter)
        other = await connect(adapter, ap=OTHER_AP)
        try:
            for c in (client, other):
                lists = await c.get_name_list(ObjectClass.NAMED_VARIABLE_LIST, Scope.VMD)
                assert lists == ["DS_SYSTEM"]
            attrs = await client.get_named_variable_list_attributes(VCC_DS)
            assert attrs.mms_deletable is False
            assert [e.name for e in attrs.variables] == [
                *(ICC(DOMAIN, n) for n in HEAD),
                ObjectName.vmd("FREQ"),
                ICC(DOMAIN, "GEN1"),
                ICC(DOMAIN, "TAP1"),
            ]
            values = await client.read_list(VCC_DS)
            assert values[:3] == (DataAccessError.OBJECT_ACCESS_DENIED,) * 3
            for point, data in zip(VCC_MEMBERS[3:], values[3:], strict=True):
                got = decode_point(data)
                assert got.value == pytest.approx(bus.get(point).value)
                assert got.quality == bus.get(point).quality
            (tap1,) = (await other.read_list(VCC_DS))[5:]
            assert tap1 == DataAccessError.OBJECT_ACCESS_DENIED  # write-only for ICC2
            with pytest.raises(MmsServiceError) as exc:
                await client.delete_named_variable_list(VCC_DS)
            err = exc.value.error
            assert (err.error_class, err.code) == (
                ErrorClass.ACCESS,
                AccessCode.OBJECT_ACCESS_DENIED,
            )
            assert err.service_specific == (0x86, b"\x00")  # numberDeleted 0
            assert await client.get_name_list(ObjectClass.NAMED_VARIABLE_LIST) == ["DS_SYSTEM"]
            with pytest.raises(MmsServiceError) as exc:  # peers define no VMD-scope lists
                await client.define_named_variable_list(ObjectName.vmd("MINE"), [VCC_DS])
            assert exc.value.error.error_class == ErrorClass.ACCESS
        finally:
            await client.conclude()
            await other.conclude()


async def test_vcc_data_set_reports_and_start_checks(caplog: pytest.LogCaptureFixture) -> None:
    bus, _ = make_bus()
    async with running_server(vcc_settings(), bus) as adapter:
        client = await connect(adapter)
        other = await connect(adapter, ap=OTHER_AP)
        try:
            ts = await start_vcc(client)
            value = DSTransferSetValue(
                data_set=VCC_DS, status=True, interval=1, integrity_check=1, conditions=IV | IG
            )
            assert await client.write(ts, value.to_data()) is None
            full = await next_report(client)
            assert full.spec.name == VCC_DS  # type: ignore[union-attr]
            assert decode_mms_object_name(full.results[0]) == ts
            assert full.results[1] == BitString(5, b"\xc0")
            for point, data in zip(VCC_MEMBERS[3:], full.results[3:], strict=True):
                got, pv = decode_point(data), bus.get(point)
                assert got.value == pytest.approx(pv.value) and got.quality == pv.quality
            # ICC2 may not read TAP1: the start is refused
            ts2 = await start_vcc(other, OTHER_DOMAIN)
            assert await other.write(ts2, value.to_data()) == DataAccessError.OBJECT_ACCESS_DENIED
            assert "not readable for this peer" in caplog.text
        finally:
            await client.conclude()
            await other.conclude()
    # a VCC data set whose full report cannot fit the negotiated PDU is refused at start
    ext = PointType.DATA_REALQ_TIMETAG_EXTENDED.value
    bus = PointBus()
    bus.add_owner("plant")
    for i in range(120):
        bus.register(PointDef(id=f"P{i:03d}"), "plant")
    big = {"name": "BIG", "members": [f"P{i:03d}" for i in range(120)]}
    s = settings(tables=[table(points=[{"match": "P*", "type": ext}])], vcc_data_sets=[big])
    async with running_server(s, bus) as adapter:
        client = await connect(adapter, max_pdu_size=2560)
        try:
            ts = await start_vcc(client)
            value = DSTransferSetValue(
                data_set=ObjectName.vmd("BIG"), status=True, interval=1, conditions=IV
            )
            assert await client.write(ts, value.to_data()) == (
                DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT
            )
            assert "more than the negotiated MMS PDU size of 2560" in caplog.text
        finally:
            await client.conclude()


async def test_changing_vcc_data_sets_stops_only_their_transfer_sets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, _ = make_bus()
    s = vcc_settings()
    async with running_server(s, bus) as adapter:
        server = adapter.server
        assert server is not None
        client = await connect(adapter)
        try:
            _, icc_ts = await start_transfer(client, ["GEN1"], conditions=OC, rbe=True)
            ts = await start_vcc(client)
            value = DSTransferSetValue(data_set=VCC_DS, status=True, interval=1, conditions=IV)
            assert await client.write(ts, value.to_data()) is None
            raw = s.model_dump()
            raw["vcc_data_sets"] = [
                *raw["vcc_data_sets"],
                {"name": "DS_OTHER", "members": ["FREQ"]},
            ]
            assert adapter.reconfigure(type(s).model_validate(raw)) is True
            assert server.engine.get(ts).running  # type: ignore[union-attr]  # untouched
            caplog.set_level(logging.INFO)
            raw["vcc_data_sets"] = raw["vcc_data_sets"][1:]  # DS_SYSTEM removed
            assert adapter.reconfigure(type(s).model_validate(raw)) is True
            assert not server.engine.get(ts).running  # type: ignore[union-attr]
            assert server.engine.get(icc_ts).running  # type: ignore[union-attr]
            assert f"transfer set {ts} stopped" in caplog.text and "DS_SYSTEM" in caplog.text
            (read_back,) = await client.read(ts)
            assert isinstance(read_back, Structure) and read_back.items[11] == Boolean(False)
            lists = await client.get_name_list(ObjectClass.NAMED_VARIABLE_LIST, Scope.VMD)
            assert lists == ["DS_OTHER"]
            bus.update("GEN1", 4321.0)  # the ICC transfer set still reports
            report = by_name(await next_report(client))
            assert decode_point(report["GEN1"]).value == 4321.0
        finally:
            await client.conclude()


async def test_vcc_data_set_settings_are_checked() -> None:
    s = vcc_settings()
    assert {"FREQ", "GEN1", "TAP1"} <= s.consumed_points()
    assert "Transfer_Set_Name" not in s.consumed_points()
    with pytest.raises(ValueError, match="used twice"):
        vcc_settings(vcc_data_sets=[{"name": "A", "members": ["FREQ"]}] * 2)
    with pytest.raises(ValueError, match="listed twice"):
        vcc_settings(vcc_data_sets=[{"name": "A", "members": ["FREQ", "FREQ"]}])
    with pytest.raises(ValueError):
        vcc_settings(vcc_data_sets=[{"name": "A", "members": []}])


def test_state_dir_is_next_to_the_configuration_file_by_default(tmp_path: Path) -> None:
    raw = settings().model_dump(mode="json", exclude={"state_dir"})
    loaded = Tase2ServerSettings.model_validate(raw, context={"base": tmp_path})
    assert loaded.state_dir == tmp_path / "state"
    raw["state_dir"] = "var/iccp"
    loaded = Tase2ServerSettings.model_validate(raw, context={"base": tmp_path})
    assert loaded.state_dir == tmp_path / "var" / "iccp"
    assert settings().state_dir is None  # no configuration file: tags in memory only
    assert loaded.restart_needed(loaded.model_copy(update={"state_dir": tmp_path}))


async def test_data_sets_beyond_the_associations_quota_get_the_resource_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_server(settings(limits={"max_data_sets": 5})) as adapter:
        client = await connect(adapter)
        try:
            for i in range(5):
                await client.define_named_variable_list(
                    ICC(DOMAIN, f"DS{i}"), [ICC(DOMAIN, "GEN1")]
                )
            for i in range(5, 40):  # a flood: every one refused, a few log lines
                with pytest.raises(MmsServiceError) as exc:
                    await client.define_named_variable_list(
                        ICC(DOMAIN, f"DS{i}"), [ICC(DOMAIN, "GEN1")]
                    )
                assert exc.value.error.error_class == ErrorClass.RESOURCE
                assert exc.value.error.code == ResourceCode.CAPABILITY_UNAVAILABLE
            names = await client.get_name_list(
                ObjectClass.NAMED_VARIABLE_LIST, Scope.DOMAIN, DOMAIN
            )
            assert names == [f"DS{i}" for i in range(5)]
        finally:
            await client.conclude()
        lines = [r for r in caplog.records if "limits.max_data_sets" in r.getMessage()]
        assert 1 <= len(lines) <= 6, [r.getMessage() for r in lines]
        # the quota is the association's: a new association starts from nothing
        again = await connect(adapter)
        try:
            await eventually_defined(again)
        finally:
            await again.conclude()


async def eventually_defined(client: MmsClient) -> None:
    """Define DS0 once the previous association's data sets are gone (bounded)."""
    for _ in range(100):
        try:
            await client.define_named_variable_list(ICC(DOMAIN, "DS0"), [ICC(DOMAIN, "GEN1")])
            return
        except MmsServiceError:
            await asyncio.sleep(0.02)
    raise AssertionError("DS0 could not be defined by a new association")


async def test_the_server_stops_even_when_its_report_scheduler_is_woken_as_it_stops() -> None:
    # Python 3.11's asyncio.wait_for drops a cancel that comes in the step its wait ends:
    # the scheduler would go on and the gateway's stop would hang.
    async with running_server() as adapter:
        server = adapter.server
        assert server is not None
        scheduler = server._scheduler
        assert scheduler is not None
        await asyncio.sleep(0.01)
        server._wake.set()  # a change woke the scheduler...
        scheduler.cancel()  # ...in the step that cancels it
        done, _ = await asyncio.wait({scheduler}, timeout=1.0)
        assert done
