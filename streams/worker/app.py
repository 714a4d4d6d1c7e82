"""The Faust application, and opening the ClickHouse store for a worker."""

from __future__ import annotations

from typing import Any

import faust

from streams import metrics
from streams.logs import json_handler
from streams.settings import KafkaSettings, StoreSettings, WorkerSettings
from streams.store.clickhouse import (
    Store,
    apply_retention,
    migrate,
    open_store,
    require_schema,
    until_reachable,
)


def _credentials(kafka: KafkaSettings) -> Any:
    if kafka.sasl_mechanism is None:
        return kafka.ssl_context()
    password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    if kafka.sasl_mechanism == "PLAIN":
        return faust.SASLCredentials(
            username=kafka.sasl_username, password=password, ssl_context=kafka.ssl_context()
        )
    return faust.SASLCredentials(
        username=kafka.sasl_username,
        password=password,
        mechanism=kafka.sasl_mechanism,
        ssl_context=kafka.ssl_context(),
    )


def create_app(kafka: KafkaSettings, worker: WorkerSettings, store: StoreSettings) -> faust.App:
    """The Faust application of a worker (no agents yet); creates the data dir it keeps its
    state in (a fresh checkout has none)."""
    faust_dir = store.data_dir / "faust"
    if worker.role != "all":
        faust_dir = faust_dir / f"{worker.role}-{worker.process_index}"
    faust_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        worker.faust_app_id,
        broker=kafka.faust_broker_url(),
        broker_credentials=_credentials(kafka),
        store="memory://",
        web_host=worker.web_host,
        web_bind=worker.web_host,  # Faust listens on every interface unless told
        web_port=worker.web_port,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        broker_commit_interval=worker.commit_interval_s,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        consumer_auto_offset_reset=worker.auto_offset_reset,
        producer_acks=-1,
        producer_compression_type="lz4",
        producer_max_request_size=8 * 1024 * 1024,
        consumer_max_fetch_size=16 * 1024 * 1024,
        stream_wait_empty=False,
        table_standby_replicas=0,
        web_enabled=True,
        datadir=str(faust_dir),
        loghandlers=[json_handler()] if worker.log_format == "json" else [],
    )
    return app


def open_worker_store(settings: StoreSettings) -> Store:
    """Open ClickHouse (waiting for a server that cannot be reached yet); the embedded engine is
    migrated in place, a server must be migrated."""
    store = until_reachable(
        lambda: open_store(settings), f"opening ClickHouse at {settings.clickhouse_url}"
    )
    if settings.clickhouse_url is None:
        migrate(store)
        apply_retention(store, settings)
    until_reachable(lambda: require_schema(store), "reading the ClickHouse schema version")
    metrics.CLICKHOUSE_REACHABLE.set(1)
    return store
