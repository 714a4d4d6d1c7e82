"""The `linepulse` command."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from schemas.codec import describe_validation_error
from schemas.exceptions import LinePulseError
from streams.cliargs import add_env_flag, add_settings_flags, settings_from_args
from streams.settings import (
    KafkaSettings,
    MesSettings,
    PublisherSettings,
    SimulatorSettings,
    StoreSettings,
    WorkerSettings,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linepulse", description="Live OEE and anomaly alerts for automotive plants."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="simulated plant -> Kafka -> worker -> ClickHouse, live"
    )
    add_env_flag(
        demo,
        "--duration",
        "LINEPULSE_DEMO_DURATION",
        float,
        None,
        "stop cleanly after this many seconds (default: until Ctrl-C)",
    )
    add_env_flag(
        demo,
        "--broker",
        "LINEPULSE_DEMO_BROKER",
        str,
        "tansu",
        "tansu: start the bundled Tansu broker; external: use LINEPULSE_KAFKA_BOOTSTRAP",
        choices=("tansu", "external"),
    )
    demo_settings: tuple[type[BaseSettings], ...] = (
        StoreSettings,
        SimulatorSettings,
        KafkaSettings,
    )
    for cls in demo_settings:
        add_settings_flags(demo, cls)

    worker = commands.add_parser("worker", help="run the stream processors and the sink")
    worker_settings: tuple[type[BaseSettings], ...] = (KafkaSettings, WorkerSettings, StoreSettings)
    for settings_cls in worker_settings:
        add_settings_flags(worker, settings_cls)

    simulate = commands.add_parser("simulate", help="publish a simulated plant to Kafka")
    add_env_flag(
        simulate,
        "--duration",
        "LINEPULSE_SIMULATE_DURATION",
        float,
        None,
        "seconds to run (default: until Ctrl-C)",
    )
    for cls in (KafkaSettings, SimulatorSettings, PublisherSettings):
        add_settings_flags(simulate, cls)

    connect = commands.add_parser(
        "connect", help="run the configured connectors (Modbus TCP, OPC UA)"
    )
    connect.add_argument("--config", type=Path, required=True, help="plant.yaml with the devices")
    add_env_flag(
        connect,
        "--health-host",
        "LINEPULSE_CONNECT_HEALTH_HOST",
        str,
        "127.0.0.1",
        "address of the /metrics, /livez and /health endpoint (0.0.0.0 in a container)",
    )
    add_env_flag(
        connect,
        "--health-port",
        "LINEPULSE_CONNECT_HEALTH_PORT",
        int,
        9108,
        "port of the /metrics, /livez and /health endpoint (0: none)",
    )
    add_settings_flags(connect, KafkaSettings)
    add_settings_flags(connect, PublisherSettings)

    opcua = commands.add_parser("opcua", help="OPC UA tools")
    opcua_commands = opcua.add_subparsers(dest="opcua_command", required=True)
    browse = opcua_commands.add_parser(
        "browse", help="walk a server's address space and write a starting tag map"
    )
    browse.add_argument("endpoint", help="opc.tcp://host:port/path")
    browse.add_argument("--depth", type=int, default=4, help="levels of objects to descend")
    browse.add_argument("--match", default=None, help="regex on the browse path (Obj.Var)")
    browse.add_argument(
        "--asset", default="plant/line/station/machine", help="asset path to put on every tag"
    )
    browse.add_argument("--output", "-o", type=Path, default=None, help="file (default: stdout)")

    mes = commands.add_parser("mes", help="serve the MES endpoint (HTTP JSON events to Kafka)")
    add_settings_flags(mes, MesSettings)
    add_settings_flags(mes, KafkaSettings)
    add_settings_flags(mes, PublisherSettings)

    topics = commands.add_parser("topics", help="create LinePulse's topics on the broker")
    add_settings_flags(topics, KafkaSettings)

    query = commands.add_parser("query", help="run SQL on the store (also while a demo runs)")
    query.add_argument("sql", help="the SQL statement")
    add_env_flag(
        query,
        "--format",
        "LINEPULSE_QUERY_FORMAT",
        str,
        "table",
        "output format",
        choices=("table", "csv", "json", "tsv", "parquet"),
    )
    query.add_argument(
        "--output", type=Path, default=None, help="write to this file instead of standard output"
    )
    add_settings_flags(query, StoreSettings)

    oee = commands.add_parser(
        "oee", help="OEE from a JSONL file of events (the same contracts as on the topics)"
    )
    oee.add_argument("--events", type=Path, required=True, help="JSONL file, one event a line")
    add_settings_flags(
        oee,
        WorkerSettings,
        only=(
            "oee_microstop_max_s",
            "oee_availability_loss_states",
            "oee_performance_loss_states",
            "oee_excluded_states",
        ),
    )
    add_env_flag(oee, "--from", "LINEPULSE_OEE_FROM", str, None, "first window start (ISO-8601)")
    add_env_flag(oee, "--to", "LINEPULSE_OEE_TO", str, None, "end of the last window (ISO-8601)")
    add_env_flag(
        oee,
        "--window",
        "LINEPULSE_OEE_WINDOW",
        str,
        "1h",
        "window: a length (10s, 1m, 15m, 1h), day (UTC) or shift (from MES shift events)",
    )
    add_env_flag(
        oee,
        "--by",
        "LINEPULSE_OEE_BY",
        str,
        "machine",
        "asset level of the rows",
        choices=("machine", "line", "plant"),
    )

    score = commands.add_parser(
        "score", help="run the streaming anomaly detector over a CSV, row by row"
    )
    score.add_argument("--input", type=Path, required=True, help="the CSV to score")
    score.add_argument("--out", type=Path, required=True, help="where to write timestamp,score")
    add_env_flag(
        score,
        "--timestamp-column",
        "LINEPULSE_SCORE_TIMESTAMP_COLUMN",
        str,
        "timestamp",
        "column holding the row's time",
    )
    add_env_flag(
        score,
        "--value-columns",
        "LINEPULSE_SCORE_VALUE_COLUMNS",
        str,
        None,
        "comma-separated columns to score (default: every numeric column but the "
        "timestamp and label columns such as anomaly or changepoint)",
    )
    add_env_flag(score, "--sep", "LINEPULSE_SCORE_SEP", str, ",", "field separator")
    add_settings_flags(score, WorkerSettings)

    export = commands.add_parser("export", help="a table (or a time range) to a Parquet file")
    export.add_argument("--table", required=True, help="e.g. oee_windows, sensor_seconds, alerts")
    export.add_argument("--from", dest="start", default=None, help="ISO-8601 start (inclusive)")
    export.add_argument("--to", dest="end", default=None, help="ISO-8601 end (exclusive)")
    export.add_argument("out", type=Path, help="the Parquet file to write")
    add_settings_flags(export, StoreSettings)

    db = commands.add_parser("db", help="manage the ClickHouse schema")
    db.add_argument("action", choices=("migrate", "version"))
    add_settings_flags(db, StoreSettings)

    broker = commands.add_parser("broker", help="run a local broker in the foreground")
    broker.add_argument("kind", choices=("kafka", "tansu", "fetch"))
    add_env_flag(broker, "--port", "LINEPULSE_BROKER_PORT", int, 9092, "listener port")
    return parser


def _demo(args: argparse.Namespace) -> int:
    from streams.demo import DemoOptions, demo_faults, run_demo

    simulator = settings_from_args(SimulatorSettings, args)
    if (
        "LINEPULSE_SIM_FAULTS" not in os.environ
        and getattr(args, "SimulatorSettings.faults") is None
    ):
        simulator = simulator.model_copy(update={"faults": demo_faults(simulator.machines)})
    bootstrap_given = getattr(args, "KafkaSettings.bootstrap") or os.environ.get(
        "LINEPULSE_KAFKA_BOOTSTRAP"
    )
    broker = "external" if bootstrap_given else args.broker
    options = DemoOptions(duration_s=args.duration, broker=broker)
    return run_demo(
        options,
        settings_from_args(KafkaSettings, args),
        settings_from_args(StoreSettings, args),
        simulator,
    )


def _worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    worker = settings_from_args(WorkerSettings, args)
    sys.argv = [sys.argv[0]]  # Faust's worker reads argv; it has been parsed already
    run_worker(
        settings_from_args(KafkaSettings, args), worker, settings_from_args(StoreSettings, args)
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from connectors.simulator.plant import PlantSimulator
    from connectors.simulator.run import run_realtime, run_through_devices

    kafka = settings_from_args(KafkaSettings, args)
    now = int(time.time() * 1000)
    settings = settings_from_args(SimulatorSettings, args)
    simulator = PlantSimulator(settings, now - now % 1000)
    stop = threading.Event()
    try:
        publisher = settings_from_args(PublisherSettings, args).publisher(kafka, "simulate")
        if settings.through_protocols:
            count = asyncio.run(run_through_devices(simulator, publisher, args.duration, stop))
        else:
            count = run_realtime(simulator, publisher, args.duration, stop)
    except KeyboardInterrupt:
        stop.set()
        return 0
    print(f"published {count} events")
    return 0


def _connect(args: argparse.Namespace) -> int:
    import asyncio

    from connectors.run import load_config, run_connectors

    config = load_config(args.config)
    kafka = settings_from_args(KafkaSettings, args)
    publisher = settings_from_args(PublisherSettings, args).publisher(kafka, "connect")
    health = (args.health_host, args.health_port) if args.health_port else None
    asyncio.run(run_connectors(config, publisher, health_address=health))
    return 0


def _opcua(args: argparse.Namespace) -> int:
    import asyncio

    import yaml

    from connectors.opcua.browse import browse

    found = asyncio.run(browse(args.endpoint, args.depth, args.match, args.asset))
    text = yaml.safe_dump(found, sort_keys=False, allow_unicode=True)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    tags = len(found["opcua"][0]["tags"])
    print(f"{tags} numeric variables found; set each tag's asset before use", file=sys.stderr)
    return 0


def _mes(args: argparse.Namespace) -> int:
    import asyncio

    from connectors.mes.endpoint import MesEndpoint, serve

    settings = settings_from_args(MesSettings, args)
    kafka = settings_from_args(KafkaSettings, args)
    publisher = settings_from_args(PublisherSettings, args).publisher(kafka, "mes")
    assert settings.token is not None  # the settings refuse to exist without one
    endpoint = MesEndpoint(publisher, settings.token.get_secret_value(), settings.max_events)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(endpoint, settings))
    return 0


def _topics(args: argparse.Namespace) -> int:
    from connectors.topics import ensure_topics

    kafka = settings_from_args(KafkaSettings, args)
    created = ensure_topics(kafka.confluent_config(), kafka.partitions, kafka.replication_factor)
    print("created: " + (", ".join(created) if created else "nothing, all topics exist"))
    return 0


def _query(args: argparse.Namespace) -> int:
    from streams.query_client import run_query

    result = run_query(settings_from_args(StoreSettings, args), args.sql, args.format)
    if args.output is not None:
        args.output.write_bytes(result)
    elif args.format == "parquet" and sys.stdout.isatty():
        print("parquet is binary: give --output FILE or redirect the output", file=sys.stderr)
        return 2
    else:
        sys.stdout.buffer.write(result)
    return 0


def _oee(args: argparse.Namespace) -> int:
    from streams.batch import run_batch
    from streams.calendar import load_calendar
    from streams.settings import state_categories

    worker = settings_from_args(WorkerSettings, args)
    calendar = load_calendar(worker.shift_calendar) if worker.shift_calendar else None
    run_batch(
        args.events,
        args.window,
        args.by,
        getattr(args, "from"),
        args.to,
        categories=state_categories(worker),
        calendar=calendar,
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    from streams.scoring import detector_settings, run_score

    settings = detector_settings(settings_from_args(WorkerSettings, args))
    columns = [c.strip() for c in args.value_columns.split(",")] if args.value_columns else None
    rows = run_score(
        args.input, args.out, args.timestamp_column, columns, args.sep, settings=settings
    )
    print(f"wrote {rows} scores to {args.out}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from streams.export import export_table

    rows = export_table(
        settings_from_args(StoreSettings, args), args.table, args.start, args.end, args.out
    )
    print(f"wrote {rows} rows to {args.out}", file=sys.stderr)
    return 0


def _db(args: argparse.Namespace) -> int:
    from streams.store import apply_retention, migrate, open_store, schema_version

    settings = settings_from_args(StoreSettings, args)
    store = open_store(settings)
    try:
        if args.action == "migrate":
            applied = migrate(store)
            print(f"applied: {applied or 'nothing, schema is current'}")
            retention = apply_retention(store, settings)
            print(f"retention changed: {', '.join(retention) or 'nothing'}")
        print(f"schema version: {schema_version(store)}")
    finally:
        store.close()
    return 0


def _broker(args: argparse.Namespace) -> int:
    from connectors.broker import main as broker_main

    return broker_main([args.kind, str(args.port)])


COMMANDS = {
    "demo": _demo,
    "mes": _mes,
    "opcua": _opcua,
    "worker": _worker,
    "simulate": _simulate,
    "topics": _topics,
    "connect": _connect,
    "query": _query,
    "oee": _oee,
    "score": _score,
    "export": _export,
    "db": _db,
    "broker": _broker,
}


CHATTY_LIBRARIES = ("asyncua", "pymodbus")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for chatty in CHATTY_LIBRARIES:  # their INFO lines are per session and per request
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except LinePulseError as error:
        print(f"linepulse {args.command}: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:
        print(
            f"linepulse {args.command}: invalid setting: {describe_validation_error(error)}",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
