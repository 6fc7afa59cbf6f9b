"""ISN validate memory: peak RSS of `iccp-gateway isn validate` on a generated ~60 MB file.

The file is the `bench_isn` mix with a REP/ADD pair every 1,000 records (so the pass that
checks the rules across records runs) and an error every 250 records (more findings than
`validate` keeps). `validate` runs in a child process, whose own peak RSS is the figure.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.bench_isn import isn_file_lines
from benchmarks.common import report

RECORDS = 700_000  # about 60 MB

_REP = (
    "BN,T,0S,V,kV,BS,Old {n},Station 1,115,08/01/1997,03/31/2002,REP,,BN_O{n},ADD(BN_N{n}),"
    "6S,1.0,0.0"
)
_ADD = "BN,T,0S,V,kV,BS,New {n},Station 1,115,03/31/2002,,ADD,,BN_N{n},,6S,1.0,0.0"
_BAD = "BN,Q,0S,V,kV,BS,Bad {n},Station 1,115,08/01/1997,,,,BN_B{n},,6S,1.0,0.0"

# The child checks the file through the CLI and prints its peak RSS (KiB) last on stderr.
# VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss over fork and exec.
_CHILD = """
import re, resource, sys
from gateway.cli import main
code = main(["isn", "validate", sys.argv[1]])
try:
    with open("/proc/self/status") as status:
        peak = int(re.search(r"VmHWM:\\s*(\\d+)", status.read()).group(1))
except (OSError, AttributeError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(code, peak, file=sys.stderr)
"""


def bench_file_lines(records: int = RECORDS) -> Iterator[bytes]:
    """The lines of the benchmark file: the `bench_isn` mix, REP/ADD pairs and errors."""
    for index, line in enumerate(isn_file_lines(records)):
        yield line
        if index % 1000 == 999:
            yield (_REP.format(n=index) + "\r\n").encode("ascii")
            yield (_ADD.format(n=index) + "\r\n").encode("ascii")
        if index % 250 == 249:
            yield (_BAD.format(n=index) + "\r\n").encode("ascii")


def write_bench_file(path: Path, records: int = RECORDS) -> int:
    """Write the benchmark file; its size in bytes."""
    with path.open("wb") as out:
        out.writelines(bench_file_lines(records))
    return path.stat().st_size


def peak_rss_kib(path: Path) -> int:
    """Peak RSS (KiB) of a child process running `isn validate` on the file."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    code, peak = done.stderr.splitlines()[-1].split()
    if code != "1":  # the file has errors on purpose
        raise RuntimeError(f"isn validate exited {code}: {done.stderr[-500:]}")
    return int(peak)


def main() -> None:
    """Print the file size, the peak RSS and their ratio (the issue asks for at most ~2)."""
    with tempfile.TemporaryDirectory(prefix="bench-isn-") as folder:
        path = Path(folder) / "BN01may2004.csv"
        size = write_bench_file(path)
        peak = peak_rss_kib(path) * 1024
    mib = 1024 * 1024
    report("isn_validate_file_size", size / mib, "MB", digits=1)
    report("isn_validate_peak_rss", peak / mib, "MB", digits=1)
    report("isn_validate_peak_rss_ratio", peak / size, "x", digits=2)


if __name__ == "__main__":
    main()
