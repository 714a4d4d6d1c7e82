"""The MES endpoint as a process, against the real Kafka: who gets in, what is taken, what is
refused and why, and HTTPS with client certificates."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import topics
from streams.commands.brokers import free_port, terminate
from tests.integration.conftest import consume

pytestmark = pytest.mark.integration
TOKEN = "s3cret-mes-token"


class Endpoint:
    def __init__(self, bootstrap: str, tmp: Path, **settings: str) -> None:
        self.port = free_port()
        self.scheme = "https" if "tls_cert_file" in settings else "http"
        env = {
            **os.environ,
            "LINEPULSE_KAFKA_BOOTSTRAP": bootstrap,
            "LINEPULSE_MES_PORT": str(self.port),
            "LINEPULSE_MES_TOKEN": TOKEN,
            "LINEPULSE_PUBLISHER_SPOOL_DIR": str(tmp / "spool"),
            **{f"LINEPULSE_MES_{k.upper()}": v for k, v in settings.items()},
        }
        self.log = tmp / "mes.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.commands.cli", "mes"],
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def wait(self, context: ssl.SSLContext | None = None) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                urllib.request.urlopen(self.url("/livez"), timeout=1, context=context)  # noqa: S310
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise AssertionError(f"MES endpoint not up\n{self.log.read_text()}")

    def post(
        self,
        path: str,
        body: bytes,
        token: str | None = TOKEN,
        context: ssl.SSLContext | None = None,
    ) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url(path), data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60, context=context) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self) -> None:
        terminate(self.process, 10)  # type: ignore[arg-type]


@pytest.fixture
def endpoint(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Endpoint]:
    started = Endpoint(kafka_bootstrap, tmp_path, max_body_mb="0.02", max_events="50")
    try:
        started.wait()
        yield started
    finally:
        started.stop()


def _events(asset: str) -> list[dict]:
    now = int(time.time() * 1000)
    return [
        {
            "kind": "mes.work_order.started",
            "id": f"wo-{uuid.uuid4().hex}",
            "time": now,
            "asset": asset,
            "work_order": "WO-7",
            "product": "sedan",
            "ideal_cycle_time_s": 55.0,
        },
        {
            "kind": "mes.shift.started",
            "id": f"sh-{uuid.uuid4().hex}",
            "time": now,
            "asset": asset,
            "shift": "early",
        },
        {
            "kind": "machine.count",
            "id": f"sc-{uuid.uuid4().hex}",
            "time": now,
            "asset": asset,
            "good": 0,
            "scrap": 2,
            "rework": 1,
        },
    ]


def test_only_requests_with_the_token_get_in(endpoint):
    body = json.dumps(_events("p/l1/s1/m1")[0]).encode()
    assert endpoint.post("/v1/events", body, token=None)[0] == 401
    status, answer = endpoint.post("/v1/events", body, token="guess")
    assert status == 401
    assert "Bearer" in answer["error"]


def test_a_batch_is_published_and_scrap_goes_to_the_machine_topic(endpoint, kafka_bootstrap):
    asset = f"mes{uuid.uuid4().hex[:6]}/l1/s1/m1"
    events = _events(asset)
    status, answer = endpoint.post("/v1/events/batch", json.dumps(events).encode())
    assert (status, answer) == (202, {"accepted": 3})
    ids = {e["id"] for e in events}
    mes = consume(kafka_bootstrap, topics.MES_EVENTS, lambda v: v["id"] in ids, 2)
    machine = consume(kafka_bootstrap, topics.MACHINE_EVENTS, lambda v: v["id"] in ids, 1)
    assert {v["kind"] for v in mes} == {"mes.work_order.started", "mes.shift.started"}
    assert machine[0]["scrap"] == 2
    assert machine[0]["rework"] == 1
    lines = b"\n".join(json.dumps(e).encode() for e in _events(asset))
    assert endpoint.post("/v1/events/batch", lines)[0] == 202  # JSON lines too


def test_a_bad_field_refuses_the_request_names_the_field_and_dead_letters_it(
    endpoint, kafka_bootstrap
):
    asset = f"bad{uuid.uuid4().hex[:6]}/l1/s1/m1"
    events = _events(asset)
    events[0]["ideal_cycle_time_s"] = -5
    events[2] = {
        "kind": "sensor.reading",
        "time": events[2]["time"],
        "asset": asset,
        "sensor": "t",
        "value": 1.0,
    }
    status, answer = endpoint.post("/v1/events/batch", json.dumps(events).encode())
    assert status == 422
    errors = {e["index"]: e["error"] for e in answer["errors"]}
    assert sorted(errors) == [0, 2]
    assert "ideal_cycle_time_s" in errors[0]
    assert "not an MES event" in errors[2]
    letters = consume(kafka_bootstrap, topics.DEAD_LETTERS, lambda v: v.get("asset") == asset, 2)
    assert {letter["source_topic"] for letter in letters} == {"http:/v1/events/batch"}
    assert {letter["error_type"] for letter in letters} == {"schema", "not_mes"}
    published = consume(
        kafka_bootstrap, topics.MES_EVENTS, lambda v: v["id"] == events[1]["id"], 1, timeout_s=5
    )
    assert published == []  # the good event of a refused request is not published


def test_limits_and_garbage_are_clear_errors_and_counted(endpoint):
    status, answer = endpoint.post("/v1/events/batch", b"x" * 30_000)
    assert status == 413
    assert "larger than" in answer["error"]
    many = [_events("p/l1/s1/m1")[1] for _ in range(51)]
    status, answer = endpoint.post("/v1/events/batch", json.dumps(many).encode())
    assert status == 413
    assert "at most 50" in answer["error"]
    status, answer = endpoint.post("/v1/events", b"{not json")
    assert status == 400
    with urllib.request.urlopen(endpoint.url("/metrics"), timeout=5) as response:  # noqa: S310
        metrics = response.read().decode()
    assert 'linepulse_mes_requests_total{status="413"} 2.0' in metrics
    assert 'linepulse_mes_rejected_events_total{error_type="not_json"} 1.0' in metrics


def _certificates(directory: Path) -> dict[str, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("plant CA"))
        .issuer_name(name("plant CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": directory / "ca.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for role, san in (
        ("server", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        ("client", x509.DNSName("mes.plant.local")),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(role))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        paths[role] = directory / f"{role}.pem"
        paths[f"{role}_key"] = directory / f"{role}.key"
        paths[role].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths[f"{role}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return paths


def test_https_with_client_certificates_lets_in_only_signed_clients(kafka_bootstrap, tmp_path):
    pem = _certificates(tmp_path)
    endpoint = Endpoint(
        kafka_bootstrap,
        tmp_path,
        tls_cert_file=str(pem["server"]),
        tls_key_file=str(pem["server_key"]),
        tls_client_ca_file=str(pem["ca"]),
    )
    try:
        with_cert = ssl.create_default_context(cafile=str(pem["ca"]))
        with_cert.load_cert_chain(str(pem["client"]), str(pem["client_key"]))
        endpoint.wait(with_cert)
        body = json.dumps(_events("p/l1/s1/m1")[1]).encode()
        assert endpoint.post("/v1/events", body, context=with_cert)[0] == 202
        without_cert = ssl.create_default_context(cafile=str(pem["ca"]))
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            endpoint.post("/v1/events", body, context=without_cert)
    finally:
        endpoint.stop()


def test_the_endpoint_refuses_to_start_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEPULSE_")}
    result = subprocess.run(
        [sys.executable, "-m", "streams.commands.cli", "mes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "LINEPULSE_MES_TOKEN" in result.stderr


def test_an_alarm_action_is_published_and_a_bad_one_named_and_dead_lettered(
    endpoint, kafka_bootstrap
):
    asset = f"act{uuid.uuid4().hex[:6]}/l1/s1/m1"
    alert_id = uuid.uuid4().hex[:20]
    path = f"/v1/alarms/{alert_id}/actions"
    shelve = {"action": "shelve", "minutes": 30, "actor": "shift-lead-7", "asset": asset}
    assert endpoint.post(path, json.dumps(shelve).encode(), token="guess")[0] == 401
    status, answer = endpoint.post(path, json.dumps(shelve).encode())
    assert (status, answer["accepted"]) == (202, 1)
    [published] = consume(
        kafka_bootstrap, topics.ALARM_ACTIONS, lambda v: v["alert_id"] == alert_id, 1
    )
    assert (published["id"], published["action"], published["minutes"]) == (
        answer["id"],
        "shelve",
        30,
    )
    assert abs(published["time"] - time.time() * 1000) < 60_000  # now, when not given
    status, answer = endpoint.post(path, json.dumps({**shelve, "minutes": None}).encode())
    assert status == 422
    assert "needs minutes" in answer["error"]
    [letter] = consume(
        kafka_bootstrap,
        topics.DEAD_LETTERS,
        lambda v: v.get("source_topic") == f"http:{path}",
        1,
    )
    assert (letter["asset"], letter["error_type"]) == (asset, "schema")
    status, answer = endpoint.post(path, b"[1, 2]")
    assert status == 400
    assert "expected a JSON object for an alarm action" in answer["error"]
