"""Checking ISN files: every rule of the format description, as `Finding`s.

`validate_isn` checks a read `IsnFile` record by record and then across records (ICCPObjectID
uniqueness in time, REP -> ADD links); each finding names the line, the field and what a
utility engineer should fix. `Validator` is the same check for a caller that streams the
records (`gateway.isn.stream`): it keeps no record, only a bit for each ICCPObjectID, and
a second pass over the records gathers the few fields of the records that the rules across
records need (IDs seen twice, REP records and their targets).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from operator import attrgetter
from typing import Final

from gateway.isn import codes
from gateway.isn.model import (
    _BLANKS,
    Finding,
    FindingSink,
    IsnFile,
    IsnHeader,
    IsnRecord,
    Severity,
    _check_date_text,
    _lenient_date,
    parse_period,
)
from gateway.names import ICCP_OBJECT_ID, MAX_IDENTIFIER_LENGTH

# The fields whose checks do not depend on the record's own identity (see check_record).
_signature_fields = attrgetter(
    "site_id",
    "source",
    "accum_per",
    "data_type",
    "units",
    "dev_type",
    "base_kv",
    "comm_date",
    "decomm_date",
    "change_code",
    "pt_req",
    "targ_fresh",
    "usage_multiplier",
    "usage_adder",
)
_SEPARATOR: Final = "\x1f"  # joins a record's fields for whole-record checks
_NOT_MISC_DATA_TYPES: Final = frozenset(codes.DATA_TYPES) - codes.MISC_DATA_TYPES
# The caches of checked values are dropped when they reach this size: a file of all
# distinct dates or field combinations must not make them grow with the file.
_CACHE_LIMIT: Final = 50_000

# What the rules across records keep of a record with an ICCPObjectID:
# (line, CommDate, DecommDate, ChangeCode); and of a REP record:
# (line, ICCPObjectID, the ICCPObjectID its HostID names, DecommDate).
_Entry = tuple[int, str, str, str]
_Rep = tuple[int, str, str, str]


# -- validation -------------------------------------------------------------------------


def validate_isn(isn: IsnFile) -> list[Finding]:
    """Check every rule of the format on a read file; findings in line order."""
    findings: list[Finding] = []
    validator = Validator(isn.site_id, findings, expected_ids=len(isn.records))
    for record in isn.records:
        validator.check_record(record)
    validator.check_header(isn.header)
    if validator.needs_second_pass:
        for record in isn.records:
            validator.collect(record)
    validator.check_across_records()
    findings.sort(key=lambda f: f.line)
    return findings


def _suggestion(value: str, table: Iterable[str]) -> str:
    """' (did you mean X?)' when value matches a code but for case or blanks."""
    wanted = value.strip(_BLANKS).lower()
    for code in table:
        if code.lower() == wanted:
            return f" (did you mean {code}?)"
    return ""


class Validator:
    """Checks records one by one and then across records; its findings go to a sink.

    Call `check_record` on every record in file order, then `check_header`; if
    `needs_second_pass`, call `collect` on every record again; then `check_across_records`.
    No record is kept: the first pass sets a bit for each ICCPObjectID (`expected_ids` sizes
    the bitmap, two bytes an ID), the second keeps the few fields the rules across records
    need of the records whose ID may be used twice or is named by a REP record.
    """

    __slots__ = (
        "_by_id",
        "_dates",
        "_intern",
        "_passed",
        "_periods",
        "_reps",
        "_seen",
        "_site",
        "_sites_ok",
        "_wanted",
        "findings",
        "has_requests",
    )

    def __init__(self, site: str, findings: FindingSink, expected_ids: int = 0) -> None:
        self.findings = findings
        self.has_requests = False
        self._site = site
        self._sites_ok: set[str] = set()
        self._dates: dict[str, tuple[date | None, Severity | None, str]] = {}
        self._periods: dict[str, bool] = {}
        self._passed: set[tuple[tuple[str, ...], bool, bool, bool]] = set()
        # First pass: a bit set by the hash of each ID seen, and the hashes of the IDs the
        # second pass must gather: those whose bit was set already (used twice, or sharing
        # a bit with another) and those a REP record names. Sharing a bit only makes the
        # second pass gather an ID it need not; the rules themselves compare the IDs.
        size = 1024
        while size < 2 * expected_ids:
            size *= 2
        self._seen = bytearray(size)
        self._wanted: set[int] = set()
        # Second pass: what the rules across records need, strings interned.
        self._by_id: dict[str, list[_Entry]] = {}
        self._reps: list[_Rep] = []
        self._intern: dict[str, str] = {}

    def error(self, line: int, field_name: str, message: str) -> None:
        """Record an error."""
        self.findings.append(Finding(Severity.ERROR, line, field_name, message))

    def warn(self, line: int, field_name: str, message: str) -> None:
        """Record a warning."""
        self.findings.append(Finding(Severity.WARNING, line, field_name, message))

    # header

    def check_header(self, header: IsnHeader) -> None:
        """Header_1 data: version, file date and the request fields when points are requested."""
        line = header.line
        self._check_blanks(line, codes.HEADER_1, header.values())
        self._check_version(line, header.version)
        if not header.update:
            self.error(line, "UpDate", "UpDate (the file date, MM/DD/YYYY) is required")
        else:
            self.date(line, "UpDate", header.update)
        if header.req_date:
            self.date(line, "ReqDate", header.req_date)
        elif self.has_requests:
            message = "ReqDate is required because records request points (PtReq R)"
            self.error(line, "ReqDate", message)
        if header.requester:
            self._check_site_form(line, "Reqstr", header.requester)
        elif self.has_requests:
            message = "Reqstr (the requester's SiteID) is required because records request points"
            self.error(line, "Reqstr", message)

    def _check_version(self, line: int, version: str) -> None:
        if version == codes.CURRENT_VERSION:
            return
        if not version:
            self.error(line, "ISNVersNum", "ISNVersNum (e.g. 2.3) is required")
        elif version in codes.OLDER_VERSIONS:
            message = f"version {version} is older than 2.3; read with the 2.3 rules"
            self.warn(line, "ISNVersNum", message)
        else:
            message = f"unknown ISNVersNum {version!r}; this reader knows 2.3 (and reads 2.0-2.2)"
            self.error(line, "ISNVersNum", message)

    # one record

    def check_record(self, record: IsnRecord) -> None:
        """Every single-record rule.

        The rules on the code-like fields run once per distinct combination of them that
        passed (real files repeat a few combinations many times); the fields unique to a
        record (blanks, ICCPObjectID, REP link) are checked on every record.
        """
        line = record.line
        values = record.values()
        joined = _SEPARATOR.join(values)
        ascii_only = joined.isascii()
        if (
            " \x1f" in joined
            or "\x1f " in joined
            or joined[:1] == " "
            or joined[-1:] == " "
            or "\t" in joined
            or not ascii_only
        ):
            self._check_blanks(line, codes.HEADER_2, values)
        if not ascii_only or "," in joined or '"' in joined or not "".join(values).isprintable():
            self._check_characters(line, values)
        if record.iccp_object_id:
            self._check_object_id(record)
        if record.change_code == "REP":
            self._check_rep(record)
        signature = (
            _signature_fields(record),
            not record.location,
            not record.dev_name,
            not record.iccp_object_id,
        )
        if signature not in self._passed:
            before = len(self.findings)
            self._check_record_fields(record)
            if len(self.findings) == before:
                if len(self._passed) >= _CACHE_LIMIT:
                    self._passed.clear()
                self._passed.add(signature)

    def _check_record_fields(self, record: IsnRecord) -> None:
        self._check_codes(record)
        self._check_units(record)
        self._check_place(record)
        self._check_dates(record)
        self._check_change_code(record)
        self._check_request(record)
        self._check_freshness(record)
        self._check_usage(record)

    def _check_blanks(self, line: int, names: tuple[str, ...], values: Sequence[str]) -> None:
        for name, value in zip(names, values, strict=False):
            if value and (value[0] in _BLANKS or value[-1] in _BLANKS):
                message = f"{value!r} has leading or trailing blanks, which the format forbids"
                self.error(line, name, message)

    def _check_characters(self, line: int, values: Sequence[str]) -> None:
        for name, value in zip(codes.HEADER_2, values, strict=True):
            shown = _shown(value)
            if not value.isascii():
                self.warn(line, name, f"{shown} is not plain ASCII, as the format asks")
            if "\n" in value or "\r" in value:
                message = (
                    f'{shown} runs over several lines: a quote (") opened here is probably '
                    "never closed"
                )
                self.error(line, name, message)
            elif not value.isprintable():
                control = next(c for c in value if not c.isprintable())
                message = (
                    f"{shown} holds the control character 0x{ord(control):02X}; "
                    "the format is plain text"
                )
                self.error(line, name, message)
            elif "," in value or '"' in value:
                message = (
                    f"{shown} holds a comma or quote; it needs CSV quoting, "
                    "which other ISN tools may not read"
                )
                self.warn(line, name, message)

    def _check_codes(self, record: IsnRecord) -> None:
        line = record.line
        site = record.site_id
        if site not in self._sites_ok:
            self._check_site(record)
        if record.source not in codes.SOURCES:
            self._bad_code(line, "Source", record.source, codes.SOURCES, "Table 1")
        self._check_period(line, "AccumPer", record.accum_per, required=True)
        if record.data_type not in codes.DATA_TYPES:
            self._bad_code(line, "DataType", record.data_type, codes.DATA_TYPES, "Table 3")
        if record.dev_type not in codes.DEV_TYPES:
            self._bad_code(line, "DevType", record.dev_type, codes.DEV_TYPES, "Table 5")
        elif record.dev_type == "MI" and record.data_type in _NOT_MISC_DATA_TYPES:
            message = (
                f"DevType MI (miscellaneous) is meant for Res, Dmd, ACE, TimeErr and Int, "
                f"not {record.data_type}"
            )
            self.warn(line, "DevType", message)

    def _check_site(self, record: IsnRecord) -> None:
        line, site = record.line, record.site_id
        if not site:
            self.error(line, "SiteID", "SiteID (the NERC registered site) is required")
            return
        if not self._check_site_form(line, "SiteID", site):
            return
        if site != self._site:
            message = (
                f"SiteID {site} differs from {self._site} of the first record; one site a file"
            )
            self.warn(line, "SiteID", message)
            return
        self._sites_ok.add(site)

    def _check_site_form(self, line: int, field_name: str, site: str) -> bool:
        if codes.SITE_ID_PATTERN.fullmatch(site):
            return True
        message = f"{site!r} is not a NERC Site ID (1 to 4 letters or digits)"
        self.error(line, field_name, message)
        return False

    def _bad_code(
        self, line: int, field_name: str, value: str, table: Iterable[str], where: str
    ) -> None:
        if not value:
            self.error(line, field_name, f"{field_name} is required ({where})")
            return
        valid = ", ".join(table)
        message = f"unknown {field_name} {value!r}{_suggestion(value, table)}; {where}: {valid}"
        self.error(line, field_name, message)

    def _check_period(self, line: int, field_name: str, value: str, required: bool) -> bool:
        known = self._periods.get(value)
        if known is None:
            known = codes.PERIOD_PATTERN.fullmatch(value) is not None
            if len(self._periods) >= _CACHE_LIMIT:
                self._periods.clear()
            self._periods[value] = known
        if known:
            return True
        if not value:
            if required:
                self.error(line, field_name, f"{field_name} is required (e.g. 0S)")
            return False
        message = (
            f"{value!r} is not an integer followed by S, M, H or D "
            f"(e.g. 0S, 6S, 5M, 1H, 1D; Table 2/6)"
        )
        self.error(line, field_name, message)
        return False

    def _check_units(self, record: IsnRecord) -> None:
        data_type, units = record.data_type, record.units
        if (data_type, units) in codes.VALID_DATA_TYPE_UNITS or data_type not in codes.DATA_TYPES:
            return
        valid = ", ".join(codes.UNITS_BY_DATA_TYPE[data_type])
        if not units:
            if data_type in codes.UNITS_REQUIRED_DATA_TYPES:
                message = f"Units are required for DataType {data_type} (Table 4: {valid})"
                self.error(record.line, "Units", message)
        elif units not in codes.UNITS:
            hint = _suggestion(units, codes.UNITS)
            message = f"unknown Units {units!r}{hint}; for DataType {data_type} use {valid}"
            self.error(record.line, "Units", message)
        else:
            message = f"Units {units} are not valid for DataType {data_type} (Table 4: {valid})"
            self.error(record.line, "Units", message)

    def _check_place(self, record: IsnRecord) -> None:
        line = record.line
        if not record.dev_name:
            self.error(line, "DevName", "DevName (the name of the device) is required")
        if record.dev_type in codes.LOCATION_DEV_TYPES:
            kind = codes.DEV_TYPES[record.dev_type]
            if not record.location:
                message = (
                    f"Location (the station) is required for DevType {record.dev_type} ({kind})"
                )
                self.error(line, "Location", message)
            if not record.base_kv:
                message = (
                    f"BasekV is required for DevType {record.dev_type} ({kind}), as Location is"
                )
                self.error(line, "BasekV", message)
        if record.base_kv and codes.NUMBER_PATTERN.fullmatch(record.base_kv) is None:
            message = f"BasekV must be the nominal kV as a number, found {record.base_kv!r}"
            self.error(line, "BasekV", message)

    def date(self, line: int, field_name: str, text: str) -> date | None:
        """Read a date field, reporting its problems; cached by text."""
        checked = self._dates.get(text)
        if checked is None:
            checked = _check_date_text(text)
            if len(self._dates) >= _CACHE_LIMIT:
                self._dates.clear()
            self._dates[text] = checked
        value, severity, message = checked
        if severity is not None:
            self.findings.append(Finding(severity, line, field_name, message))
        return value

    def _check_dates(self, record: IsnRecord) -> None:
        line = record.line
        comm = decomm = None
        if record.comm_date:
            comm = self.date(line, "CommDate", record.comm_date)
        else:
            self.error(line, "CommDate", "CommDate (the effective date, MM/DD/YYYY) is required")
        if record.decomm_date:
            decomm = self.date(line, "DecommDate", record.decomm_date)
        if comm is not None and decomm is not None and decomm <= comm:
            message = (
                f"DecommDate {record.decomm_date} must be after CommDate {record.comm_date}; "
                "the record would never be valid"
            )
            self.error(line, "DecommDate", message)

    def _check_change_code(self, record: IsnRecord) -> None:
        line, code = record.line, record.change_code
        if not code:
            return
        if code not in codes.CHANGE_CODES:
            hint = _suggestion(code, codes.CHANGE_CODES)
            message = f"unknown ChangeCode {code!r}{hint}; use ADD, CHG, DEL, REP or leave it blank"
            self.error(line, "ChangeCode", message)
            return
        if code in codes.DECOMM_REQUIRED_CHANGE_CODES and not record.decomm_date:
            message = f"a {code} record needs a DecommDate: the date the record stops being valid"
            self.error(line, "DecommDate", message)

    def _check_rep(self, record: IsnRecord) -> None:
        line = record.line
        if not record.iccp_object_id:
            message = "a REP record replaces an ICCPObjectID, so it needs one"
            self.error(line, "ICCPObjectID", message)
        match = codes.REP_HOST_ID_PATTERN.fullmatch(record.host_id)
        if match is None or not match.group(1):
            message = (
                "a REP record's HostID must name its ADD record as ADD(<ICCPObjectID>), "
                f"e.g. ADD({record.site_id}_1234); found {record.host_id!r}"
            )
            self.error(line, "HostID", message)
        else:
            self._wanted.add(hash(match.group(1)))

    def _check_request(self, record: IsnRecord) -> None:
        request = record.pt_req
        if not request:
            return
        if request not in codes.PT_REQ_CODES:
            message = (
                f"PtReq must be R (requested), X (pending on the provider's node) or blank; "
                f"found {request!r}{_suggestion(request, codes.PT_REQ_CODES)}"
            )
            self.error(record.line, "PtReq", message)
        elif request == "R":
            self.has_requests = True
            if record.iccp_object_id:
                message = "R requests a point without an ICCPObjectID; this one already has one"
                self.warn(record.line, "PtReq", message)

    def _check_object_id(self, record: IsnRecord) -> None:
        object_id = record.iccp_object_id
        key = hash(object_id)
        bit = key & (len(self._seen) * 8 - 1)
        index, flag = bit >> 3, 1 << (bit & 7)
        if self._seen[index] & flag:
            self._wanted.add(key)
        else:
            self._seen[index] |= flag
        line = record.line
        if ICCP_OBJECT_ID.fullmatch(object_id) is None:
            self.error(line, "ICCPObjectID", _object_id_problem(object_id))
        if len(object_id) > MAX_IDENTIFIER_LENGTH:
            message = (
                f"{object_id!r} has {len(object_id)} characters; "
                f"at most {MAX_IDENTIFIER_LENGTH} are allowed"
            )
            self.error(line, "ICCPObjectID", message)
        if record.site_id and not object_id.startswith(record.site_id):
            message = f"{object_id!r} must begin with the SiteID {record.site_id}"
            self.error(line, "ICCPObjectID", message)
        if not record.targ_fresh:
            message = "TargFresh is required when an ICCPObjectID is given (e.g. 6S)"
            self.error(line, "TargFresh", message)

    def _check_freshness(self, record: IsnRecord) -> None:
        fresh = record.targ_fresh
        if not fresh or not self._check_period(record.line, "TargFresh", fresh, required=False):
            return
        if record.source in codes.NO_FRESHNESS_SOURCES and parse_period(fresh) != 0:
            source = codes.SOURCES[record.source]
            message = f"TargFresh would be 0S for Source {record.source} ({source}), found {fresh}"
            self.warn(record.line, "TargFresh", message)

    def _check_usage(self, record: IsnRecord) -> None:
        analog = record.data_type in codes.ANALOG_DATA_TYPES
        for name, value, default in (
            ("UsageMultiplier", record.usage_multiplier, "1.0"),
            ("UsageAdder", record.usage_adder, "0.0"),
        ):
            if value:
                if codes.NUMBER_PATTERN.fullmatch(value) is None:
                    message = f"{name} must be a number like {default}, found {value!r}"
                    self.error(record.line, name, message)
            elif analog:
                message = (
                    f"{name} is required for the analog DataType {record.data_type} "
                    f"(write {default} if there is nothing to apply)"
                )
                self.error(record.line, name, message)

    # across records

    @property
    def needs_second_pass(self) -> bool:
        """True if some ID is used twice or named by a REP record: `collect` must run."""
        return bool(self._wanted)

    def collect(self, record: IsnRecord) -> None:
        """Second pass: keep what the rules across records need of this record."""
        if self._seen:
            self._seen = bytearray()  # the first pass is over: let its bitmap go
        object_id = record.iccp_object_id
        if object_id and hash(object_id) in self._wanted:
            entry = (
                record.line,
                self._interned(record.comm_date),
                self._interned(record.decomm_date),
                self._interned(record.change_code),
            )
            self._by_id.setdefault(self._interned(object_id), []).append(entry)
        if record.change_code == "REP":
            match = codes.REP_HOST_ID_PATTERN.fullmatch(record.host_id)
            if match is not None and match.group(1):
                rep = (
                    record.line,
                    self._interned(object_id),
                    self._interned(match.group(1)),
                    self._interned(record.decomm_date),
                )
                self._reps.append(rep)

    def _interned(self, text: str) -> str:
        return self._intern.setdefault(text, text)

    def check_across_records(self) -> None:
        """Rules that need the whole file: ID uniqueness in time and REP -> ADD links."""
        for object_id, entries in self._by_id.items():
            if len(entries) > 1:
                self._check_overlaps(object_id, entries)
        for rep in self._reps:
            self._check_rep_target(rep)
        self._check_rep_cycles()

    def _check_overlaps(self, object_id: str, entries: list[_Entry]) -> None:
        spans: list[tuple[date, date, _Entry]] = []
        for entry in entries:
            comm = _lenient_date(entry[1])
            if comm is None:
                continue
            decomm = _lenient_date(entry[2]) if entry[2] else None
            spans.append((comm, decomm or date.max, entry))
        spans.sort(key=lambda span: span[0])
        latest_end, latest = date.min, None
        for comm, end, entry in spans:
            if latest is not None and comm < latest_end:
                latest_line, latest_comm, latest_decomm, _ = latest
                until = latest_decomm or "open"
                message = (
                    f"ICCPObjectID {object_id} is also used by the record on line {latest_line} "
                    f"({latest_comm} to {until}); an ID may name one record at a time"
                )
                self.error(entry[0], "ICCPObjectID", message)
            if end > latest_end:
                latest_end, latest = end, entry

    def _check_rep_target(self, rep: _Rep) -> None:
        line, object_id, target, decomm_date = rep
        if target == object_id:
            self.error(line, "HostID", f"the REP record names its own ICCPObjectID {target}")
            return
        candidates = self._by_id.get(target, [])
        adds = [entry for entry in candidates if entry[3] == "ADD"]
        if not adds:
            if candidates:
                found_line, _, _, found_code = candidates[0]
                message = (
                    f"HostID names {target}, but its record on line {found_line} has ChangeCode "
                    f"{found_code or 'blank'}; the replacement must be an ADD record"
                )
            else:
                message = f"HostID names {target}, but no record of the file has that ICCPObjectID"
            self.error(line, "HostID", message)
            return
        add_line, add_comm, _, _ = adds[0]
        if decomm_date and add_comm and decomm_date != add_comm:
            message = (
                f"this record ends on {decomm_date} but its replacement {target} "
                f"(line {add_line}) starts on {add_comm}; the point would be missing or "
                "doubled in between"
            )
            self.warn(line, "DecommDate", message)

    def _check_rep_cycles(self) -> None:
        successor = {
            object_id: target
            for _, object_id, target, _ in self._reps
            if object_id and target != object_id
        }
        cleared: set[str] = set()
        for line, object_id, _, _ in self._reps:
            chain: list[str] = []
            current = object_id
            while current in successor and current not in cleared:
                if current in chain:
                    message = f"REP records replace each other in a circle: {' -> '.join(chain)}"
                    self.error(line, "HostID", message)
                    break
                chain.append(current)
                current = successor[current]
            cleared.update(chain)


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted for a message, cut short if long."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _object_id_problem(object_id: str) -> str:
    if not object_id[0].isascii() or not object_id[0].isalpha():
        return f"{object_id!r} must start with a letter (A-Z or a-z)"
    bad = next(
        (c for c in object_id if not (c.isascii() and (c.isalnum() or c in "$_"))), object_id[0]
    )
    return f"{object_id!r} has the character {bad!r}; only A-Z a-z 0-9 $ _ are allowed"
