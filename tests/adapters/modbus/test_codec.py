"""The sans-IO parts of the Modbus adapters: codecs, read planning, settings, CSV lists."""

import pytest
from pymodbus.client import ModbusTcpClient

from adapters.modbus.codec import (
    DataType,
    Field,
    RegisterDecoder,
    WordOrder,
    clamp_for,
    decode_value,
    encode_value,
)
from adapters.modbus.model import ClientPoint, ModbusClientSettings
from adapters.modbus.plan import Span, plan_reads
from gateway.pointfiles import parse_points_csv
from gateway.points import State

NUMERIC = [t for t in DataType if t not in (DataType.BOOL, DataType.BIT)]
SAMPLES = {
    DataType.INT16: -2,
    DataType.UINT16: 65000,
    DataType.INT32: -70000,
    DataType.UINT32: 4_000_000_000,
    DataType.INT64: -(2**40),
    DataType.UINT64: 2**63,
    DataType.FLOAT32: -0.15625,
    DataType.FLOAT64: 1e300,
}


@pytest.mark.parametrize("dtype", NUMERIC)
@pytest.mark.parametrize("order", list(WordOrder))
def test_every_type_and_order_round_trips(dtype, order):
    registers = encode_value(SAMPLES[dtype], dtype, order)
    assert len(registers) == dtype.size
    assert decode_value(registers, dtype, order) == SAMPLES[dtype]


def test_orders_agree_with_pymodbus_word_order_and_a_byte_swap():
    big = ModbusTcpClient.convert_to_registers(1.5, ModbusTcpClient.DATATYPE.FLOAT32)
    little = ModbusTcpClient.convert_to_registers(
        1.5, ModbusTcpClient.DATATYPE.FLOAT32, word_order="little"
    )

    def swap(regs):
        return [((r & 0xFF) << 8) | (r >> 8) for r in regs]

    assert encode_value(1.5, DataType.FLOAT32, WordOrder.ABCD) == big
    assert encode_value(1.5, DataType.FLOAT32, WordOrder.CDAB) == little
    assert encode_value(1.5, DataType.FLOAT32, WordOrder.BADC) == swap(big)
    assert encode_value(1.5, DataType.FLOAT32, WordOrder.DCBA) == swap(little)


def test_encoding_rejects_what_the_type_cannot_hold():
    for value, dtype in [(-1, DataType.UINT16), (70000, DataType.INT16), (1.5, DataType.INT32),
                         (1e39, DataType.FLOAT32), (float("nan"), DataType.FLOAT64)]:  # fmt: skip
        with pytest.raises(ValueError):
            encode_value(value, dtype)
    assert clamp_for(70000.4, DataType.INT16) == 32767 and clamp_for(-3.6, DataType.UINT16) == 0


def test_a_block_decoder_handles_mixed_orders_overlaps_and_bits():
    fields = [
        Field(0, DataType.FLOAT32),
        Field(2, DataType.INT16, WordOrder.BADC),
        Field(3, DataType.BIT, bit=3),
        Field(3, DataType.UINT16),  # same register as the bit: a second run
        Field(4, DataType.FLOAT64, WordOrder.CDAB),
        Field(9, DataType.UINT32, WordOrder.DCBA),  # after a hole
    ]
    registers = [
        *encode_value(1.5, DataType.FLOAT32),
        *encode_value(-2, DataType.INT16, WordOrder.BADC),
        0b1000,
        *encode_value(3.25, DataType.FLOAT64, WordOrder.CDAB),
        0xFFFF,
        *encode_value(123456, DataType.UINT32, WordOrder.DCBA),
    ]
    decoder = RegisterDecoder(fields, len(registers))
    values = dict(zip(decoder.order, decoder.decode(registers), strict=True))
    assert [values[i] for i in range(len(fields))] == [1.5, -2, 1, 8, 3.25, 123456]


def test_reads_merge_across_small_holes_within_the_protocol_limits():
    spans = [Span(0, 1), Span(1, 2), Span(10, 1), Span(100, 2), Span(100, 1)]
    assert [(r.start, r.count) for r in plan_reads(spans, 125, max_gap=6)] == [
        (0, 3), (10, 1), (100, 2)
    ]  # fmt: skip
    assert [(r.start, r.count) for r in plan_reads(spans, 125, max_gap=7)] == [(0, 11), (100, 2)]
    contiguous = [Span(a, 2) for a in range(0, 300, 2)]
    reads = plan_reads(contiguous, 125)
    assert [r.count for r in reads] == [124, 124, 52]  # a float never straddles two reads
    bits = [Span(a, 1) for a in range(2500)]
    assert [r.count for r in plan_reads(bits, 2000)] == [2000, 500]
    assert sorted(i for r in reads for i in r.members) == list(range(150))


def test_csv_point_lists_parse_and_report_rows_by_line():
    text = (
        "# Modbus points of unit 2\n"
        "point,table,address,type,order,bit,states,normal,writable\n"
        "MW,holding,0,float32,CDAB,,,,\n"
        "\n"
        "ALARM,input,3,bit,,0,0:off;1:on,OFF,\n"
    )
    rows = parse_points_csv(text, ClientPoint, "plant.csv")
    assert [r.point for r in rows] == ["MW", "ALARM"]
    assert rows[0].order is WordOrder.CDAB and rows[1].bit == 0
    assert rows[1].state_table.state_of(1) is State.ON and rows[1].state_table.normal is State.OFF
    bad = text + "X,input,1,float32,,,,,true\nY,coil,1,uint16,,,,,\n"
    with pytest.raises(ValueError) as err:
        parse_points_csv(bad, ClientPoint, "plant.csv")
    assert "plant.csv:6: row: table input is read-only in Modbus" in str(err.value)
    assert "plant.csv:7:" in str(err.value) and "does not fit table coil" in str(err.value)
    with pytest.raises(ValueError, match=r"plant\.csv:1: unknown column 'colour'"):
        parse_points_csv("point,colour\n", ClientPoint, "plant.csv")


def test_client_settings_check_devices_groups_and_duplicates():
    two = [{"name": "a", "host": "h"}, {"name": "b", "host": "h", "poll_groups": {"fast": 0.1}}]
    problems = {
        "name its device": [{"point": "P", "address": 0}],
        "unknown device 'c'": [{"point": "P", "address": 0, "device": "c"}],
        "has no poll group 'slow'": [{"point": "P", "address": 0, "device": "b", "group": "slow"}],
        "bound twice": [{"point": "P", "address": 0, "device": "a"}] * 2,
    }
    for message, points in problems.items():
        with pytest.raises(ValueError, match=message):
            ModbusClientSettings.model_validate({"devices": two, "points": points})
    ok = ModbusClientSettings.model_validate(
        {"devices": two, "points": [{"point": "P", "address": 0, "device": "b", "group": "fast"}]}
    )
    assert ok.owned_points() == {"P"}
