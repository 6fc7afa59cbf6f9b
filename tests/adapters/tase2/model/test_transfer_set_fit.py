"""A DSTransferSet written the way the server's own object is shaped, and transfer sets
named however a server's ``Next_DSTransfer_Set`` names them."""

from __future__ import annotations

import pytest

from adapters.tase2.mms.data import (
    BinaryTime,
    BitString,
    Boolean,
    DataAccessError,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.types import (
    BinaryTimeType,
    BitStringType,
    BooleanType,
    IntegerType,
    StructureComponent,
    StructureType,
    VisibleStringType,
)
from adapters.tase2.model.objects import (
    DSConditions,
    DSTransferSetError,
    encode_mms_object_name,
    transfer_set_reference,
)
from adapters.tase2.model.transfer_set import (
    DS_TRANSFER_SET_2000_TYPE,
    DSTransferSetModel,
    DSTransferSetValue,
    fit_transfer_set,
    parse_ds_transfer_set,
)

DS = ObjectName.dom("ICC1", "FAST_01_AB123")
VALUE = DSTransferSetValue(
    DS, interval=5, conditions=DSConditions.INTERVAL_TIMEOUT, critical=True, status=True
)


def test_the_standard_shapes_are_written_as_they_are_read() -> None:
    for model in DSTransferSetModel:
        shown = DSTransferSetValue().to_data(model)
        parts = fit_transfer_set(VALUE, None, shown)
        assert len(parts) == model.value
        parsed, parsed_model = parse_ds_transfer_set(Structure(tuple(d for _, d in parts)))
        assert parsed_model is model and parsed.data_set == DS and parsed.interval == 5
    # nothing read back: the 2000 model
    assert len(fit_transfer_set(VALUE, None, DataAccessError.OBJECT_ACCESS_DENIED)) == 13


def test_a_declared_string_data_set_name_gets_the_bare_item() -> None:
    spec = StructureType(
        (
            StructureComponent("DataSetName", VisibleStringType(-32)),
            *DS_TRANSFER_SET_2000_TYPE.components[1:],
        )
    )
    parts = dict(fit_transfer_set(VALUE, spec, None))
    assert parts["DataSetName"] == VisibleString("FAST_01_AB123")
    assert parts["Status"] == Boolean(True)


def test_declared_order_widths_and_unknown_components_are_followed() -> None:
    """A server with its own order, unsigned intervals, an 8-bit condition string and a
    component we do not know (kept as the server showed it)."""
    spec = StructureType(
        (
            StructureComponent("Status", BooleanType()),
            StructureComponent("interval", IntegerType(16)),
            StructureComponent("DSConditionsRequested", BitStringType(8)),
            StructureComponent("Vendor_Extra", IntegerType(8)),
            StructureComponent("DataSetName", StructureType(())),
        )
    )
    shown = Structure(
        (Boolean(False), Unsigned(0), BitString(8, b"\x00"), Integer(7), Structure(()))
    )
    parts = fit_transfer_set(VALUE, spec, shown)
    assert [n for n, _ in parts] == [
        "Status",
        "interval",
        "DSConditionsRequested",
        "Vendor_Extra",
        "DataSetName",
    ]
    values = dict(parts)
    assert values["interval"] == Integer(5)
    assert values["DSConditionsRequested"] == BitString(8, b"\x80")
    assert values["Vendor_Extra"] == Integer(7)
    assert values["DataSetName"] == encode_mms_object_name(DS)


def test_without_a_type_the_shown_value_decides_the_forms() -> None:
    shown = DSTransferSetValue().to_data()
    items = list(shown.items)
    items[0] = VisibleString("")
    items[2] = Unsigned(0)
    parts = dict(fit_transfer_set(VALUE, None, Structure(tuple(items))))
    assert parts["DataSetName"] == VisibleString("FAST_01_AB123")
    assert parts["Interval"] == Unsigned(5)


def test_an_unknown_component_with_nothing_to_keep_is_an_error() -> None:
    spec = StructureType((StructureComponent("Mystery", IntegerType(8)),))
    with pytest.raises(DSTransferSetError, match="Mystery"):
        fit_transfer_set(VALUE, spec, None)


# --------------------------------------------------------------------------- Next_DSTransfer_Set


def test_the_standard_reference() -> None:
    ts = ObjectName.dom("ICC1", "DSTS_3")
    assert transfer_set_reference(encode_mms_object_name(ts), "ICC1") == ts


def test_a_bare_string_names_an_item_of_the_domain_or_a_whole_name() -> None:
    assert transfer_set_reference(VisibleString("DSTS_2"), "ICC1") == ObjectName.dom(
        "ICC1", "DSTS_2"
    )
    assert transfer_set_reference(VisibleString("ICC9/DSTS_2"), "ICC1") == ObjectName.dom(
        "ICC9", "DSTS_2"
    )
    assert transfer_set_reference(VisibleString(""), "ICC1") is None


def test_a_structure_of_other_components_is_read_by_their_names() -> None:
    """FreeTASE2-like: struct{Available: int16, Max: int16, Name: vstring}."""
    spec = StructureType(
        (
            StructureComponent("Available", IntegerType(16)),
            StructureComponent("Max", IntegerType(16)),
            StructureComponent("Name", VisibleStringType(-32)),
        )
    )
    value = Structure((Integer(3), Integer(4), VisibleString("DSTS_1")))
    expected = ObjectName.dom("ICC1", "DSTS_1")
    assert transfer_set_reference(value, "ICC1", spec) == expected
    assert transfer_set_reference(value, "ICC1") == expected  # its only string, unnamed


def test_what_names_no_transfer_set_says_so() -> None:
    with pytest.raises(DSTransferSetError, match="no transfer set name"):
        transfer_set_reference(Structure((Integer(1), Integer(2))), "ICC1")
    with pytest.raises(DSTransferSetError, match="not an object name"):
        transfer_set_reference(VisibleString("1bad name"), "ICC1")
    with pytest.raises(DSTransferSetError, match="expected an object name"):
        transfer_set_reference(Integer(4), "ICC1")


def test_a_freetase2_like_transfer_set_gets_its_own_types() -> None:
    """DataSetName a string, StartTime a binary time, Status an Integer8 and the conditions
    an integer mask, in the server's order."""
    spec = StructureType(
        (
            StructureComponent("DataSetName", VisibleStringType(129)),
            StructureComponent("StartTime", BinaryTimeType(with_date=True)),
            StructureComponent("Interval", IntegerType(32)),
            StructureComponent("Status", IntegerType(8)),
            StructureComponent("DSConditionsRequested", IntegerType(16)),
        )
    )
    parts = dict(fit_transfer_set(VALUE, spec, None))
    assert parts == {
        "DataSetName": VisibleString("FAST_01_AB123"),
        "StartTime": BinaryTime(0, 0),
        "Interval": Integer(5),
        "Status": Integer(1),
        "DSConditionsRequested": Integer(int(DSConditions.INTERVAL_TIMEOUT)),
    }
