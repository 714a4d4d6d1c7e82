"""One-shot commands: what they refuse, in one line, and what they accept."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from pathlib import Path

import pytest

from schemas.exceptions import LinePulseError

MIGRATIONS = Path(__file__).parents[2] / "schemas" / "migrations"


def test_opcua_browse_of_an_endpoint_nobody_listens_on_says_so_in_one_line():
    from connectors.loopback import free_port
    from connectors.opcua.browse import browse

    url = f"opc.tcp://127.0.0.1:{free_port()}/"
    with pytest.raises(LinePulseError) as caught:
        asyncio.run(browse(url, 1, None, "plant1/line1/st1/m1"))
    message = str(caught.value)
    assert url in message
    assert "\n" not in message


def test_the_opcua_browse_command_exits_2_with_one_line(capsys):
    from connectors.loopback import free_port
    from streams.commands.cli import main

    url = f"opc.tcp://127.0.0.1:{free_port()}/"
    assert main(["opcua", "browse", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("linepulse opcua: ")
    assert url in err[0]


def _created_relations() -> set[str]:
    """Every table and (non-materialized) view the migrations create."""
    names = set()
    pattern = re.compile(
        r"CREATE (?:OR REPLACE )?(?:TABLE|VIEW)(?: IF NOT EXISTS)? linepulse\.(\w+)"
    )
    for path in MIGRATIONS.glob("*.sql"):
        names.update(pattern.findall(path.read_text()))
    return names


def test_every_table_and_view_the_migrations_create_can_be_exported():
    from streams.commands.export import export_sql

    relations = _created_relations()
    assert {"readings_checked", "sensor_specs", "oee_levels", "sensor_readings"} <= relations
    for name in relations:
        sql = export_sql(name, "2026-01-31T06:00:00Z", "2026-01-31T07:00:00Z")
        assert sql.startswith(f"SELECT * FROM linepulse.{name} WHERE ")


def test_export_of_readings_checked_and_sensor_specs_filters_by_time():
    from streams.commands.export import ExportError, export_sql

    assert export_sql("readings_checked", "2026-01-31T06:00:00Z", None) == (
        "SELECT * FROM linepulse.readings_checked WHERE time >= "
        "fromUnixTimestamp64Milli(1769839200000) ORDER BY time"
    )
    assert export_sql("sensor_specs", None, None) == (
        "SELECT * FROM linepulse.sensor_specs ORDER BY time"
    )
    with pytest.raises(ExportError, match="unknown table 'nope'"):
        export_sql("nope", None, None)


def test_every_librdkafka_client_config_carries_the_projects_logger():
    from connectors.publisher import producer_config
    from connectors.settings import KafkaSettings

    config = KafkaSettings().confluent_config()
    assert isinstance(config["logger"], logging.Logger)
    assert config["logger"].name == "librdkafka"
    assert producer_config(config)["logger"] is config["logger"]


def test_oee_by_shift_without_shift_events_or_calendar_says_so(tmp_path):
    from streams.commands.batch_oee import run_batch

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"kind":"machine.state","time":"2026-01-31T06:00:00Z","asset":"p/l/s/m","state":10000}\n'
    )
    out, err = io.StringIO(), io.StringIO()
    assert run_batch(events, "shift", "machine", None, "2026-01-31T07:00:00Z", out, err) == 0
    assert "no mes.shift.started event" in err.getvalue()
    assert "shift calendar" in err.getvalue()
    assert "--to closes" not in err.getvalue()


def test_db_and_broker_subcommands_say_what_each_does():
    import argparse

    from streams.commands.cliparser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command, choices in (
        ("db", ("migrate", "version")),
        ("broker", ("kafka", "tansu", "fetch")),
    ):
        help_text = sub.choices[command].format_help()
        for choice in choices:
            line = next((ln for ln in help_text.splitlines() if ln.strip().startswith(choice)), "")
            assert len(line.split()) > 3, f"{command} {choice} has no help: {help_text}"


def test_the_mes_endpoint_on_a_port_already_taken_says_so_in_one_line():
    import socket

    from connectors.mes.endpoint import MesEndpoint, serve
    from connectors.settings import MesSettings

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = MesSettings(token="t", port=port)
        endpoint = MesEndpoint(None, "t", 10)  # type: ignore[arg-type]  # never publishes here
        with pytest.raises(LinePulseError) as caught:
            asyncio.run(serve(endpoint, settings))
    assert f"cannot listen on 127.0.0.1:{port}" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_librdkafka_lines_reach_the_terminal_of_services_only_unless_asked_for():
    import logging

    from streams.commands.cli import librdkafka_level

    shown = logging.ERROR  # a connect failure
    assert librdkafka_level("worker", None) <= shown
    assert librdkafka_level("connect", "info") <= shown
    assert librdkafka_level("demo", None) > shown
    assert librdkafka_level("topics", "warning") > shown
    assert librdkafka_level("demo", "DEBUG") <= shown
