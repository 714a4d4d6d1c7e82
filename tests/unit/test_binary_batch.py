"""The binary sample batch: a round trip, and every broken message refused with its reason."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from schemas.base import ProductionContext
from schemas.binary import FIXED, decode_batch, encode_batch, is_binary_batch
from schemas.events import BatchHeader, SensorBatch
from schemas.exceptions import InvalidEventError
from tests.factories import ASSET, T0

HEADER = BatchHeader(
    time=T0,
    asset=ASSET,
    sensor="m1.vibration",
    sample_rate_hz=10_000,
    unit="g",
    context=ProductionContext(vin="WVWZZZ1JZXW000001"),
)


def test_float32_samples_come_back_as_they_were_sent_with_their_header():
    samples = np.sin(np.arange(10_000, dtype=np.float32) / 10)
    raw = encode_batch(HEADER, samples)
    assert is_binary_batch(raw)
    assert len(raw) < 10_000 * 4 + 200  # 40 KB where JSON floats take about 74 KB
    batch = decode_batch(raw)
    assert batch.header == HEADER
    np.testing.assert_array_equal(batch.samples, samples)
    assert batch.end_time == T0 + 1000


def test_int16_counts_are_scaled_to_their_unit():
    counts = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    batch = decode_batch(encode_batch(HEADER, counts, "int16", scale=0.001))
    np.testing.assert_allclose(batch.samples, counts * 0.001, rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_sample_that_is_not_finite_refuses_the_batch(bad):
    with pytest.raises(InvalidEventError, match="finite"):
        decode_batch(encode_batch(HEADER, np.array([1.0, bad, 2.0], dtype=np.float32)))


def test_a_truncated_batch_is_refused_with_the_bytes_it_lacks():
    raw = encode_batch(HEADER, np.ones(100, dtype=np.float32))
    with pytest.raises(
        InvalidEventError, match="100 float32 samples \\(400 bytes\\) but 398"
    ) as err:
        decode_batch(raw[:-2])
    assert err.value.error_type == "sample_count"
    with pytest.raises(InvalidEventError, match="needs 32 bytes"):
        decode_batch(raw[:20])


def test_a_header_that_lies_about_the_sample_count_is_refused():
    raw = bytearray(encode_batch(HEADER, np.ones(100, dtype=np.float32)))
    struct.pack_into("<I", raw, 8, 90)
    with pytest.raises(InvalidEventError, match="says 90 float32 samples"):
        decode_batch(bytes(raw))


def test_a_wrong_header_names_the_field():
    raw = encode_batch(HEADER, np.ones(4, dtype=np.float32))
    bad_rate = bytearray(raw)
    struct.pack_into("<d", bad_rate, 20, -5.0)
    with pytest.raises(InvalidEventError, match="sample_rate_hz"):
        decode_batch(bytes(bad_rate))
    text_at = FIXED.size
    bad_json = raw[:text_at] + b"x" + raw[text_at + 1 :]
    with pytest.raises(InvalidEventError, match="not JSON"):
        decode_batch(bad_json)
    with pytest.raises(InvalidEventError, match="magic") as err:
        decode_batch(b"XXXX" + raw[4:])
    assert err.value.error_type == "not_a_batch"


def test_the_publisher_sends_a_batch_as_float32_and_keeps_json_for_values_float32_cannot_hold():
    from connectors.publisher import batch_bytes
    from schemas.codec import decode_sensor

    batch = SensorBatch(
        time=T0, asset=ASSET, sensor="m1.vibration", sample_rate_hz=4, values=[0.5, -1.25, 3, 0]
    )
    decoded = decode_batch(batch_bytes(batch))
    assert decoded.header == BatchHeader(**batch.model_dump(exclude={"values"}))
    np.testing.assert_array_equal(decoded.samples, batch.values)
    huge = batch.model_copy(update={"values": [1e39, 0.0]})
    assert decode_sensor(batch_bytes(huge)) == huge
