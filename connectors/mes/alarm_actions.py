"""Operators' actions on alarms over HTTP: `POST /v1/alarms/{alert_id}/actions` on the MES
endpoint (the same token, TLS and client certificates), published on the alarm actions topic.

The body names the action, who acts and the alarm's asset (every alert step carries it), e.g.
`{"action": "shelve", "minutes": 30, "actor": "shift-lead-7", "asset": "plant1/line1/st1/m1"}`;
`time` defaults to now. A valid action is answered 202 once Kafka has it; whether it applies to
the alarm as it is now is the alarm processor's to decide: its change appears on the alert
topic, a refusal on the dead-letter topic (`action_refused`) with the reason.
"""

from __future__ import annotations

from typing import Any

from schemas.codec import json_object
from schemas.events import now_ms


def action_item(alert_id: str, body: bytes) -> dict[str, Any]:
    """The request body as an action's fields (time now unless given), or InvalidEventError
    when it is not a JSON object."""
    data = json_object(body, "an alarm action")
    return {"time": now_ms(), **data, "kind": "alarm_action", "alert_id": alert_id}
