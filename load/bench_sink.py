"""Sink throughput against a bare bulk insert of the same rows into the same engine.

    python load/bench_sink.py --rows 200000 --json load/bench-sink.json

All run in one process on one embedded ClickHouse (chdb) with LinePulse's schema (its
materialized views included), one after the other on the same readings, each once the
background merges of the one before are done:
- bare JSON: the rows already built, serialized with orjson and inserted as JSONEachRow in
  blocks of the sink's batch size;
- bare Arrow: the rows already built, inserted through the store's columnar insert (Arrow
  columns typed like the table) in the same blocks: the least a Python writer must do;
- sink: `Sink.write` on the Kafka messages, as the worker calls it: decode and validate
  each message, fill in its production context (a work order, operator and vehicle known for
  every line), build its rows, insert (and the replay lookups after a restart, measured apart).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import report  # noqa: E402

from schemas.codec import encode  # noqa: E402
from schemas.events import (  # noqa: E402
    OperatorLogin,
    SensorReading,
    VehicleAtStation,
    WorkOrderStarted,
)
from streams.core.context import ContextBook  # noqa: E402
from streams.processors.protocol import Message  # noqa: E402
from streams.store.clickhouse import EmbeddedStore, migrate, query_rows  # noqa: E402
from streams.store.exactly_once import ReplayGuard  # noqa: E402
from streams.store.rows import rows_of  # noqa: E402
from streams.store.sink import Sink  # noqa: E402

TABLE = "linepulse.sensor_readings"


def readings(count: int) -> list[SensorReading]:
    start = int(time.time() * 1000) - 3_600_000
    return [
        SensorReading(
            time=start + i,
            asset=f"bench/l{i % 4}/s{i % 16}/m{i % 64}",
            sensor=f"t{i % 5}",
            value=20.0 + (i % 1000) / 100,
        )
        for i in range(count)
    ]


def count_rows(store: EmbeddedStore) -> int:
    return int(query_rows(store, f"SELECT count() AS n FROM {TABLE}")[0]["n"])


def bare(store: EmbeddedStore, events: list[SensorReading], batch: int) -> float:
    rows = [row for event in events for _, row in rows_of(event)]
    started = time.perf_counter()
    for first in range(0, len(rows), batch):
        block = b"\n".join(orjson.dumps(row) for row in rows[first : first + batch])
        store.execute(f"INSERT INTO {TABLE} FORMAT JSONEachRow\n" + block.decode())
    return time.perf_counter() - started


def bare_arrow(store: EmbeddedStore, events: list[SensorReading], batch: int) -> float:
    rows = [row for event in events for _, row in rows_of(event)]
    started = time.perf_counter()
    for first in range(0, len(rows), batch):
        store.insert_rows(TABLE, rows[first : first + batch])
    return time.perf_counter() - started


def quiet(store: EmbeddedStore, timeout_s: float = 120) -> None:
    """Wait until the engine's background merges of the phase before are done, so that no
    phase pays for another's (the views' tables are not truncated between phases)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not int(query_rows(store, "SELECT count() AS n FROM system.merges")[0]["n"]):
            return
        time.sleep(0.2)


def context_book(start_ms: int) -> ContextBook:
    """What MES would have said for the benchmark's lines before its readings."""
    book = ContextBook()
    for line in range(4):
        asset = f"bench/l{line}"
        book.apply(
            WorkOrderStarted(
                time=start_ms,
                asset=asset,
                work_order=f"WO{line}",
                product="suv",
                ideal_cycle_time_s=60,
            )
        )
        book.apply(OperatorLogin(time=start_ms, asset=asset, operator=f"op{line}"))
        book.apply(VehicleAtStation(time=start_ms, asset=asset, vin="WVWZZZ1JZXW000001"))
    return book


def sink(store: EmbeddedStore, values: list[bytes], batch: int, guard: ReplayGuard | None) -> float:
    context = context_book(int(time.time() * 1000) - 7_200_000)
    writer = Sink(store, context, guard=guard)
    started = time.perf_counter()
    for first in range(0, len(values), batch):
        block = values[first : first + batch]
        writer.write([Message("readings", 0, first + i, v) for i, v in enumerate(block)])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000, help="rows per insert (the sink's)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    events = readings(args.rows)
    values = [encode(event) for event in events]
    with tempfile.TemporaryDirectory() as directory:
        store = EmbeddedStore(Path(directory) / "clickhouse")
        try:
            migrate(store)
            bare_s = bare(store, events, args.batch)
            assert count_rows(store) == args.rows
            store.execute(f"TRUNCATE TABLE {TABLE}")
            quiet(store)
            arrow_s = bare_arrow(store, events, args.batch)
            assert count_rows(store) == args.rows
            store.execute(f"TRUNCATE TABLE {TABLE}")
            quiet(store)
            sink_s = sink(store, values, args.batch, None)
            assert count_rows(store) == args.rows
            quiet(store)
            # a restart that reads everything again: every row is looked up and none inserted
            replay_s = sink(store, values, args.batch, ReplayGuard())
            assert count_rows(store) == args.rows
        finally:
            store.close()
    result = {
        "rows": args.rows,
        "batch": args.batch,
        "bare_rows_per_s": round(args.rows / bare_s),
        "bare_arrow_rows_per_s": round(args.rows / arrow_s),
        "sink_rows_per_s": round(args.rows / sink_s),
        "sink_ratio_to_bare": round(bare_s / sink_s, 3),
        "sink_ratio_to_bare_arrow": round(arrow_s / sink_s, 3),
        "replay_check_rows_per_s": round(args.rows / replay_s),
        "replay_check_ratio_to_bare": round(bare_s / replay_s, 3),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
