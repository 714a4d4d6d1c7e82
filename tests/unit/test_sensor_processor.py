"""The sensor processor without a broker: summaries, scores, quality findings, dead letters,
and alert episodes that outlive a restart."""

from __future__ import annotations

import pytest

from schemas import topics
from schemas.events import AnomalyScore, QualityFinding, SensorBatch, SensorSecond
from schemas.states import State
from streams.core.anomaly import DetectorSettings
from streams.processors.sensors import SensorConfig, SensorProcessor
from streams.processors.testing import MemoryModels, ProcessorRun
from tests.factories import ASSET, T0, reading, state

CONFIG = SensorConfig(detector=DetectorSettings(warmup=30), checkpoint_ms=1_000)


def make_run(models: MemoryModels) -> ProcessorRun:
    return ProcessorRun(
        SensorProcessor(CONFIG, models=models),
        factory=lambda: SensorProcessor(CONFIG, models=models),
    )


def of_kind(outputs, kind: type) -> list:
    return [e.event for e in outputs.emits if isinstance(e.event, kind)]


def test_a_batch_becomes_per_second_summaries_and_their_scores():
    run = make_run(MemoryModels())
    batch = SensorBatch(
        time=T0, asset=ASSET, sensor="m1.vibration", sample_rate_hz=100, values=[0.1] * 250
    )
    outputs = run.send(topics.SENSOR_BATCHES, [batch], now_ms=T0)
    seconds = of_kind(outputs, SensorSecond)
    assert [s.samples for s in seconds] == [100, 100, 50]
    assert len(of_kind(outputs, AnomalyScore)) == 3


def test_a_machine_event_on_the_sensor_topic_is_dead_lettered_as_out_of_contract():
    run = make_run(MemoryModels())
    outputs = run.send(topics.SENSOR_READINGS, [state(0, State.PRODUCING)], now_ms=T0)
    ((letter, error),) = outputs.dead_letters
    assert (letter.source_topic, error.error_type) == (topics.SENSOR_READINGS, "schema")


def test_an_anomaly_episode_survives_a_restart_and_clears_under_its_id():
    models = MemoryModels()
    run = make_run(models)
    normal = [reading(i, 20.0 + (i % 7) * 0.1) for i in range(120)]
    run.send(topics.SENSOR_READINGS, normal, now_ms=T0 + 120_000)
    run.tick(T0 + 120_000)  # checkpoints the model
    spike = run.send(
        topics.SENSOR_READINGS, [reading(120 + i, 45.0) for i in range(5)], now_ms=T0 + 125_000
    )
    (raised,) = [a for a in spike.alerts if a.alert_kind == "anomaly"]
    run.tick(T0 + 126_000)
    run.restart()
    back = [reading(125 + i, 20.0 + (i % 7) * 0.1) for i in range(40)]
    steps = run.send(topics.SENSOR_READINGS, back, now_ms=T0 + 170_000).alerts
    anomaly = [(a.status, a.alert_id) for a in steps if a.alert_kind == "anomaly"]
    assert anomaly == [("cleared", raised.alert_id)]


def test_a_silent_sensor_is_raised_once_and_cleared_by_its_next_reading_after_a_restart():
    run = make_run(MemoryModels())
    run.send(topics.SENSOR_READINGS, [reading(i, 20.0 + i % 3) for i in range(20)], now_ms=T0)
    outputs = run.tick(T0 + 60_000)
    (raised,) = [a for a in outputs.alerts if a.alert_kind == "sensor_silent"]
    assert [f.rule for f in of_kind(outputs, QualityFinding)] == ["silent"]
    run.restart()
    assert not [a for a in run.tick(T0 + 61_000).alerts if a.alert_kind == "sensor_silent"]
    steps = run.send(topics.SENSOR_READINGS, [reading(62, 21.0)], now_ms=T0 + 62_000).alerts
    silent = [(a.status, a.alert_id) for a in steps if a.alert_kind == "sensor_silent"]
    assert silent == [("cleared", raised.alert_id)]


