"""What a user sees when a command cannot start: one line and a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from connectors.loopback import free_port

pytestmark = pytest.mark.integration


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.commands.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["worker", "topics", "simulate"])
def test_a_broker_that_cannot_be_reached_is_one_line_naming_the_setting(command, tmp_path):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = run_cli(
        command, LINEPULSE_KAFKA_BOOTSTRAP=address, LINEPULSE_DATA_DIR=str(tmp_path / "data")
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"cannot reach Kafka at {address}" in lines[0]
    assert "LINEPULSE_KAFKA_BOOTSTRAP" in lines[0]


def test_a_local_broker_stopped_with_sigterm_stops_its_broker_process_too():
    import signal
    import socket
    import time

    port = free_port()
    command = subprocess.Popen(
        [sys.executable, "-m", "streams.commands.cli", "broker", "tansu", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert command.stdout is not None
        assert "listening" in command.stdout.readline()
        command.send_signal(signal.SIGTERM)
        command.wait(30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) != 0:
                    return  # nothing listens any more: the broker is gone
            time.sleep(0.2)
        raise AssertionError(f"the Tansu broker still listens on {port} after SIGTERM")
    finally:
        command.kill()
