"""Settings for every test. The shared helpers are the package ``tests.support``."""

from __future__ import annotations

from hypothesis import settings

# These machines are shared and noisy: a per-example deadline only makes property tests
# flaky. Speed is measured by `make bench`, never asserted in tests.
settings.register_profile("gateway", deadline=None)
settings.load_profile("gateway")
