"""The `linepulse` command."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading

from pydantic import ValidationError

from schemas.codec import describe_validation_error
from schemas.exceptions import LinePulseError
from streams.commands.cliargs import settings_from_args
from streams.commands.cliparser import build_parser
from streams.settings import (
    AnomalySettings,
    KafkaSettings,
    MesSettings,
    OeeSettings,
    PublisherSettings,
    SimulatorSettings,
    StoreSettings,
    VibrationSettings,
    WorkerSettings,
)


def _demo(args: argparse.Namespace) -> int:
    from streams.commands.demo import DemoOptions, run_demo
    from streams.commands.demo_faults import demo_faults

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
    options = DemoOptions(duration_s=args.duration, broker=broker, fresh=args.fresh)
    return run_demo(
        options,
        settings_from_args(KafkaSettings, args),
        settings_from_args(StoreSettings, args),
        simulator,
    )


def _worker(args: argparse.Namespace) -> int:
    from connectors.topics import require_broker
    from streams.worker.main import run_worker

    worker = settings_from_args(WorkerSettings, args)
    kafka = settings_from_args(KafkaSettings, args)
    require_broker(kafka)
    if worker.processes > 1 and worker.role == "all":
        from streams.worker.processes import run_processes

        return run_processes(worker, args.argv)
    sys.argv = [sys.argv[0]]  # Faust's worker reads argv; it has been parsed already
    run_worker(kafka, worker, settings_from_args(StoreSettings, args))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from connectors.simulator.plant import PlantSimulator
    from connectors.simulator.run import run_realtime, run_through_devices
    from connectors.topics import require_broker

    kafka = settings_from_args(KafkaSettings, args)
    require_broker(kafka)  # a simulation started against no broker would only fill its spool
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
    from connectors.topics import ensure_topics, require_broker

    kafka = settings_from_args(KafkaSettings, args)
    require_broker(kafka)
    created = ensure_topics(kafka.confluent_config(), kafka.partitions, kafka.replication_factor)
    print("created: " + (", ".join(created) if created else "nothing, all topics exist"))
    return 0


def _query(args: argparse.Namespace) -> int:
    from streams.commands.query_client import run_query

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
    from streams.commands.batch_oee import run_batch
    from streams.core.calendar import load_calendar

    oee = settings_from_args(OeeSettings, args)
    calendar = load_calendar(oee.shift_calendar) if oee.shift_calendar else None
    run_batch(
        args.events,
        args.window,
        args.by,
        getattr(args, "from"),
        args.to,
        categories=oee.categories(),
        calendar=calendar,
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    from streams.commands.score import run_score

    anomaly = settings_from_args(AnomalySettings, args)
    columns = [c.strip() for c in args.value_columns.split(",")] if args.value_columns else None
    rows = run_score(
        args.input,
        args.out,
        args.timestamp_column,
        columns,
        args.sep,
        settings=anomaly.detector(),
        per_asset=anomaly.scope == "asset",
    )
    print(f"wrote {rows} scores to {args.out}", file=sys.stderr)
    return 0


def _vibration(args: argparse.Namespace) -> int:
    from streams.commands.vibration import run_vibration, spec_of_args

    run_vibration(
        args.input,
        args.column,
        args.sample_rate,
        spec_of_args(args),
        settings_from_args(VibrationSettings, args).condition(),
        window_s=args.window_s,
        separator=args.sep,
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from streams.commands.export import export_table

    rows = export_table(
        settings_from_args(StoreSettings, args), args.table, args.start, args.end, args.out
    )
    print(f"wrote {rows} rows to {args.out}", file=sys.stderr)
    return 0


def _db(args: argparse.Namespace) -> int:
    from streams.store.clickhouse import apply_retention, migrate, open_store, schema_version

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
    from streams.commands.brokers import main as broker_main

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
    "vibration": _vibration,
    "export": _export,
    "db": _db,
    "broker": _broker,
}


CHATTY_LIBRARIES = ("asyncua", "pymodbus")
SERVICES = frozenset({"worker", "connect", "mes"})  # long-running: their stderr is their log


def librdkafka_level(command: str, log_level: str | None) -> int:
    """How severe librdkafka's own lines must be to reach stderr: a service writes them to its
    log; the demo and one-shot commands show them only at LINEPULSE_LOG_LEVEL=debug (they say
    in one line what went wrong)."""
    if command in SERVICES or (log_level or "").lower() == "debug":
        return logging.NOTSET
    return logging.CRITICAL + 1


def main(argv: list[str] | None = None) -> int:
    """Run the `linepulse` command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for chatty in CHATTY_LIBRARIES:  # their INFO lines are per session and per request
        logging.getLogger(chatty).setLevel(logging.WARNING)
    logging.getLogger("librdkafka").setLevel(
        librdkafka_level(args.command, os.environ.get("LINEPULSE_LOG_LEVEL"))
    )
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
