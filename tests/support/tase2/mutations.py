"""Hypothesis strategies that damage encodings: the inputs fast paths are fuzzed with."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def _damage(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` with one to three octets changed, dropped, inserted, or cut short."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("set", "drop", "insert", "cut")))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "drop" and data:
            del data[pos]
        elif kind == "insert":
            data.insert(pos, draw(st.integers(0, 255)))
        else:
            del data[pos:]
    return bytes(data)


def mutated(encodings: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Encodings drawn from ``encodings``, damaged in a few places."""
    return encodings.flatmap(_damage)
