"""StatusCodes <-> quality and command outcomes, checked against asyncua's own code table."""

import pytest
from asyncua import ua

from adapters.opcua import status
from gateway.bus import CommandFailure
from gateway.points import Quality, Source, Validity

S = ua.StatusCodes


def test_the_constants_are_the_standards_codes():
    for name in (
        "GoodLocalOverride",
        "UncertainLastUsableValue",
        "UncertainSubstituteValue",
        "BadNoCommunication",
        "BadUserAccessDenied",
        "BadNotWritable",
        "BadTypeMismatch",
        "BadOutOfRange",
        "BadNodeIdUnknown",
        "BadTimeout",
        "BadTooManyOperations",
        "BadInvalidState",
        "BadDeviceFailure",
    ):
        constant = "_".join(part.upper() for part in _words(name))
        assert getattr(status, constant) == getattr(S, name), name


def _words(name):
    word = ""
    for char in name:
        if char.isupper() and word:
            yield word
            word = ""
        word += char
    yield word


@pytest.mark.parametrize(
    ("code", "validity", "source"),
    [
        (S.Good, Validity.VALID, Source.TELEMETERED),
        (S.GoodLocalOverride, Validity.VALID, Source.ENTERED),
        (S.Uncertain, Validity.SUSPECT, Source.TELEMETERED),
        (S.UncertainSensorNotAccurate, Validity.SUSPECT, Source.TELEMETERED),
        (S.UncertainLastUsableValue, Validity.HELD, Source.TELEMETERED),
        (S.UncertainSubstituteValue, Validity.SUSPECT, Source.ENTERED),
        (S.BadCommunicationError, Validity.NOT_VALID, Source.TELEMETERED),
        (S.BadSensorFailure, Validity.NOT_VALID, Source.TELEMETERED),
        (S.BadWaitingForInitialData, Validity.NOT_VALID, Source.TELEMETERED),
        (S.Good | 0x0400 | 0x0100, Validity.VALID, Source.TELEMETERED),  # info bits ignored
        (0xC0000000, Validity.NOT_VALID, Source.TELEMETERED),  # reserved severity: bad
    ],
)
def test_status_codes_to_quality(code, validity, source):
    quality = status.quality_of(code)
    assert (quality.validity, quality.source) == (validity, source)


@pytest.mark.parametrize("validity", list(Validity))
def test_a_served_quality_reads_back_the_same_validity(validity):
    assert status.quality_of(status.status_of(Quality(validity))).validity is validity
    entered = Quality(source=Source.ENTERED)
    assert status.quality_of(status.status_of(entered)).source is Source.ENTERED


def test_write_results_and_command_outcomes_map_both_ways():
    assert status.failure_of(S.Good) is None
    assert status.failure_of(S.BadUserAccessDenied) is CommandFailure.NOT_PERMITTED
    assert status.failure_of(S.BadTypeMismatch) is CommandFailure.INVALID_VALUE
    assert status.failure_of(S.BadInternalError) is CommandFailure.DEVICE_FAILURE
    assert status.failure_of(S.UncertainInitialValue) is CommandFailure.DEVICE_FAILURE
    for failure in CommandFailure:
        assert status.failure_of(status.code_of(failure)) is failure
    assert status.code_of(None) == S.Good
