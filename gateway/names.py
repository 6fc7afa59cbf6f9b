"""The rules for object names: MMS identifiers, and the stricter ICCP object ids.

The core knows no protocol, but a point id is what TASE.2 peers see as an object name,
so the character rules live here and the TASE.2 adapter builds on them:

* an **MMS identifier** (ISO 9506-2 Identifier, a VisibleString of 1 to 32 characters from
  ``A-Z a-z 0-9 _ $``, not starting with a digit) names every MMS object: domains,
  variables, data sets, transfer sets;
* an **ICCP object id** is an MMS identifier that starts with a letter: NERC's ICCP naming
  standard as the ISN data point definition file states it for ICCPObjectID ("the first
  character ... must start with an Alpha character", at most 32 characters), and the
  gateway's bus point ids, which are served under that name.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "ICCP_OBJECT_ID",
    "MAX_IDENTIFIER_LENGTH",
    "MMS_IDENTIFIER",
    "is_iccp_object_id",
    "is_mms_identifier",
]

MAX_IDENTIFIER_LENGTH: Final = 32
"""The longest MMS identifier (and ICCP object id) peers accept."""

_CHARACTERS: Final = "A-Za-z0-9_$"
"""The characters of an MMS identifier (as a regex character-class body)."""

MMS_IDENTIFIER: Final = re.compile(rf"[A-Za-z_$][{_CHARACTERS}]*")
"""An MMS identifier's characters, at any length: no digit first."""

ICCP_OBJECT_ID: Final = re.compile(rf"[A-Za-z][{_CHARACTERS}]*")
"""An ICCP object id's characters, at any length: the MMS set with a letter first."""


def is_mms_identifier(name: str, max_length: int = MAX_IDENTIFIER_LENGTH) -> bool:
    """True for a legal MMS identifier of at most ``max_length`` characters."""
    return len(name) <= max_length and MMS_IDENTIFIER.fullmatch(name) is not None


def is_iccp_object_id(name: str, max_length: int = MAX_IDENTIFIER_LENGTH) -> bool:
    """True for an ICCP object id (a bus point id, an ISN ICCPObjectID) of at most
    ``max_length`` characters: an MMS identifier that starts with a letter."""
    return len(name) <= max_length and ICCP_OBJECT_ID.fullmatch(name) is not None
