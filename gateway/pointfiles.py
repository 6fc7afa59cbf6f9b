"""Point lists in CSV files, shared by the adapters: one binding per row.

A header names the columns (the fields of the adapter's binding model); empty cells take
the defaults. Every bad row is reported as `file:line: column: problem`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError, ValidationInfo

Row = TypeVar("Row", bound=BaseModel)


def resolve_path(path: str, info: ValidationInfo) -> Path:
    """A points file path: absolute, or relative to `context['base']`, else to the cwd."""
    candidate = Path(path)
    base = (info.context or {}).get("base") if isinstance(info.context, dict) else None
    if not candidate.is_absolute() and base is not None:
        candidate = Path(base) / candidate
    return candidate


def parse_points_csv(text: str, model: type[Row], origin: str = "<csv>") -> list[Row]:
    """Parse a CSV point list: a header of `model` field names, then one binding per row.

    Empty cells take the defaults; blank lines and lines starting with `#` are skipped.
    Raises ValueError naming `origin:line: column: problem` for every bad row.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _read_header(reader, model, origin)
    rows: list[Row] = []
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        if not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) > len(header):
            problems.append(f"{origin}:{line}: {len(row)} cells, the header has {len(header)}")
            continue
        cells = {k: v.strip() for k, v in zip(header, row, strict=False) if v.strip()}
        try:
            rows.append(model.model_validate(cells))
        except ValidationError as exc:
            problems.extend(_row_problems(exc, origin, line))
    if problems:
        raise ValueError("\n".join(problems[:50]))
    return rows


def _read_header(reader: Iterable[list[str]], model: type[BaseModel], origin: str) -> list[str]:
    header = next(iter(reader), None)
    while header is not None and (not any(h.strip() for h in header) or header[0].startswith("#")):
        header = next(iter(reader), None)
    if header is None:
        raise ValueError(f"{origin}:1: empty point list: expected a header")
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in model.model_fields]
    if unknown or "point" not in header:
        problem = f"unknown column {unknown[0]!r}" if unknown else "no 'point' column"
        columns = ", ".join(model.model_fields)
        raise ValueError(f"{origin}:1: {problem}; columns are: {columns}")
    return header


def _row_problems(exc: ValidationError, origin: str, line: int) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        column = ".".join(str(p) for p in err["loc"]) or "row"
        out.append(f"{origin}:{line}: {column}: {err['msg'].removeprefix('Value error, ')}")
    return out


def load_points_csv(path: Path, model: type[Row]) -> list[Row]:
    """Read a CSV point list file (see `parse_points_csv`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    return parse_points_csv(text, model, str(path))
