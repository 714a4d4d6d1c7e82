"""The peer: the sensor job as a plain Quix Streams application, for `load/bench.py`.

    python load/quix_app.py --bootstrap HOST:PORT --group G --messages N --data-dir DIR

Run in a virtualenv of its own (`load/bench.py --peers` makes it: Quix Streams 3.28 pins
confluent-kafka < 2.13 and pydantic < 2.14, older than LinePulse's). Written as its
documentation shows: a StreamingDataFrame over the batch topic with a bytes deserializer, one
`apply` that decodes a batch, computes its per-second features with numpy and scores them with
the same online detector as the worker's (kept per sensor in the process, as the minimal loop
does), and a `BatchingSink` that writes each checkpoint's rows with one bulk insert into an
embedded ClickHouse; Quix commits the offsets after the sink has flushed. Prints one JSON line:
messages, seconds from the first message to the end.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.sinks import BatchingSink, SinkBatch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load.minimal_loop import SCORED, TABLE, decode, features, peer_arguments, row_of  # noqa: E402
from streams.core.anomaly import DetectorSettings, SensorDetector  # noqa: E402
from streams.store.clickhouse import EmbeddedStore, migrate  # noqa: E402


class ClickHouseSink(BatchingSink):
    """Each checkpoint's rows in one insert."""

    def __init__(self, store: EmbeddedStore) -> None:
        super().__init__()
        self.store = store

    def write(self, batch: SinkBatch) -> None:
        """Insert the rows of the batch."""
        self.store.insert_rows(TABLE, [item.value for item in batch])


def main() -> None:
    args = peer_arguments(__doc__.splitlines()[0])

    store = EmbeddedStore(args.data_dir / "clickhouse")
    migrate(store)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=str(args.data_dir / "state"),
        auto_create_topics=False,
    )
    detectors: dict[str, SensorDetector] = defaultdict(
        lambda: SensorDetector(DetectorSettings(warmup=20))
    )
    first: list[float] = []

    def summarise(raw: bytes) -> dict[str, Any]:
        if not first:
            first.append(time.monotonic())
        header, time_ms, samples = decode(raw)
        columns = features(samples[None, :].astype("float64"))
        second = {name: float(values[0]) for name, values in columns.items()}
        detectors[f"{header['asset']}|{header['sensor']}"].observe({k: second[k] for k in SCORED})
        return row_of(header, time_ms, int(samples.size), second)

    topic = app.topic("linepulse.sensor.batches.v1", value_deserializer="bytes")
    frame = app.dataframe(topic).apply(summarise)
    frame.sink(ClickHouseSink(store))
    app.run(count=args.messages, timeout=args.timeout_s, collect=False)
    elapsed = time.monotonic() - (first[0] if first else time.monotonic())
    store.close()
    print(json.dumps({"messages": args.messages, "seconds": elapsed}), flush=True)


if __name__ == "__main__":
    main()
