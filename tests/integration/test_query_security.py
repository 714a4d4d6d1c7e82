"""The worker's /query endpoint through a real worker process and `linepulse query`: queries run
read-only, every refusal is one line, nothing reaches files or the network, nothing changes in
the store, and the token is required when set."""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ONLY_NEW_EVENTS, WorkerProcess

pytestmark = pytest.mark.integration

TOKEN = "query-token-for-the-test-0123456789"
SHAPE_SQL = (
    "SELECT (SELECT groupArray(name) FROM (SELECT name FROM system.tables "
    "WHERE database = 'linepulse' ORDER BY name)) AS tables, "
    "(SELECT count() FROM linepulse.schema_migrations) AS migrations, "
    "(SELECT count() FROM linepulse.alerts) AS alerts"
)


@pytest.fixture(scope="module")
def secured(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One worker for the module: a query token, a 1 s time limit, results up to 1 MB."""
    process = WorkerProcess(
        kafka_bootstrap,
        tmp_path_factory.mktemp("secured"),
        query_token=TOKEN,
        query_timeout_s=1,
        query_max_result_mb=1,
        **ONLY_NEW_EVENTS,
    )
    process.start()
    yield process
    process.stop()


def linepulse(
    data_dir: Path, *args: str, token: str | None = TOKEN, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEPULSE_")}
    env["LINEPULSE_DATA_DIR"] = str(data_dir)
    if token is not None:
        env["LINEPULSE_QUERY_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "streams.commands.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def refused(worker: WorkerProcess, sql: str, token: str | None = TOKEN) -> str:
    """`linepulse query` fails with exit code 2 and one line on stderr; returns that line. The
    worker still runs (SYSTEM SHUTDOWN would stop it, and a query would then open the store
    itself instead of going through the worker)."""
    result = linepulse(worker.data_dir, "query", sql, token=token)
    assert worker.process is not None
    assert worker.process.poll() is None, worker.log_tail()
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("linepulse query: ")
    return lines[0]


def shape(worker: WorkerProcess) -> dict:
    result = linepulse(worker.data_dir, "query", "--format", "json", SHAPE_SQL)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture
def loopback_http() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback that records every request it gets."""
    seen: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the handler's API
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"secret\n")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/x", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_select_runs_and_the_documented_queries_pass_the_check(secured):
    result = linepulse(
        secured.data_dir, "query", "--format", "csv", "SELECT count() > 0 AS ok FROM system.tables"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['"ok"', "1"]
    text = (Path(__file__).resolve().parents[2] / "docs" / "queries.md").read_text()
    for sql in re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL):
        result = linepulse(secured.data_dir, "query", "--format", "json", sql)
        assert result.returncode == 0, (sql, result.stderr)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT * FROM file('/etc/hostname', 'LineAsString')", r"file\(\) is refused"),
        ("SELECT file('/etc/hostname')", r"file\(\) is refused"),
        ("SELECT * FROM \"file\" /* hidden */ ('/etc/hostname')", r"file\(\) is refused"),
        ("DESCRIBE TABLE file('/etc/hostname', 'LineAsString')", r"file\(\) is refused"),
        ("SELECT * FROM python(pipeline)", r"python\(\) is refused"),
        ("SELECT * FROM remote('127.0.0.1:9000', system.one)", r"remote\(\) is refused"),
        ("SET readonly = 0", "SET is refused"),
        ("SELECT getSetting('readonly') SETTINGS readonly = 0", "SETTINGS are refused"),
        ("SELECT 1 FORMAT CSV SETTINGS readonly = 2", "SETTINGS are refused"),
        ("SYSTEM SHUTDOWN", "SYSTEM is refused"),
        ("SELECT 1 +", "not one valid SQL statement"),
    ],
)
def test_refusals_are_one_line(secured, sql, reason):
    assert re.search(reason, refused(secured, sql))


def test_url_reaches_nothing(secured, loopback_http):
    address, seen = loopback_http
    line = refused(secured, f"SELECT * FROM url('{address}', 'LineAsString')")
    assert "url() is refused" in line
    assert seen == []


def test_writes_are_refused_and_change_nothing(secured, tmp_path):
    before = shape(secured)
    assert before["migrations"] > 0
    outfile = tmp_path / "out.csv"
    for sql, reason in [
        ("INSERT INTO linepulse.schema_migrations (version, name) VALUES (999, 'x')", "INSERT"),
        ("CREATE TABLE linepulse.evil (a UInt8) ENGINE = Memory", "CREATE"),
        ("DROP TABLE linepulse.alerts", "DROP"),
        ("TRUNCATE TABLE linepulse.schema_migrations", "TRUNCATE"),
        ("ALTER TABLE linepulse.schema_migrations DELETE WHERE 1", "ALTER"),
        ("ALTER TABLE linepulse.alerts ADD COLUMN evil UInt8", "ALTER"),
        ("RENAME TABLE linepulse.alerts TO linepulse.gone", "RENAME"),
        ("OPTIMIZE TABLE linepulse.schema_migrations FINAL", "OPTIMIZE"),
        # chdb runs every statement of a multi-statement text: the second must never run
        ("SELECT 1; DROP TABLE linepulse.alerts", "not one valid SQL statement"),
        (f"SELECT 1 INTO OUTFILE '{outfile}'", "INTO OUTFILE is refused"),
    ]:
        assert reason in refused(secured, sql), sql
    assert shape(secured) == before
    assert not outfile.exists()


def test_a_query_without_the_token_or_with_a_wrong_one_is_refused(secured):
    for token in (None, "wrong-token"):
        line = refused(secured, "SELECT 1", token=token)
        assert "query token" in line
        assert "LINEPULSE_QUERY_TOKEN" in line
    request = urllib.request.Request(
        f"http://127.0.0.1:{secured.port}/query", data=b'{"sql": "SELECT 1"}'
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert answer.value.code == 401
    assert answer.value.headers["WWW-Authenticate"] == "Bearer"
    for path in ("/livez", "/health", "/metrics"):
        with urllib.request.urlopen(f"http://127.0.0.1:{secured.port}{path}", timeout=10) as r:
            assert r.status == 200


def test_a_query_past_the_time_limit_is_one_line(secured):
    line = refused(secured, "SELECT sleep(3)")
    assert "ran longer than 1 s and was stopped" in line
    assert "LINEPULSE_QUERY_TIMEOUT_S" in line


def test_a_result_past_the_size_limit_is_one_line(secured):
    line = refused(secured, "SELECT number FROM numbers(1000000)")
    assert "larger than 1 MB" in line


def _outside_address() -> str | None:
    """This machine's address on its outgoing interface (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_the_worker_listens_on_its_web_host_only(secured):
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no address beyond loopback")
    assert secured.health().get("ready")
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((address, secured.port), timeout=3),
    ):
        pass


def test_a_worker_beyond_loopback_without_a_token_does_not_start(kafka_bootstrap, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEPULSE_")}
    env.update(
        {
            "LINEPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "LINEPULSE_DATA_DIR": str(tmp_path),
            "LINEPULSE_WEB_HOST": "0.0.0.0",  # noqa: S104 - what is refused
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "streams.commands.cli", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("linepulse worker:")]
    assert "LINEPULSE_QUERY_TOKEN" in line
    assert not (tmp_path / "worker.json").exists()
