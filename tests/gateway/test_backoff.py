"""The back-off settings every reconnecting adapter shares."""

import pytest
from pydantic import ValidationError

from gateway.backoff import BackoffSettings


def test_backoff_settings_have_defaults_and_refuse_a_maximum_below_the_first_delay() -> None:
    settings = BackoffSettings()
    assert (settings.backoff_initial, settings.backoff_max) == (0.5, 30.0)
    assert BackoffSettings(backoff_initial=2, backoff_max=2).backoff_max == 2
    with pytest.raises(ValidationError, match="backoff_max must not be below backoff_initial"):
        BackoffSettings(backoff_initial=5, backoff_max=1)
    with pytest.raises(ValidationError, match="greater than 0"):
        BackoffSettings(backoff_initial=0)
