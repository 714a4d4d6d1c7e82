"""The alarm lifecycle after ISA-18.2 (pure): what becomes of an alert once people see it.

An alarm is one alert episode (one alert id). The processors' steps move its condition: raised
makes it active and unacknowledged, a step of higher severity re-alarms an acknowledged one,
cleared returns it to normal. Operators acknowledge, shelve, assign, comment and take it out of
service. It closes once its condition is normal and it is acknowledged (or it cleared while
nobody was meant to see it: shelved, suppressed or out of service). An active alarm left
unacknowledged longer than its policy allows is escalated: its severity rises one step (a
critical one is announced again). Every change is a new alert step with the alarm's state, its
version and who made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from schemas.alarms import AlarmAction, AlarmState
from schemas.events import Alert, AlertStatus, Severity
from schemas.exceptions import LinePulseError

SYSTEM = "linepulse"  # the actor of the lifecycle's own changes
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
Hidden = Literal["shelved", "suppressed", "out_of_service"]


class ActionRefused(LinePulseError):
    """An action that does not apply to the alarm as it is now: nothing changed."""


@dataclass(frozen=True)
class AlarmPolicy:
    """How long an active alarm may stay unacknowledged per severity before it is escalated
    (None: never)."""

    escalate_after_ms: dict[str, int | None] = field(
        default_factory=lambda: {"info": None, "warning": 30 * 60_000, "critical": 10 * 60_000}
    )

    def due(self, severity: str) -> int | None:
        """The escalation delay of `severity`."""
        return self.escalate_after_ms.get(severity)


@dataclass
class Alarm:
    """One open alarm: its latest alert step and what people did with it."""

    step: Alert
    active: bool = True
    acknowledged: bool = False
    hidden: Hidden | None = None
    version: int = 0
    announced_at: int = 0  # when it was last announced: raised, re-alarmed, escalated
    escalated: bool = False  # its severity stays at least what escalation made it
    acknowledged_by: str | None = None
    acknowledged_at: int | None = None
    assignee: str | None = None
    shelved_until: int | None = None

    @property
    def state(self) -> AlarmState:
        """Its ISA-18.2 state (a closed alarm is normal, whatever hid it before)."""
        if self.closed:
            return "normal"
        if self.hidden is not None:
            return self.hidden
        if self.active:
            return "acknowledged" if self.acknowledged else "unacknowledged"
        return "returned_unacknowledged"

    @property
    def closed(self) -> bool:
        """Whether nothing more can happen to it."""
        return not self.active and (self.acknowledged or self.hidden is not None)


@dataclass
class AlarmBook:
    """The open alarms of one partition, the assets in a planned stop (whose alarms are
    suppressed by design), and the steps each change makes."""

    policy: AlarmPolicy = field(default_factory=AlarmPolicy)
    alarms: dict[str, Alarm] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)

    def condition(self, step: Alert) -> list[Alert]:
        """A processor's step (raised, updated, cleared): the alarm's step it makes."""
        alarm = self.alarms.get(step.alert_id)
        if alarm is None:
            if step.status == "cleared":
                return []  # closed here already (acknowledged after it returned to normal)
            alarm = Alarm(step, announced_at=step.time)
            alarm.hidden = "suppressed" if self._in_stop(step.asset) else None
            self.alarms[step.alert_id] = alarm
            return [self._change(alarm, "raised", step.time, SYSTEM, step)]
        if step.status == "raised":
            return []  # the same raise again: its processor replayed it after a restart
        if step.status == "cleared":
            if not alarm.active:
                return []  # the same clear again
            alarm.active = False
            return [self._change(alarm, "cleared", step.time, SYSTEM, step)]
        if alarm.escalated and rank(step.severity) < rank(alarm.step.severity):
            step = step.model_copy(update={"severity": alarm.step.severity})
        rises = rank(step.severity) > rank(alarm.step.severity)
        if rises and alarm.acknowledged and alarm.active:
            alarm.acknowledged = False
            alarm.announced_at = step.time
            return [self._change(alarm, "re_alarmed", step.time, SYSTEM, step)]
        alarm.active = True
        return [self._change(alarm, "updated", step.time, SYSTEM, step)]

    def act(self, action: AlarmAction) -> Alert:
        """An operator's action: the step it makes, or ActionRefused saying why not."""
        alarm = self.alarms.get(action.alert_id)
        if alarm is None:
            msg = (
                f"no open alarm {action.alert_id} on {action.asset}: it is closed, or was never "
                "raised; look it up in linepulse.alerts"
            )
            raise ActionRefused(msg)
        status, changes = _ACTIONS[action.action](alarm, action)
        for name, value in changes.items():
            setattr(alarm, name, value)
        return self._change(alarm, status, action.time, action.actor, comment=action.comment)

    def tick(self, now_ms: int) -> list[Alert]:
        """Shelves that ran out, and escalations of alarms left unacknowledged too long."""
        steps = []
        for alarm in list(self.alarms.values()):
            if alarm.hidden == "shelved" and (alarm.shelved_until or 0) <= now_ms:
                _unhide(alarm, now_ms)
                alarm.shelved_until = None
                steps.append(self._change(alarm, "unshelved", now_ms, SYSTEM))
            due = self.policy.due(alarm.step.severity)
            if alarm.state == "unacknowledged" and due is not None:
                if now_ms - alarm.announced_at >= due:
                    steps.append(self._escalate(alarm, now_ms))
        return steps

    def planned_stop(self, asset: str, stopped: bool, now_ms: int) -> list[Alert]:
        """A planned stop of `asset` (a machine, or a line with its machines) began or ended:
        its alarms are suppressed by design meanwhile."""
        if stopped == (asset in self.stopped):
            return []
        if stopped:
            self.stopped.add(asset)
        else:
            self.stopped.discard(asset)
        steps = []
        for alarm in list(self.alarms.values()):
            if not _under(alarm.step.asset, asset):
                continue
            if stopped and alarm.hidden is None:
                alarm.hidden = "suppressed"
                steps.append(self._change(alarm, "suppressed", now_ms, SYSTEM))
            elif (
                not stopped and alarm.hidden == "suppressed" and not self._in_stop(alarm.step.asset)
            ):
                _unhide(alarm, now_ms)
                steps.append(self._change(alarm, "unsuppressed", now_ms, SYSTEM))
        return steps

    def _escalate(self, alarm: Alarm, now_ms: int) -> Alert:
        severity = SEVERITIES[min(rank(alarm.step.severity) + 1, len(SEVERITIES) - 1)]
        alarm.step = alarm.step.model_copy(update={"severity": severity})
        alarm.announced_at = now_ms
        alarm.escalated = True
        return self._change(alarm, "escalated", now_ms, SYSTEM)

    def _in_stop(self, asset: str) -> bool:
        return any(_under(asset, stopped) for stopped in self.stopped)

    def _change(
        self,
        alarm: Alarm,
        status: AlertStatus,
        time: int,
        actor: str,
        step: Alert | None = None,
        comment: str | None = None,
    ) -> Alert:
        """The alert step of a change; a closed alarm leaves the book."""
        if step is not None:
            alarm.step = step
        if alarm.hidden is None and self._in_stop(alarm.step.asset):
            alarm.hidden = "suppressed"  # shown again while its machine is still stopped
        alarm.version += 1
        made = alarm.step.model_copy(
            update={
                "id": f"{alarm.step.alert_id[:40]}-{alarm.version}",
                "time": time,
                "status": status,
                "alarm_state": alarm.state,
                "version": alarm.version,
                "actor": actor,
                "acknowledged_by": alarm.acknowledged_by,
                "acknowledged_at": alarm.acknowledged_at,
                "assignee": alarm.assignee,
                "shelved_until": alarm.shelved_until,
                "comment": comment,
            }
        )
        if alarm.closed:
            del self.alarms[alarm.step.alert_id]
        return made

    def to_dict(self) -> dict[str, Any]:
        """The open alarms and the stopped assets (plain data, for snapshots)."""
        return {
            "alarms": {
                alert_id: {**vars(alarm), "step": alarm.step.model_dump(mode="json")}
                for alert_id, alarm in self.alarms.items()
            },
            "stopped": sorted(self.stopped),
        }

    def restore(self, data: dict[str, Any] | None) -> None:
        """Take up the alarms of `to_dict`."""
        data = data or {}
        self.alarms = {
            alert_id: Alarm(**{**fields, "step": Alert.model_validate(fields["step"])})
            for alert_id, fields in data.get("alarms", {}).items()
        }
        self.stopped = set(data.get("stopped", []))