def test_a_stuck_sensor_is_a_quality_finding_and_is_not_scored():
    run = make_run(MemoryModels())
    outputs = run.send(
        topics.SENSOR_READINGS, [reading(i * 5, 7.0) for i in range(10)], now_ms=T0 + 50_000
    )
    assert "stuck" in {f.rule for f in of_kind(outputs, QualityFinding)}
    assert len(of_kind(outputs, AnomalyScore)) < 10


def _binary(batch: SensorBatch, sample_type: str = "float32", scale: float = 1.0) -> bytes:
    import numpy as np

    from schemas.binary import encode_batch

    samples = np.asarray(batch.values) / scale if sample_type == "int16" else batch.values
    return encode_batch(batch, np.asarray(samples), sample_type, scale)  # type: ignore[arg-type]


def test_a_binary_batch_gives_the_summaries_and_scores_of_the_same_json_batch():
    import math

    values = [math.sin(i / 3) * 2 for i in range(250)]
    batch = SensorBatch(
        time=T0, asset=ASSET, sensor="m1.vibration", sample_rate_hz=100, values=values, unit="g"
    )
    json_seconds = of_kind(
        make_run(MemoryModels()).send(topics.SENSOR_BATCHES, [batch], now_ms=T0), SensorSecond
    )
    outputs = make_run(MemoryModels()).send(topics.SENSOR_BATCHES, [_binary(batch)], now_ms=T0)
    seconds = of_kind(outputs, SensorSecond)
    assert [(s.id, s.time, s.samples, s.unit) for s in seconds] == [
        (s.id, s.time, s.samples, s.unit) for s in json_seconds
    ]
    for binary, text in zip(seconds, json_seconds, strict=True):
        assert binary.rms == pytest.approx(text.rms, rel=1e-6)
        assert binary.kurtosis == pytest.approx(text.kurtosis, rel=1e-5)
    assert len(of_kind(outputs, AnomalyScore)) == 3
    assert not outputs.dead_letters


def test_an_int16_binary_batch_is_scaled_to_its_unit():
    batch = SensorBatch(
        time=T0, asset=ASSET, sensor="m1.vibration", sample_rate_hz=100, values=[0.5, -0.5] * 50
    )
    outputs = make_run(MemoryModels()).send(
        topics.SENSOR_BATCHES, [_binary(batch, "int16", 0.001)], now_ms=T0
    )
    (second,) = of_kind(outputs, SensorSecond)
    assert (second.maximum, second.minimum) == pytest.approx((0.5, -0.5))


@pytest.mark.parametrize(
    ("damage", "error_type", "says"),
    [
        (lambda raw: raw[:-3], "sample_count", "truncated"),
        (lambda raw: raw + b"\0\0\0\0", "sample_count", "wrong sample count"),
        (lambda raw: raw[:8] + (999).to_bytes(4, "little") + raw[12:], "sample_count", "999"),
        (lambda raw: raw[:-4] + b"\0\0\xc0\x7f", "schema", "finite"),  # NaN as the last sample
        (lambda raw: raw[:20], "schema", "needs 32 bytes"),
    ],
)
def test_a_damaged_binary_batch_is_dead_lettered_whole_with_its_reason(damage, error_type, says):
    import base64

    batch = SensorBatch(
        time=T0, asset=ASSET, sensor="m1.vibration", sample_rate_hz=100, values=[0.1] * 100
    )
    raw = damage(_binary(batch))
    outputs = make_run(MemoryModels()).send(topics.SENSOR_BATCHES, [raw], now_ms=T0)
    ((letter, error),) = outputs.dead_letters
    assert error.error_type == error_type
    assert says in error.reason
    assert letter.payload == "base64:" + base64.b64encode(raw).decode()  # nothing lost
    assert not outputs.emits
