"""ISN file checking speed: read and validate a generated 100,000-record file."""

from __future__ import annotations

from collections.abc import Iterator

from benchmarks.common import best_rate, report
from gateway.isn import parse_isn
from gateway.isn.codes import HEADER_1, HEADER_2

RECORDS = 100_000

# Record templates of mixed kinds; {n} makes each ICCPObjectID and name unique.
_TEMPLATES = (
    "BN,T,0S,V,kV,BS,Section {n},Station {s},115,08/01/1997,,,,BN_V{n},BUS{n},6S,1.0,0.0",
    "BN,A,0S,Flow,MW,LN,Line {n},Station {s},161,09/01/1997,,ADD,,BN_F{n},APP{n},5M,-1.0,0.0",
    "BN,T,0S,State,Op/Cl,SW,Breaker {n},Station {s},230,08/01/1995,,,,BN_S{n},ST{n},10S",
    "BN,T,0S,Tap,Pos,TR,Transformer {n},Station {s},138,08/01/1997,,CHG,,BN_T{n},TR{n},2S,1.0,0.0",
    "BN,C,1H,Load,Mvar,SH,Shunt {n},Station {s},500,08/01/1997,01/01/2030,DEL,,BN_L{n},,1H,1.0,0.5",
)


def make_isn_file(records: int = RECORDS) -> bytes:
    """A valid ISN file of `records` data records of mixed kinds, CRLF line ends."""
    return b"".join(isn_file_lines(records))


def isn_file_lines(records: int) -> Iterator[bytes]:
    """The lines (CRLF ends) of `make_isn_file`, one at a time, to write a large file."""
    for line in (",".join(HEADER_1), "2.3,05/01/2004,,", ",".join(HEADER_2)):
        yield f"{line}\r\n".encode("ascii")
    for n in range(records):
        template = _TEMPLATES[n % len(_TEMPLATES)]
        yield (template.format(n=n, s=n % 97) + "\r\n").encode("ascii")


def main() -> None:
    """Print `BENCH isn_validate <n> records/s` (read + every check)."""
    data = make_isn_file()

    def validate_once() -> int:
        result = parse_isn(data)
        if not result.ok:
            raise RuntimeError(f"benchmark file is not valid: {result.findings[:3]}")
        return RECORDS

    report("isn_validate", best_rate(validate_once, repeat=3, min_time=0.5), "records/s")


if __name__ == "__main__":
    main()
