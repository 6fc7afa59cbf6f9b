"""MMS codec tests: make the shared hypothesis strategies module importable.

pytest may run with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; the strategies live next to the tests as ``mms_strategies.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
