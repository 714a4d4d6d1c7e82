"""The ceiling Faust sets, for `load/bench_oee.py`: the worker's Faust application with one agent
that takes the OEE inputs in the worker's batches and does nothing with them.

    LINEPULSE_KAFKA_BOOTSTRAP=HOST:PORT LINEPULSE_APP_ID=G python load/faust_floor.py worker

Same app settings as the worker (`create_app`), the same raw topics and `take_events` batches;
the events are acked when the next batch is taken and committed by Faust, as in the worker. No
processor, no outputs, no snapshots, no store.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import topics  # noqa: E402
from streams.settings import KafkaSettings, StoreSettings, WorkerSettings  # noqa: E402
from streams.worker.app import create_app, raw_topic  # noqa: E402
from streams.worker.main import QuietWorker  # noqa: E402

INPUTS = (topics.MACHINE_EVENTS, topics.MES_EVENTS)


def main() -> None:
    """Run the floor app as a Faust worker until it is stopped."""
    kafka, worker, store = KafkaSettings(), WorkerSettings(), StoreSettings()
    app = create_app(kafka, worker, store)

    @app.agent(raw_topic(app, kafka, *INPUTS), name="take_only")
    async def take_only(stream: Any) -> None:
        """Take the inputs in the worker's batches; nothing else."""
        async for _ in stream.take_events(worker.batch_events, within=worker.batch_s):
            pass

    QuietWorker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()