def rank(severity: str) -> int:
    """The order of a severity: info < warning < critical."""
    return SEVERITIES.index(severity)


def _under(asset: str, prefix: str) -> bool:
    return asset == prefix or asset.startswith(prefix + "/")


def _unhide(alarm: Alarm, now_ms: int) -> None:
    """Shown again: an active alarm is announced anew and needs acknowledging again."""
    alarm.hidden = None
    if alarm.active:
        alarm.acknowledged = False
        alarm.announced_at = now_ms


Changes = tuple[AlertStatus, dict[str, Any]]


def _acknowledge(alarm: Alarm, action: AlarmAction) -> Changes:
    if alarm.acknowledged:
        msg = (
            f"alarm {action.alert_id} was acknowledged already by {alarm.acknowledged_by}; "
            "nothing changed"
        )
        raise ActionRefused(msg)
    return "acknowledged", {
        "acknowledged": True,
        "acknowledged_by": action.actor,
        "acknowledged_at": action.time,
    }


def _shelve(alarm: Alarm, action: AlarmAction) -> Changes:
    if alarm.hidden == "out_of_service":
        msg = f"alarm {action.alert_id} is out of service; return it to service to shelve it"
        raise ActionRefused(msg)
    until = action.time + round((action.minutes or 0) * 60_000)
    return "shelved", {"hidden": "shelved", "shelved_until": until}


def _unshelve(alarm: Alarm, action: AlarmAction) -> Changes:
    if alarm.hidden != "shelved":
        msg = f"alarm {action.alert_id} is not shelved (it is {alarm.state}); nothing changed"
        raise ActionRefused(msg)
    _unhide(alarm, action.time)
    return "unshelved", {"shelved_until": None}


def _assign(alarm: Alarm, action: AlarmAction) -> Changes:
    return "assigned", {"assignee": action.assignee}


def _comment(alarm: Alarm, action: AlarmAction) -> Changes:
    return "commented", {}


def _remove(alarm: Alarm, action: AlarmAction) -> Changes:
    if alarm.hidden == "out_of_service":
        msg = f"alarm {action.alert_id} is out of service already; nothing changed"
        raise ActionRefused(msg)
    return "removed_from_service", {"hidden": "out_of_service", "shelved_until": None}


def _return(alarm: Alarm, action: AlarmAction) -> Changes:
    if alarm.hidden != "out_of_service":
        msg = f"alarm {action.alert_id} is in service (it is {alarm.state}); nothing changed"
        raise ActionRefused(msg)
    _unhide(alarm, action.time)
    return "returned_to_service", {}


_ACTIONS = {
    "acknowledge": _acknowledge,
    "shelve": _shelve,
    "unshelve": _unshelve,
    "assign": _assign,
    "comment": _comment,
    "remove_from_service": _remove,
    "return_to_service": _return,
}
