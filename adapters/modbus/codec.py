"""Modbus register codecs: data types, word/byte orders, block decoders (sans-IO).

Orders name the bytes of a value as they appear on the wire, `A` being the most significant:
`ABCD` is big-endian (the Modbus convention), `CDAB` swaps the 16-bit words, `BADC` swaps the
bytes within each word and `DCBA` is little-endian. 64-bit values extend the same rule to four
words. 16-bit values only see the byte swap (`BADC`/`DCBA`).

Decoding packs a block's registers into bytes once (big-endian, or byte-swapped for `BADC`
and `CDAB`) and unpacks every value with one precompiled `struct.Struct` per run of
non-overlapping values, so a block of 62 float32 values is a single `unpack_from`.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000
MAX_REGISTERS_PER_WRITE = 123
ADDRESS_SPACE = 65536


class Table(enum.StrEnum):
    """A Modbus data table."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bits(self) -> bool:
        """Coils and discrete inputs hold bits; the others hold 16-bit registers."""
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def is_writable(self) -> bool:
        """Whether the protocol has write functions for this table."""
        return self in (Table.COIL, Table.HOLDING)


class DataType(enum.StrEnum):
    """How a value is laid out in a table: a bit, or one to four registers."""

    BOOL = "bool"
    BIT = "bit"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def size(self) -> int:
        """Registers (or bits, for `bool`) the value occupies."""
        return _SIZE[self]

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT32, DataType.FLOAT64)


class WordOrder(enum.StrEnum):
    """Byte order of a multi-byte value on the wire (see the module docstring)."""

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def swaps_bytes(self) -> bool:
        """The two bytes of each register are swapped (`BADC`, `CDAB`)."""
        return self in (WordOrder.BADC, WordOrder.CDAB)

    @property
    def little(self) -> bool:
        """Read after the per-register swap, the value is little-endian (`CDAB`, `DCBA`)."""
        return self in (WordOrder.CDAB, WordOrder.DCBA)


_SIZE = {
    DataType.BOOL: 1,
    DataType.BIT: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
}
_FORMAT = {
    DataType.BIT: "H",
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}


def registers_to_bytes(registers: Sequence[int], swap_bytes: bool = False) -> bytes:
    """The registers as wire bytes, optionally with the two bytes of each register swapped."""
    return struct.pack(f"{'<' if swap_bytes else '>'}{len(registers)}H", *registers)


def decode_value(
    registers: Sequence[int], dtype: DataType, order: WordOrder = WordOrder.ABCD, bit: int = 0
) -> int | float:
    """The value held by `registers` (exactly `dtype.size` of them)."""
    if dtype is DataType.BOOL:
        raise ValueError("bool values live in coils and discrete inputs, not registers")
    data = registers_to_bytes(registers, order.swaps_bytes)
    (value,) = struct.unpack(("<" if order.little else ">") + _FORMAT[dtype], data)
    if dtype is DataType.BIT:
        return (int(value) >> bit) & 1
    return value  # type: ignore[no-any-return]


def encode_value(value: float, dtype: DataType, order: WordOrder = WordOrder.ABCD) -> list[int]:
    """The registers that hold `value`; raises ValueError when the type cannot represent it.

    Integer types take integral values only; `bit` is not encodable alone (it is a
    read-modify-write of its register, see `set_bit`).
    """
    if dtype in (DataType.BOOL, DataType.BIT):
        raise ValueError(f"{dtype} values are not encoded as whole registers")
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    if not dtype.is_float:
        if value != int(value):
            raise ValueError(f"{value!r} is not an integer ({dtype})")
        value = int(value)
    try:
        data = struct.pack(("<" if order.little else ">") + _FORMAT[dtype], value)
    except (struct.error, OverflowError):
        raise ValueError(f"{value!r} is out of range for {dtype}") from None
    return list(struct.unpack(f"{'<' if order.swaps_bytes else '>'}{dtype.size}H", data))


def set_bit(register: int, bit: int, on: bool) -> int:
    """`register` with bit number `bit` (0 = least significant) set or cleared."""
    return register | (1 << bit) if on else register & ~(1 << bit) & 0xFFFF


