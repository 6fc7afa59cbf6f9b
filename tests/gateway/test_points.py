"""The point model: TASE.2 quality octets and point definitions."""

import itertools

import pytest
from pydantic import ValidationError

from gateway.points import (
    GOOD,
    PointDef,
    PointKind,
    Quality,
    Source,
    State,
    Validity,
    decode_state,
    encode_state,
)

# Wire masks from tase2-reference.md section 6.4.
VALIDITY_MASK = {
    Validity.VALID: 0x00,
    Validity.HELD: 0x10,
    Validity.SUSPECT: 0x20,
    Validity.NOT_VALID: 0x30,
}
SOURCE_MASK = {
    Source.TELEMETERED: 0x00,
    Source.CALCULATED: 0x04,
    Source.ENTERED: 0x08,
    Source.ESTIMATED: 0x0C,
}
STATE_MASK = {State.BETWEEN: 0x00, State.OFF: 0x40, State.ON: 0x80, State.INVALID: 0xC0}

ALL_QUALITIES = list(itertools.product(Validity, Source, [False, True], [False, True]))


@pytest.mark.parametrize(("validity", "source", "abnormal", "ts_invalid"), ALL_QUALITIES)
def test_data_flags_octet_for_every_quality(validity, source, abnormal, ts_invalid):
    quality = Quality(validity, source, abnormal, ts_invalid)
    expected = (
        VALIDITY_MASK[validity]
        | SOURCE_MASK[source]
        | (0x02 if abnormal else 0)
        | (0x01 if ts_invalid else 0)
    )
    assert quality.to_flags() == expected
    back = Quality.from_flags(expected)
    assert (back.validity, back.source, back.abnormal, back.timestamp_invalid) == (
        validity,
        source,
        abnormal,
        ts_invalid,
    )
    assert back is quality  # interned


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize(("validity", "source", "abnormal", "ts_invalid"), ALL_QUALITIES)
def test_data_state_octet_for_every_state_and_quality(
    state, validity, source, abnormal, ts_invalid
):
    quality = Quality(validity, source, abnormal, ts_invalid)
    octet = encode_state(state, quality)
    assert octet == STATE_MASK[state] | quality.to_flags()
    assert decode_state(octet) == (state, quality)


def test_reference_examples():
    assert encode_state(State.ON, GOOD) == 0x80
    assert encode_state(State.OFF, Quality(Validity.NOT_VALID)) == 0x70
    assert Quality(Validity.HELD, Source.ESTIMATED).to_flags() == 0x1C
    # Data_Flags ignores the state bits on input.
    assert Quality.from_flags(0xE2) == Quality(Validity.SUSPECT, abnormal=True)


def test_quality_replace_and_views():
    q = GOOD.replace(validity=Validity.SUSPECT, source=Source.CALCULATED)
    assert q.validity is Validity.SUSPECT and q.source is Source.CALCULATED
    assert not q.is_good and GOOD.is_good
    assert q.to_dict() == {
        "validity": "suspect",
        "source": "calculated",
        "normal": True,
        "timestamp_valid": True,
    }
    assert "SUSPECT" in repr(q)
    with pytest.raises(ValueError, match="out of range"):
        Quality.from_flags(256)


@pytest.mark.parametrize("name", ["A", "CP_1067", "x$y_Z9", "A" * 32])
def test_valid_point_ids(name):
    assert PointDef(id=name).id == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "start with a letter"),
        ("1ABC", "start with a letter"),
        ("_A", "start with a letter"),
        ("A-B", "only A-Z"),
        ("A B", "only A-Z"),
        ("A" * 33, "longer than 32"),
    ],
)
def test_invalid_point_ids(name, reason):
    with pytest.raises(ValidationError, match=reason):
        PointDef(id=name)


def test_point_def_defaults_and_limits():
    p = PointDef(id="P", kind="state", units="Op/Cl", target_freshness=6)
    assert p.kind is PointKind.STATE and p.usage_multiplier == 1.0 and p.deadband == 0
    with pytest.raises(ValidationError):
        PointDef(id="P", deadband=-1)
    with pytest.raises(ValidationError):
        PointDef(id="P", target_freshness=0)
    with pytest.raises(ValidationError, match="Extra inputs"):
        PointDef(id="P", colour="red")
