"""Starting a transfer set step by step, as the client adapter and the probe both do."""

from __future__ import annotations

import pytest

from adapters.tase2.client.session import (
    SetupError,
    define_data_set,
    reserve_transfer_set,
    write_transfer_set,
)
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.model.points import PointType
from adapters.tase2.model.transfer_set import DSTransferSetValue
from tests.support.tase2.server import DOMAIN, connect, running_server, settings, type_point

pytestmark = pytest.mark.timeout(60)

DS = ObjectName.dom(DOMAIN, "SESSION_DS")
MEMBERS = [
    ObjectName.dom(DOMAIN, "Transfer_Set_Name"),
    ObjectName.dom(DOMAIN, type_point(PointType.DATA_REALQ)),
]


async def test_a_transfer_set_starts_stops_and_its_data_set_can_be_redefined() -> None:
    limits = settings(limits={"transfer_sets": 1})
    async with running_server(limits) as adapter, await connect(adapter) as client:
        await define_data_set(client, DS, MEMBERS)
        await define_data_set(client, DS, MEMBERS)  # a left-over set is replaced
        reserved = await reserve_transfer_set(client, DOMAIN)
        assert reserved.name == ObjectName.dom(DOMAIN, "DSTransferSet01")
        await write_transfer_set(client, reserved, DSTransferSetValue(DS, status=True))
        server = adapter.server
        assert server is not None and server.status()["transfer_sets_running"] == 1
        with pytest.raises(SetupError, match="no transfer set available") as info:
            await reserve_transfer_set(client, DOMAIN)
        assert info.value.error is not None
        await write_transfer_set(client, reserved, DSTransferSetValue(DS, status=False))
        assert server.status()["transfer_sets_running"] == 0


async def test_a_refused_start_names_the_transfer_set_and_the_error() -> None:
    async with running_server() as adapter, await connect(adapter) as client:
        reserved = await reserve_transfer_set(client, DOMAIN)
        missing = DSTransferSetValue(ObjectName.dom(DOMAIN, "NO_SUCH_DS"), status=True)
        with pytest.raises(SetupError, match=f"{reserved.name} refused to start") as info:
            await write_transfer_set(client, reserved, missing)
        assert isinstance(info.value.error, DataAccessError)
