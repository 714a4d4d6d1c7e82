"""A downstream app reading LinePulse alerts: one line per alarm step, open alarms by alert_id.

python docs/examples/alert_consumer.py --bootstrap 127.0.0.1:9092 --group andon-board
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

from confluent_kafka import Consumer

ALERTS_TOPIC = "linepulse.alerts.v1"


def alerts(
    bootstrap: str, group: str, from_start: bool = False, idle_timeout_s: float | None = None
) -> Iterator[dict]:
    """Yield alert events as dicts; commits after each one is handed over."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest" if from_start else "latest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([ALERTS_TOPIC])
    idle = 0.0
    try:
        while idle_timeout_s is None or idle < idle_timeout_s:
            message = consumer.poll(0.5)
            if message is None or message.error():
                idle += 0.5
                continue
            idle = 0.0
            yield json.loads(message.value())
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--group", default="alert-printer")
    args = parser.parse_args()
    open_alarms: dict[str, dict] = {}
    for alert in alerts(args.bootstrap, args.group):
        if alert.get("alarm_state") == "normal":  # closed: back to normal and acknowledged
            open_alarms.pop(alert["alert_id"], None)
        else:
            open_alarms[alert["alert_id"]] = alert
        context = alert.get("context") or {}
        print(
            f"{alert['status']:12s} {alert.get('alarm_state', '-'):14s} {alert['severity']:8s} "
            f"{alert['alert_kind']:14s} "
            f"{alert['asset']} {alert['source']}: {alert['message']} "
            f"(vehicle {context.get('vin', '-')}, work order {context.get('work_order', '-')}); "
            f"{len(open_alarms)} open"
        )


if __name__ == "__main__":
    main()
