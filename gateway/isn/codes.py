"""Code tables of the NERC ISN data point definition file format, version 2.3.

Everything here is transcribed from the format description (Tables 1 to 5, the field legend
and the ChangeCode list); `gateway.isn` reads, checks and writes files with these tables.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

CURRENT_VERSION: Final = "2.3"
OLDER_VERSIONS: Final = frozenset({"2.0", "2.1", "2.2"})

HEADER_1: Final = ("ISNVersNum", "UpDate", "ReqDate", "Reqstr")
HEADER_2: Final = (
    "SiteID",
    "Source",
    "AccumPer",
    "DataType",
    "Units",
    "DevType",
    "DevName",
    "Location",
    "BasekV",
    "CommDate",
    "DecommDate",
    "ChangeCode",
    "PtReq",
    "ICCPObjectID",
    "HostID",
    "TargFresh",
    "UsageMultiplier",
    "UsageAdder",
)

# Table 1 - Source
SOURCES: Final = MappingProxyType(
    {
        "T": "Telemetered",
        "A": "Application derived",
        "C": "Calculated",
        "S": "Schedule",
        "M": "Manual",
        "P": "Pseudomeasurement",
    }
)
# Sources whose TargFresh "would be 0S" (TargFresh legend).
NO_FRESHNESS_SOURCES: Final = frozenset({"S", "M", "P"})

# Tables 2 and 6 - AccumPer and TargFresh: an integer followed by a unit code.
PERIOD_UNIT_SECONDS: Final = MappingProxyType({"S": 1, "M": 60, "H": 3600, "D": 86400})
PERIOD_PATTERN: Final = re.compile(r"([0-9]+)([SMHD])")

# Table 3 - DataType. The status types are those the Units legend calls "Status values".
ANALOG_DATA_TYPES: Final = MappingProxyType(
    {
        "Flow": "Flow",
        "Lmt": "Limit",
        "Load": "Load",
        "Gen": "Generation",
        "Int": "Interchange",
        "Res": "Reserves",
        "Dmd": "Demand",
        "ACE": "ACE",
        "V": "Voltage",
        "Ang": "Angle (Voltage)",
        "Tap": "Tap",
        "Freq": "Frequency",
        "Temp": "Temperature",
        "RespF": "Response Factor",
        "TimeErr": "Time Error",
    }
)
STATUS_DATA_TYPES: Final = MappingProxyType(
    {"State": "State", "Bool": "Boolean", "Truth": "Truth", "Confirm": "Confirm"}
)
DATA_TYPES: Final = MappingProxyType({**ANALOG_DATA_TYPES, **STATUS_DATA_TYPES})
# Units are "required for Analog and State values but optional for other Status values".
UNITS_REQUIRED_DATA_TYPES: Final = frozenset({*ANALOG_DATA_TYPES, "State"})

# Table 4 - Units: code -> (name, the DataTypes it is valid for).
UNITS: Final = MappingProxyType(
    {
        "MW": ("MegaWatts", frozenset({"Flow", "Lmt", "Load", "Gen", "Int", "Res", "Dmd", "ACE"})),
        "Mvar": ("MegaVars", frozenset({"Flow", "Lmt", "Load", "Gen", "Int", "Res", "Dmd"})),
        "kW": ("KiloWatts", frozenset({"Flow", "Lmt", "Load", "Gen"})),
        "kvar": ("KiloVars", frozenset({"Flow", "Lmt", "Load", "Gen"})),
        "MVA": ("MegaVoltAmps", frozenset({"Flow", "Lmt", "Load"})),
        "kVA": ("KiloVoltAmps", frozenset({"Flow", "Lmt", "Load"})),
        "A": ("Amperes", frozenset({"Flow", "Lmt", "Load"})),
        "kV": ("KiloVolts", frozenset({"Lmt", "V"})),
        "pu": ("Per Unit", frozenset({"Flow", "V"})),
        "Pct": ("Percent", frozenset({"Flow", "V"})),
        "deg": ("Degrees", frozenset({"Ang", "Tap"})),
        "rad": ("Radians", frozenset({"Ang", "Tap"})),
        "Ratio": ("Ratio", frozenset({"Tap"})),
        "Pos": ("Position", frozenset({"Tap"})),
        "Hz": ("Hertz", frozenset({"Freq"})),
        "degC": ("DegreesCelsius", frozenset({"Temp"})),
        "degF": ("DegreesFarenheit", frozenset({"Temp"})),
        "Op/Cl": ("Open/Close", frozenset({"State"})),
        "En/De": ("Energized/DeEnergized", frozenset({"State"})),
        "On/Off": ("On/Off", frozenset({"State"})),
        "0/1": ("0/1", frozenset({"Bool"})),
        "T/F": ("True/False", frozenset({"Truth"})),
        "Y/N": ("Yes/No", frozenset({"Confirm"})),
        "None": ("Unitless", frozenset({"RespF"})),
        "Sec": ("Seconds", frozenset({"TimeErr"})),
    }
)


def _units_by_data_type() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {code: [] for code in DATA_TYPES}
    for unit, (_, data_types) in UNITS.items():
        for data_type in data_types:
            table[data_type].append(unit)
    return {code: tuple(units) for code, units in table.items()}


UNITS_BY_DATA_TYPE: Final = MappingProxyType(_units_by_data_type())
# (DataType, Units) pairs Table 4 allows; one set lookup checks a record.
VALID_DATA_TYPE_UNITS: Final = frozenset(
    (data_type, unit) for unit, (_, data_types) in UNITS.items() for data_type in data_types
)

# Table 5 - DevType
DEV_TYPES: Final = MappingProxyType(
    {
        "FG": "Flowgate",
        "BS": "Bus Section",
        "LN": "Line",
        "TR": "Transformer",
        "GN": "Generator",
        "LD": "Load",
        "SW": "Switching Device",
        "DC": "DC Line",
        "MA": "Machine",
        "SH": "Shunt",
        "CR": "Corridor",
        "SY": "System",
        "MI": "Miscellaneous",
    }
)
# Location "is required if DevType is associated with a specific location". Our reading: the
# equipment that sits in one station. Lines, DC lines, flowgates and corridors span stations,
# and systems and miscellaneous values have none (the spec's own sample omits Location for
# LN, SY and MI records).
LOCATION_DEV_TYPES: Final = frozenset({"BS", "TR", "GN", "LD", "SW", "MA", "SH"})
# Table 5 says MI is "for Res, Dmd, ACE, TimeErr & Int".
MISC_DATA_TYPES: Final = frozenset({"Res", "Dmd", "ACE", "TimeErr", "Int"})

CHANGE_CODES: Final = MappingProxyType(
    {
        "": "data did not change",
        "ADD": "new record, or the new ICCPObjectID of a REP record",
        "CHG": "non-ICCPObjectID change",
        "DEL": "no longer valid, no replacement",
        "REP": "ICCPObjectID replaced by an ADD record",
    }
)
DECOMM_REQUIRED_CHANGE_CODES: Final = frozenset({"DEL", "REP"})

PT_REQ_CODES: Final = MappingProxyType(
    {"": "no request", "R": "requested by the requester", "X": "pending on the provider's node"}
)

# ICCPObjectID: MMS object name rules as NERC states them, in gateway.names.
# Registered Site IDs "can be up to four characters".
SITE_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9]{1,4}")
# The REP record's HostID: ADD(<ICCPObjectID of the ADD record>).
REP_HOST_ID_PATTERN: Final = re.compile(r"ADD\((.*)\)")

# MM/DD/YYYY exactly, and the forms people also write (1 or 2 digit month and day).
STRICT_DATE_PATTERN: Final = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
LOOSE_DATE_PATTERN: Final = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
NUMBER_PATTERN: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

MONTH_ABBREVIATIONS: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
