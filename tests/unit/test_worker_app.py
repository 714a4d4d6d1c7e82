"""The worker's Faust application, built without a broker."""

from __future__ import annotations

from streams.settings import KafkaSettings, StoreSettings, WorkerSettings
from streams.worker.app import create_app


def test_a_data_dir_that_does_not_exist_yet_is_created(tmp_path):
    data_dir = tmp_path / "fresh" / "checkout"
    app = create_app(KafkaSettings(), WorkerSettings(), StoreSettings(data_dir=data_dir))
    assert (data_dir / "faust").is_dir()
    assert app.conf.web_bind == "127.0.0.1"


def test_a_web_port_of_zero_is_refused_in_one_line():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        WorkerSettings(web_port=0)


def test_a_query_on_a_dir_without_a_store_says_so_and_creates_nothing(tmp_path):
    import pytest

    from streams.commands.query_client import run_query
    from streams.store.clickhouse import StoreError

    missing = tmp_path / "not-a-store"
    with pytest.raises(StoreError, match=f"no LinePulse store in {missing}"):
        run_query(StoreSettings(data_dir=missing), "SELECT 1")
    assert not missing.exists()


def test_each_command_shows_only_the_settings_it_reads_with_the_defaults_it_uses():
    from streams.commands.cliparser import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    score = commands["score"].format_help()
    assert "--anomaly-threshold" in score
    assert "--oee-window-s" not in score
    assert "--kafka-bootstrap" not in score
    assert "--shift-calendar" in commands["oee"].format_help()
    demo = commands["demo"].format_help()
    assert "--through-protocols" not in demo  # the demo always goes through the protocols
    assert "the demo's five: spike:m1" in demo
    flat = " ".join(demo.split())
    assert "(default: until Ctrl-C) [env: LINEPULSE_DEMO_DURATION]" in flat
    assert "Ctrl-C) (default: unset)" not in flat


def test_at_log_level_warning_debug_records_are_not_built(tmp_path):
    """Faust's spinner would set the root logger to DEBUG at warning level, so that every
    debug call in Faust and aiokafka built a record (seen costing 7 % of the worker's time)."""
    import logging

    from streams.worker.main import QuietWorker

    app = create_app(KafkaSettings(), WorkerSettings(), StoreSettings(data_dir=tmp_path))
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        worker = QuietWorker(app, loglevel="warning")
        worker.on_setup_root_logger(root, logging.WARNING)
        assert worker.spinner is None
        assert not logging.getLogger("aiokafka.producer").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def test_each_role_builds_only_its_parts_and_the_store_reads_in_a_group_of_its_own(tmp_path):
    from streams.worker.main import build_app
    from streams.worker.processes import plan

    def parts(role: str) -> tuple[str, set[str]]:
        settings = WorkerSettings(role=role)
        app = build_app(KafkaSettings(), settings, StoreSettings(data_dir=tmp_path))
        assert not app.agents  # Faust reads no topic: the inputs are librdkafka consumers
        services = {service.__name__ for service in app._extra_services}
        return app.conf.id, services & {"ProcessorInput", "SinkInput", "StoreService"}

    assert parts("all") == ("linepulse-all-0", {"ProcessorInput", "SinkInput", "StoreService"})
    assert parts("compute") == ("linepulse-compute-0", {"ProcessorInput"})
    assert parts("store") == ("linepulse-store-0", {"SinkInput", "StoreService"})
    # the processors read in group "linepulse" in every role, the sink in a group of its own
    assert WorkerSettings(role="compute").input_group_id == "linepulse"
    assert WorkerSettings(role="all").sink_group_id == "linepulse-store"
    children = plan(WorkerSettings(processes=3, web_port=7000))
    assert [(c.role, c.index, c.web_port) for c in children] == [
        ("store", 0, 7000),
        ("compute", 0, 7001),
        ("compute", 1, 7002),
        ("compute", 2, 7003),
    ]


def test_a_port_the_processes_need_that_is_taken_is_refused_in_one_line():
    import socket

    import pytest

    from connectors.loopback import free_port_block
    from streams.worker.processes import WorkerPortsInUse, run_processes

    base = free_port_block(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 2))
        taken.listen()
        with pytest.raises(WorkerPortsInUse, match=f"port {base + 2} .* compute process 1"):
            run_processes(WorkerSettings(processes=2, web_port=base), ["worker"])
