"""Every row the sink builds has exactly the columns its table's shape declares."""

from __future__ import annotations

from schemas.events import (
    Alert,
    AnomalyScore,
    DeadLetter,
    QualityFinding,
    SensorSecond,
    SensorSpec,
    VibrationSecond,
)
from schemas.states import State
from schemas.tables import TABLES
from streams.core.oee import OeeTotals
from streams.core.windows import ClosedWindow
from streams.processors.oee_results import oee_result
from streams.store.rows import rows_of
from tests.factories import ASSET, T0, count, counter, order, reading, state

SAMPLES = [
    reading(0, 21.5),
    SensorSecond(
        time=T0,
        asset=ASSET,
        sensor="v",
        samples=10,
        mean=0,
        minimum=0,
        maximum=0,
        rms=0,
        peak=0,
        crest_factor=0,
        kurtosis=0,
        band_low=0,
        band_mid=0,
        band_high=0,
        batch_id="b",
    ),
    state(0, State.PRODUCING),
    count(1),
    counter(1, "good", 5),
    order(0, 1.0),
    oee_result(ClosedWindow(ASSET, T0, T0 + 60_000, OeeTotals(), False), 1, "1m"),
    oee_result(ClosedWindow(ASSET, T0, T0 + 3_600_000, OeeTotals(), False), 1, "hour", True),
    AnomalyScore(
        time=T0,
        asset=ASSET,
        sensor="t",
        score=0.1,
        threshold=0.5,
        is_anomaly=False,
        warming_up=False,
    ),
    Alert(
        time=T0,
        asset=ASSET,
        alert_id="a",
        alert_kind="anomaly",
        status="raised",
        severity="warning",
        source="t",
        message="m",
        raised_at=T0,
    ),
    Alert(
        time=T0,
        asset=ASSET,
        alert_id="b",
        alert_kind="vibration_severity",
        status="raised",
        severity="warning",
        source="v",
        message="m",
        raised_at=T0,
        zone="C",
        component="outer_race",
        evidence={"velocity_rms_mm_s": 3.1, "zone_d_mm_s": 4.5},
        predicted_limit=4.5,
        predicted_limit_at=T0 + 3_600_000,
        predicted_limit_low=T0 + 1_800_000,
        predicted_limit_high=T0 + 7_200_000,
    ),
    DeadLetter(
        time=T0,
        asset=ASSET,
        source_topic="t",
        partition=0,
        offset=1,
        reason="r",
        error_type="schema",
        payload="{}",
    ),
    SensorSpec(time=T0, asset=ASSET, sensor="t", unit="degC"),
    QualityFinding(time=T0, asset=ASSET, sensor="t", rule="stuck"),
    VibrationSecond(
        time=T0,
        asset=ASSET,
        sensor="v",
        velocity_rms_mm_s=3.1,
        zone="C",
        held_zone="B",
        suspected="outer_race",
        bpfo_ratio=12.0,
        predicted_limit=4.5,
        predicted_limit_at=T0 + 3_600_000,
        batch_id="b",
    ),
]


def test_every_row_has_the_columns_its_table_declares():
    written = set()
    for event in SAMPLES:
        for table, row in rows_of(event):
            shape = next(s for s in TABLES.values() if s.qualified == table)
            assert set(row) == set(shape.columns or ()), table
            written.add(shape.name)
    assert written == {name for name, shape in TABLES.items() if shape.columns is not None}


def test_a_row_is_found_again_by_the_sort_key_columns_before_its_time():
    assert TABLES["machine_events"].lookup_prefix == ("asset",)
    assert TABLES["oee_windows"].lookup_prefix == ("asset", "window")
    assert TABLES["sensor_specs"].lookup_prefix == ("asset", "sensor")
