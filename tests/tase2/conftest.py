"""TASE.2 tests: make the shared peer helpers in ``tests/tase2/peers`` importable.

pytest runs with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; the helpers (test model, libiec61850 peer runner, tshark capture) live there.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PEERS = str(Path(__file__).parent / "peers")
if _PEERS not in sys.path:
    sys.path.insert(0, _PEERS)
