"""Alarms through the real worker, Kafka and chdb: a processor's alert step becomes an
unacknowledged alarm, an action on the actions topic acknowledges it, the acknowledgement
survives a restart (SIGKILL), an action over the MES endpoint's HTTP API assigns it, the clear
closes it, and an action that does not apply is a dead letter with its reason."""

from __future__ import annotations

import json
import signal
import time
import uuid

import pytest

from connectors.publisher import Publisher
from schemas import topics
from schemas.alarms import AlarmAction
from schemas.codec import encode
from schemas.events import Alert
from tests.factories import alert_step
from tests.integration.conftest import WorkerProcess, consume
from tests.integration.test_mes_endpoint import Endpoint

pytestmark = pytest.mark.integration


def condition(asset: str, alert_id: str, status: str, at: int) -> Alert:
    return alert_step(status, at, asset=asset, alert_id=alert_id, kind="machine_down")


def send(publisher: Publisher, topic: str, event: Alert | AlarmAction) -> None:
    publisher.send(topic, event.asset, encode(event))
    publisher.flush(30)


def test_an_alarm_acknowledged_over_kafka_survives_a_kill_is_assigned_over_http_and_closes(
    kafka_bootstrap, tmp_path, request
):
    worker = WorkerProcess(kafka_bootstrap, tmp_path, tick_interval_s=0.5)
    request.addfinalizer(worker.stop)
    worker.start()
    publisher = Publisher({"bootstrap.servers": kafka_bootstrap})
    asset = f"alarms{uuid.uuid4().hex[:6]}/line1/st1/m1"
    alert_id = uuid.uuid4().hex[:20]
    t0 = int(time.time() * 1000)

    def ours(value: dict) -> bool:
        return value.get("alert_id") == alert_id

    send(publisher, topics.ALERT_CONDITIONS, condition(asset, alert_id, "raised", t0))
    [raised] = consume(kafka_bootstrap, topics.ALERTS, ours, 1, timeout_s=60)
    assert (raised["status"], raised["alarm_state"], raised["version"]) == (
        "raised",
        "unacknowledged",
        1,
    )
    ack = AlarmAction(
        time=t0 + 1, asset=asset, alert_id=alert_id, action="acknowledge", actor="lead-3"
    )
    send(publisher, topics.ALARM_ACTIONS, ack)
    steps = consume(kafka_bootstrap, topics.ALERTS, ours, 2, timeout_s=60)
    assert [(s["status"], s["alarm_state"], s["actor"]) for s in steps] == [
        ("raised", "unacknowledged", "linepulse"),
        ("acknowledged", "acknowledged", "lead-3"),
    ]

    time.sleep(4)  # the acknowledgement's snapshot and offsets are committed
    worker.stop(signal.SIGKILL)
    worker.start()
    send(publisher, topics.ALARM_ACTIONS, ack)  # once more: refused, it is acknowledged
    endpoint = Endpoint(kafka_bootstrap, tmp_path)  # and one action over HTTP
    request.addfinalizer(endpoint.stop)
    endpoint.wait()
    assign = {"action": "assign", "assignee": "maint-body", "actor": "lead-3", "asset": asset}
    status, _ = endpoint.post(f"/v1/alarms/{alert_id}/actions", json.dumps(assign).encode())
    assert status == 202
    consume(kafka_bootstrap, topics.ALERTS, ours, 3, timeout_s=60)  # before the clear
    send(publisher, topics.ALERT_CONDITIONS, condition(asset, alert_id, "cleared", t0 + 2))
    steps = consume(kafka_bootstrap, topics.ALERTS, ours, 4, timeout_s=60)
    assert [(s["status"], s["alarm_state"], s["version"]) for s in steps] == [
        ("raised", "unacknowledged", 1),
        ("acknowledged", "acknowledged", 2),
        ("assigned", "acknowledged", 3),
        ("cleared", "normal", 4),
    ]
    assert steps[3]["assignee"] == "maint-body"
    [refused] = consume(
        kafka_bootstrap,
        topics.DEAD_LETTERS,
        lambda v: v.get("source_topic") == topics.ALARM_ACTIONS and alert_id in v["payload"],
        1,
        timeout_s=30,
    )
    assert refused["error_type"] == "action_refused"
    assert "acknowledged already by lead-3" in refused["reason"]
    stored = worker.wait_rows(
        f"SELECT status FROM linepulse.alerts WHERE alert_id = '{alert_id}' ORDER BY version",
        lambda rows: len(rows) == 4,
    )
    assert [r["status"] for r in stored] == ["raised", "acknowledged", "assigned", "cleared"]
