"""The server's Block 4/5 services through our MMS client: names and types per table,
operate outcomes from the bus owner (hardware-fault on device failure and time-out),
disarm on association end, IM_Transfer_Set, messages only where enabled and allowed,
the probe's --operate and --tag."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.tase2.client.devices import DeviceError, get_tag, operate_device, set_tag
from adapters.tase2.errors import LocalError
from adapters.tase2.mms.data import Boolean, DataAccessError, Float32, Integer
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import AccessCode, ErrorClass, MmsServiceError
from adapters.tase2.mms.services import ObjectClass
from adapters.tase2.mms.types import BooleanType, IntegerType
from adapters.tase2.model.devices import DeviceKind, TagState, TagValue
from adapters.tase2.model.messages import IM_TRANSFER_SET, INFO_MESS_HEADER
from adapters.tase2.server.adapter import Tase2ServerAdapter
from adapters.tase2.server.settings import Tase2ServerSettings
from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.messages import Message
from gateway.points import PointDef
from gateway.state import StateStore
from tests.support import running
from tests.support.tase2.server import (
    DOMAIN,
    OTHER_AP,
    OTHER_DOMAIN,
    connect,
    make_bus,
    probe,
    running_server,
    server_up,
    table,
)
from tests.support.tase2.server import settings as server_settings

pytestmark = pytest.mark.timeout(60)

DEVICES = [
    {"name": "BRK", "point": "BRK1", "sbo": True, "check_back_id": 11, "operate": True,
     "taggable": True, "get_tag": True, "set_tag": True},
    {"name": "SP", "point": "SP1", "kind": "setpoint_real", "operate": True,
     "status_point": "SP1"},
    {"name": "FAIL", "point": "RO1", "kind": "setpoint_real", "operate": True},
    {"name": "SLOW", "point": "GEN2", "kind": "setpoint_real", "operate": True},
]  # fmt: skip


def dev_settings(**extra: Any) -> Tase2ServerSettings:
    icc1 = {**table(), "devices": DEVICES, "messages": True}
    icc2 = {**table("BLT_ICC2", OTHER_DOMAIN, OTHER_AP, [{"match": "GEN1"}]), "devices": []}
    return server_settings(tables=[icc1, icc2], **extra)


def failing_bus() -> PointBus:
    """The fixture bus, whose owner fails RO1 (device failure) and never answers GEN2."""
    bus, owner = make_bus()
    bus.command_timeout = 0.3

    async def handler(point: PointDef, value: Value) -> None:
        if point.id == "RO1":
            raise CommandError(CommandFailure.DEVICE_FAILURE, "relay did not pick up")
        if point.id == "GEN2":
            await asyncio.sleep(5)
        await owner.on_command(point, value)

    bus.add_owner("plant", handler)
    return bus


def dom(item: str) -> ObjectName:
    return ObjectName.dom(DOMAIN, item)


async def test_devices_names_types_outcomes_and_disarm() -> None:
    bus = failing_bus()
    async with running_server(dev_settings(), bus) as adapter:
        client = await connect(adapter)
        names = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, DOMAIN)
        assert {"BRK", "BRK_SBO", "BRK_TAG", "SP", INFO_MESS_HEADER, "Info_Buff_1024"} <= set(names)
        aa = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.AA)
        assert aa == [IM_TRANSFER_SET]
        assert await client.get_variable_access_attributes(dom("BRK")) == IntegerType(16)
        assert (
            await client.get_variable_access_attributes(ObjectName.aa(IM_TRANSFER_SET))
            == BooleanType()
        )

        assert await operate_device(client, dom("BRK"), DeviceKind.COMMAND, 1, sbo=True) == 11
        assert bus.get("BRK1").value == 2  # closed
        await operate_device(client, dom("SP"), DeviceKind.SETPOINT_REAL, 42.5)
        assert bus.get("SP1").value == 42.5
        assert (await client.read(dom("SP")))[0] == Float32(42.5)  # read-back
        assert await client.write(dom("SP"), Integer(7)) is None  # an integer is accepted
        assert await client.write(dom("SP"), Boolean(True)) is DataAccessError.TYPE_INCONSISTENT
        assert await client.write(dom("FAIL"), Float32(1.0)) is DataAccessError.HARDWARE_FAULT
        assert await client.write(dom("SLOW"), Float32(1.0)) is DataAccessError.HARDWARE_FAULT
        with pytest.raises(DeviceError) as err:
            await operate_device(
                client, dom("BRK"), DeviceKind.COMMAND, 0, sbo=True, check_back_id=5
            )
        assert err.value.failure is CommandFailure.DEVICE_FAILURE  # wrong check-back: no operate

        # the selection above is still armed; a second association cannot select, and
        # when the first association ends it is disarmed
        other = await connect(adapter)
        assert (await other.read(dom("BRK_SBO")))[0] is DataAccessError.TEMPORARILY_UNAVAILABLE
        with pytest.raises(DeviceError):
            await set_tag(other, dom("BRK"), TagValue(TagState.OPEN_AND_CLOSE_INHIBIT, "x"))
        await client.conclude()
        for _ in range(100):
            if (await other.read(dom("BRK_SBO")))[0] == Integer(11):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("not disarmed at association end")
        assert (await get_tag(other, dom("BRK"))).armed
        await other.conclude()

        icc2 = await connect(adapter, OTHER_AP)
        names2 = await icc2.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, OTHER_DOMAIN)
        assert "BRK" not in names2 and INFO_MESS_HEADER not in names2
        assert (await icc2.read(dom("BRK_SBO")))[0] is DataAccessError.OBJECT_ACCESS_DENIED
        assert await icc2.write(ObjectName.aa(IM_TRANSFER_SET), Boolean(True)) is (
            DataAccessError.OBJECT_ACCESS_DENIED
        )
        await icc2.conclude()


async def test_im_transfer_set_and_messages() -> None:
    bus, _ = make_bus()
    async with running_server(dev_settings(), bus) as adapter:
        assert adapter.server is not None
        on, off = await connect(adapter), await connect(adapter)
        im = ObjectName.aa(IM_TRANSFER_SET)
        assert await on.write(im, Integer(1)) is DataAccessError.TYPE_INCONSISTENT
        assert await on.write(im, Boolean(True)) is None
        assert (await on.read(im))[0] == Boolean(True)
        assert (await off.read(im))[0] == Boolean(False)
        assert (await on.read(dom(INFO_MESS_HEADER)))[0] is DataAccessError.OBJECT_ACCESS_DENIED
        bus.publish_message(Message(b"first", 1, 2, 3, origin="ops"))
        bus.publish_message(Message(b"own", origin="tase2"))  # the adapter's own: not sent
        reports = on.reports()
        report = await asyncio.wait_for(reports.__anext__(), 5)
        assert report.results[1].value == b"first"  # type: ignore[union-attr]
        assert await on.write(im, Boolean(False)) is None
        assert adapter.server.send_message(Message(b"second")) == 0
        await on.conclude()
        await off.conclude()
        assert off.dropped_reports == 0 and off._reports.qsize() <= 1  # only the end marker


async def test_probe_operates_and_tags() -> None:
    bus, _ = make_bus()
    async with running_server(dev_settings(), bus) as adapter:
        assert adapter.server is not None
        port = adapter.server.port
        base = [f"127.0.0.1:{port}", "--ap-title", "1.1.1.999", "--ae-qualifier", "12"]
        code, out, err = await probe(*base, "--operate", f"{DOMAIN}/BRK", "0", "--sbo")
        assert code == 0, (out, err)
        assert "operate ICC1/BRK 0: success check-back 11" in out
        assert bus.get("BRK1").value == 1  # open
        code, out, err = await probe(
            *base, "--tag", f"{DOMAIN}/BRK", "open-close", "crew", "on", "site",
            "--operate", f"{DOMAIN}/BRK", "1", "--sbo", "--format", "json",
        )  # fmt: skip
        assert code == 1, (out, err)  # the operate is refused: the tag blocks it
        controls: list[dict[str, Any]] = json.loads(out)["controls"]
        assert controls[0]["tag"] == {
            "state": "open_and_close_inhibit",
            "reason": "crew on site",
            "armed": False,
        }
        assert controls[1]["outcome"] == "temporarily-unavailable"
        code, out, err = await probe(*base, "--operate", f"{DOMAIN}/SP", "12.5")
        assert code == 0 and bus.get("SP1").value == 12.5, (out, err)


async def test_a_tag_survives_an_abrupt_restart(tmp_path: Path) -> None:
    """Set through a real association, the server task cancelled without closing its state
    store, a new adapter on the same state_dir: the tag, its reason and its owner are
    back before the first association, and the operate is still refused."""
    bus, owner = make_bus()
    s = dev_settings(state_dir=str(tmp_path / "state"))
    first = Tase2ServerAdapter("tase2", s, bus)
    first._close_state = lambda: None  # type: ignore[method-assign]  # as if killed
    async with running(first):
        await server_up(first)
        client = await connect(first)
        await set_tag(client, dom("BRK"), TagValue(TagState.OPEN_AND_CLOSE_INHIBIT, "crew on site"))
        # no conclude, no clean shutdown: the task is cancelled under the association

    second = Tase2ServerAdapter("tase2", s, bus)
    async with running(second):
        await server_up(second)
        assert second.server is not None
        rule = next(d for d in s.tables[0].devices if d.name == "BRK")
        assert second.server.controls.devices.tag_owner(rule) == "BLT_ICC1"
        client = await connect(second)
        tag = await get_tag(client, dom("BRK"))
        assert (tag.state, tag.reason) == (TagState.OPEN_AND_CLOSE_INHIBIT, "crew on site")
        with pytest.raises(DeviceError) as err:
            await operate_device(client, dom("BRK"), DeviceKind.COMMAND, 1, sbo=True)
        assert "temporarily-unavailable" in str(err.value)
        assert owner.commands == []  # never reached the breaker
        await set_tag(client, dom("BRK"), TagValue(TagState.NONE, ""))  # the owner clears it
        await client.conclude()

    third = Tase2ServerAdapter("tase2", s, bus)
    async with running(third):
        await server_up(third)
        client = await connect(third)
        assert (await get_tag(client, dom("BRK"))).state is TagState.NONE
        assert await operate_device(client, dom("BRK"), DeviceKind.COMMAND, 1, sbo=True) == 11
        assert owner.commands == [("BRK1", 2)]
        await client.conclude()


async def test_device_objects_are_readable_but_refused_as_data_set_members(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_server(dev_settings()) as adapter:
        client = await connect(adapter)
        assert isinstance((await client.read(dom("SP")))[0], Float32)  # readable (read-back)
        for item in ("SP", "BRK_TAG", "BRK_SBO"):
            with pytest.raises(MmsServiceError) as exc:
                await client.define_named_variable_list(dom("DS"), [dom("GEN1"), dom(item)])
            assert exc.value.error.error_class == ErrorClass.ACCESS
            assert exc.value.error.code == AccessCode.OBJECT_ACCESS_UNSUPPORTED
            assert f"member ICC1/{item} is a device object" in caplog.text
        assert "device objects are Block 5 control objects and cannot be data-set members" in (
            caplog.text
        )
        assert (
            await client.get_name_list(ObjectClass.NAMED_VARIABLE_LIST, Scope.DOMAIN, DOMAIN) == []
        )
        assert (await client.read(dom("BRK_SBO")))[0] == Integer(11)  # not selected by the define
        await client.conclude()


async def test_an_unusable_state_dir_stops_the_start_with_its_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    adapter = Tase2ServerAdapter(
        "tase2", dev_settings(state_dir=str(blocker / "state")), make_bus()[0]
    )
    with pytest.raises(LocalError, match=f"tase2: state_dir: state directory {blocker}/state"):
        await adapter.run()
    assert adapter.server is None


async def test_a_saved_tag_that_cannot_be_understood_blocks_the_device(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with StateStore(tmp_path) as store:
        store.put("tase2-server/tase2/tags", "BRK1", {"state": 9, "reason": "?"})
    async with running_server(dev_settings(state_dir=str(tmp_path))) as adapter:
        client = await connect(adapter)
        assert (await get_tag(client, dom("BRK"))).state is TagState.INVALID
        assert (await client.read(dom("BRK_SBO")))[0] is DataAccessError.TEMPORARILY_UNAVAILABLE
        assert "saved tag of device point BRK1" in caplog.text
        await set_tag(client, dom("BRK"), TagValue(TagState.NONE, ""))  # an operator resets it
        assert (await client.read(dom("BRK_SBO")))[0] == Integer(11)
        await client.conclude()
