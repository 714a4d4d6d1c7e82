import math

import pytest

from connectors.modbus.registers import RegisterTag, coalesce, decode, encode

NUMERIC = ["int16", "uint16", "int32", "uint32", "float32", "float64"]
ORDERS = ["ABCD", "DCBA", "BADC", "CDAB"]
SAMPLE = {
    "int16": -1234,
    "uint16": 54321,
    "int32": -123456789,
    "uint32": 3_000_000_000,
    "float32": 12.5,
    "float64": -98765.4321,
}


def tag(**kw):
    return RegisterTag(sensor="s", asset="p/l/s/m", address=kw.pop("address", 0), **kw)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("data_type", NUMERIC)
def test_every_type_and_byte_order_round_trips(data_type, order):
    t = tag(data_type=data_type, byte_order=order)
    registers = encode(t, SAMPLE[data_type])
    assert len(registers) == t.count
    assert math.isclose(decode(t, registers), SAMPLE[data_type], rel_tol=1e-6)


def test_byte_orders_follow_the_usual_naming():
    # 0x11223344 as ABCD is [0x1122, 0x3344]; CDAB swaps words; BADC swaps bytes; DCBA both
    t = {o: tag(data_type="uint32", byte_order=o) for o in ORDERS}
    assert encode(t["ABCD"], 0x11223344) == [0x1122, 0x3344]
    assert encode(t["CDAB"], 0x11223344) == [0x3344, 0x1122]
    assert encode(t["BADC"], 0x11223344) == [0x2211, 0x4433]
    assert encode(t["DCBA"], 0x11223344) == [0x4433, 0x2211]


def test_scale_offset_and_strings():
    assert decode(tag(data_type="int16", scale=0.1, offset=-40), [650]) == pytest.approx(25.0)
    text = tag(data_type="string", length=3)
    assert decode(text, [0x5645, 0x4831, 0x0000]) == "VEH1"


def test_bits_need_bool_and_registers_refuse_it():
    with pytest.raises(ValueError, match="use data_type bool"):
        tag(function="coil", data_type="uint16")
    with pytest.raises(ValueError, match="bool needs coil or discrete"):
        tag(function="holding", data_type="bool")


def test_neighbouring_tags_share_reads_within_the_protocol_limit():
    tags = [tag(address=a, data_type="float32") for a in (0, 2, 4, 10, 200)]
    tags += [tag(address=0, unit_id=2), tag(address=5, function="coil", data_type="bool")]
    plans = coalesce(tags, max_gap=8)
    spans = sorted((p.unit_id, p.function, p.start, p.count, len(p.tags)) for p in plans)
    assert spans == [
        (1, "coil", 5, 1, 1),
        (1, "holding", 0, 12, 4),
        (1, "holding", 200, 2, 1),
        (2, "holding", 0, 1, 1),
    ]
    wide = [tag(address=a) for a in range(0, 300)]
    assert [p.count for p in coalesce(wide, max_gap=0)] == [125, 125, 50]