def clamp_for(value: float, dtype: DataType) -> float:
    """`value` made representable in `dtype`: rounded and clamped for integers.

    Used where a value must be served whatever it is (the Modbus server); the command path
    rejects out-of-range values instead.
    """
    if dtype.is_float:
        if dtype is DataType.FLOAT32 and math.isfinite(value):
            return max(-_FLOAT32_MAX, min(_FLOAT32_MAX, value))
        return value
    low, high = _INT_RANGE[dtype]
    if not math.isfinite(value):
        return 0
    return max(low, min(high, round(value)))


_FLOAT32_MAX: float = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
_INT_RANGE = {
    DataType.BOOL: (0, 1),
    DataType.BIT: (0, 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


@dataclass(frozen=True, slots=True)
class Field:
    """One value inside a block: its register offset from the block start and its layout."""

    offset: int
    dtype: DataType
    order: WordOrder = WordOrder.ABCD
    bit: int = 0


class _Run:
    """A run of non-overlapping fields of one byte order, unpacked by one Struct."""

    __slots__ = ("start", "struct", "swapped")

    def __init__(self, swapped: bool, little: bool, fields: Sequence[Field]) -> None:
        self.swapped = swapped
        self.start = fields[0].offset * 2
        fmt = "<" if little else ">"
        cursor = fields[0].offset
        for f in fields:
            if f.offset > cursor:
                fmt += f"{(f.offset - cursor) * 2}x"
            fmt += _FORMAT[f.dtype]
            cursor = f.offset + f.dtype.size
        self.struct = struct.Struct(fmt)


class RegisterDecoder:
    """Decodes the fields of one register block from the registers of one read.

    `order` is the index of each output value in the caller's field list: the decoder
    emits values in its own (run) order, and `fields_in_order` says which is which.
    """

    __slots__ = ("_bits", "_need_plain", "_need_swapped", "_runs", "count", "order")

    def __init__(self, fields: Sequence[Field], count: int) -> None:
        for f in fields:
            if f.dtype is DataType.BOOL:
                raise ValueError("bool fields belong to bit tables")
            if f.offset < 0 or f.offset + f.dtype.size > count:
                raise ValueError(f"field at offset {f.offset} is outside the block of {count}")
        self.count = count
        self.order: list[int] = []
        self._runs: list[_Run] = []
        indexed = sorted(
            enumerate(fields), key=lambda i_f: (i_f[1].order.swaps_bytes, i_f[1].order.little)
        )
        groups: dict[tuple[bool, bool], list[tuple[int, Field]]] = {}
        for i, f in indexed:
            groups.setdefault((f.order.swaps_bytes, f.order.little), []).append((i, f))
        for (swapped, little), members in groups.items():
            members.sort(key=lambda i_f: i_f[1].offset)
            self._add_runs(swapped, little, members)
        self._bits = [
            (pos, fields[i].bit)
            for pos, i in enumerate(self.order)
            if fields[i].dtype is DataType.BIT
        ]
        self._need_plain = any(not r.swapped for r in self._runs)
        self._need_swapped = any(r.swapped for r in self._runs)

    def _add_runs(self, swapped: bool, little: bool, members: list[tuple[int, Field]]) -> None:
        run: list[Field] = []
        cursor = -1
        for i, f in members:
            if run and f.offset < cursor:  # overlaps the previous field: start a new run
                self._runs.append(_Run(swapped, little, run))
                run = []
            run.append(f)
            self.order.append(i)
            cursor = f.offset + f.dtype.size
        if run:
            self._runs.append(_Run(swapped, little, run))

    def decode(self, registers: Sequence[int]) -> list[int | float]:
        """Every field's value, in `self.order` order."""
        n = self.count
        plain = struct.pack(f">{n}H", *registers[:n]) if self._need_plain else b""
        swapped = struct.pack(f"<{n}H", *registers[:n]) if self._need_swapped else b""
        out: list[int | float] = []
        for run in self._runs:
            out.extend(run.struct.unpack_from(swapped if run.swapped else plain, run.start))
        for pos, bit in self._bits:
            out[pos] = (int(out[pos]) >> bit) & 1
        return out


class BitDecoder:
    """Picks the fields of one coil/discrete-input block out of the bits of one read."""

    __slots__ = ("offsets", "order")

    def __init__(self, offsets: Sequence[int]) -> None:
        self.offsets = list(offsets)
        self.order = list(range(len(self.offsets)))

    def decode(self, bits: Sequence[bool]) -> list[int | float]:
        """Every field's value (0 or 1), in field order."""
        return [1 if bits[o] else 0 for o in self.offsets]
