"""The sink against the real embedded ClickHouse: refused rows are isolated, the rest stored."""

from __future__ import annotations

import time

import pytest

from schemas.codec import encode
from streams.sink import write_batch
from streams.store import EmbeddedStore, migrate, query_rows
from tests.factories import T0, reading


def reading_at(now_s: float, offset_s: float, value: float):
    return reading((now_s * 1000 - T0) / 1000 + offset_s, value)


pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path):
    opened = EmbeddedStore(tmp_path / "clickhouse")
    migrate(opened)
    yield opened
    opened.close()


def test_rows_clickhouse_refuses_are_isolated_and_the_rest_is_stored(store):
    store.execute(
        "ALTER TABLE linepulse.sensor_readings ADD CONSTRAINT plausible CHECK value < 1000"
    )
    now = time.time()  # raw readings older than their 30-day TTL would be dropped at once
    values = [encode(reading_at(now, i, 20.0 + i)) for i in range(10)]
    values[6] = encode(reading_at(now, 6, 5000.0))
    values.append(b"not json")
    result = write_batch(store, values)
    assert result.rows == 9
    assert list(result.refused) == [6]
    assert "plausible" in result.refused[6]
    assert list(result.undecodable) == [10]
    stored = query_rows(
        store, "SELECT count() AS n, max(value) AS top FROM linepulse.sensor_readings"
    )
    assert stored == [{"n": 9, "top": 29.0}]


def test_migrations_apply_once_and_are_recorded(store):
    assert migrate(store) == []
    versions = query_rows(store, "SELECT version FROM linepulse.schema_migrations")
    assert versions == [{"version": 1}]
