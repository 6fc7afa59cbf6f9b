"""Bus values as served DataValues, and written Variants as bus values."""

import copy

import pytest
from asyncua import ua

from adapters.opcua import status
from adapters.opcua.server.values import (
    WriteRefused,
    datavalue_of,
    value_of_write,
    variant_type,
)
from gateway.points import GOOD, PointKind, PointValue, Quality, State, Validity

V = ua.VariantType
NOW = ua.DateTime.now()


def test_types_follow_the_kind_and_the_settings():
    assert variant_type(PointKind.REAL, "auto", "int64", "boolean") is V.Double
    assert variant_type(PointKind.DISCRETE, "auto", "int64", "int32") is V.Int64
    assert variant_type(PointKind.DISCRETE, "int32", "int64", "int32") is V.Int32
    assert variant_type(PointKind.STATE, "auto", "int32", "boolean") is V.Boolean
    assert variant_type(PointKind.STATE, "int32", "int32", "boolean") is V.Int32
    assert variant_type(PointKind.DISCRETE, "boolean", "int32", "int32") is V.Int32


def test_a_value_not_valid_is_never_good():
    lost = Quality(Validity.NOT_VALID)
    dv = datavalue_of(PointValue("P", 5.0, lost, 10.5, 0), V.Double, NOW)
    assert dv.StatusCode.value == status.BAD_NO_COMMUNICATION
    assert dv.SourceTimestamp.timestamp() == 10.5
    between = datavalue_of(PointValue("B", State.BETWEEN, GOOD, 1.0, 0), V.Boolean, NOW)
    assert between.StatusCode.value == status.UNCERTAIN


def test_a_served_value_is_shared_not_copied():
    """asyncua deep-copies each value per monitored item: the served one is immutable."""
    dv = datavalue_of(PointValue("P", 5.0, GOOD, 1.0, 0), V.Double, NOW)
    assert copy.deepcopy(dv) is dv


@pytest.mark.parametrize(
    ("value", "vtype", "kind", "expected"),
    [
        (1.5, V.Double, PointKind.REAL, 1.5),
        (3, V.Double, PointKind.REAL, 3.0),
        (7.0, V.Int32, PointKind.DISCRETE, 7),
        (True, V.Boolean, PointKind.STATE, State.ON),
        (1, V.Int32, PointKind.STATE, State.OFF),
    ],
)
def test_written_values(value, vtype, kind, expected):
    assert value_of_write(ua.Variant(value), kind, vtype) == expected


@pytest.mark.parametrize(
    ("value", "vtype", "kind", "code"),
    [
        ("x", V.Double, PointKind.REAL, status.BAD_TYPE_MISMATCH),
        (1.5, V.Int32, PointKind.DISCRETE, status.BAD_TYPE_MISMATCH),
        (True, V.Int32, PointKind.STATE, status.BAD_TYPE_MISMATCH),
        (9, V.Int32, PointKind.STATE, status.BAD_OUT_OF_RANGE),
        (float("nan"), V.Double, PointKind.REAL, status.BAD_TYPE_MISMATCH),
        (None, V.Double, PointKind.REAL, status.BAD_TYPE_MISMATCH),
    ],
)
def test_refused_writes(value, vtype, kind, code):
    with pytest.raises(WriteRefused) as refused:
        value_of_write(ua.Variant(value), kind, vtype)
    assert refused.value.code == code
