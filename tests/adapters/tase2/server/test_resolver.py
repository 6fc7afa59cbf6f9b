"""One resolution of names for Read, Write and GetVariableAccessAttributes."""

from __future__ import annotations

import pytest

from adapters.tase2.mms.names import ObjectName
from adapters.tase2.server.bilateral import BilateralTableConfig, TableView, compile_table
from adapters.tase2.server.resolver import ObjectKind, resolve
from gateway.points import PointKind

K = ObjectKind
TS = ObjectName.dom("ICC1", "DSTransferSet01")


class Engine:
    """The one thing the resolver asks of the transfer engine."""

    def get(self, name: ObjectName) -> object | None:
        return object() if name == TS else None


def view(messages: bool = True) -> TableView:
    config = BilateralTableConfig.model_validate(
        {
            "id": "BLT_1",
            "domain": "ICC1",
            "peer": {"ap_title": "1.1.1.999"},
            "points": [{"match": "P1"}],
            "devices": [{"name": "BRK1", "point": "P1", "operate": True}],
            "messages": messages,
        }
    )
    return compile_table(config, {"P1": PointKind.STATE})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (ObjectName.vmd("TASE2_Version"), K.TASE2_VERSION),
        (ObjectName.vmd("Supported_Features"), K.SUPPORTED_FEATURES),
        (ObjectName.aa("IM_Transfer_Set"), K.IM_TRANSFER_SET),
        (ObjectName.dom("ICC1", "Bilateral_Table_ID"), K.BILATERAL_TABLE_ID),
        (ObjectName.dom("ICC1", "Next_DSTransfer_Set"), K.NEXT_TRANSFER_SET),
        (ObjectName.dom("ICC1", "DSConditions_Detected"), K.REPORT_ONLY),
        (ObjectName.dom("ICC1", "Info_Mess_Header"), K.MESSAGE_HEADER),
        (ObjectName.dom("ICC1", "Info_Buff_1024"), K.MESSAGE_BUFFER),
        (TS, K.TRANSFER_SET),
        (ObjectName.dom("ICC1", "BRK1"), K.DEVICE),
        (ObjectName.dom("ICC1", "P1"), K.POINT),
        (ObjectName.dom("ICC2", "Bilateral_Table_ID"), K.POINT),  # another peer's domain
        (ObjectName.vmd("Bilateral_Table_ID"), K.POINT),
    ],
)
def test_each_name_resolves_to_one_kind(name: ObjectName, kind: ObjectKind) -> None:
    assert resolve(view(), Engine(), name).kind is kind


def test_the_flattened_component_name_designates_the_transfer_set() -> None:
    found = resolve(view(), Engine(), ObjectName.dom("ICC1", "DSTransferSet01$Status"))
    assert (found.kind, found.name, found.component) == (K.TRANSFER_SET, TS, "Status")
    unknown = resolve(view(), Engine(), ObjectName.dom("ICC1", "DSTransferSet09$Status"))
    assert unknown.kind is K.POINT


def test_message_objects_exist_only_where_the_table_allows_messages() -> None:
    header = ObjectName.dom("ICC1", "Info_Mess_Header")
    assert resolve(view(messages=False), Engine(), header).kind is K.POINT


def test_a_device_carries_its_object() -> None:
    found = resolve(view(), Engine(), ObjectName.dom("ICC1", "BRK1"))
    assert found.device is not None and found.device.rule.point == "P1"
