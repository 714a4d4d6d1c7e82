"""The ISA-18.2 alarm lifecycle: every transition, the escalation timer, shelving and its
expiry, suppression by design, refusals, and a snapshot round trip."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.alarms import AlarmAction
from schemas.events import Alert
from streams.core.alarms import ActionRefused, AlarmBook, AlarmPolicy
from streams.settings import AlertSettings
from tests.factories import alert_step

T0 = 1_780_000_000_000
MINUTE = 60_000
ASSET = "p1/body/st1/robot1"


def step(status: str, at: int = T0, severity: str = "warning", alert_id: str = "a1") -> Alert:
    return alert_step(status, at, asset=ASSET, alert_id=alert_id, severity=severity)


def action(kind: str, at: int, alert_id: str = "a1", **fields: Any) -> AlarmAction:
    return AlarmAction(
        time=at, asset=ASSET, alert_id=alert_id, action=kind, actor="shift-lead-7", **fields
    )


def raised(book: AlarmBook | None = None) -> AlarmBook:
    book = book or AlarmBook()
    [made] = book.condition(step("raised"))
    assert (made.status, made.alarm_state, made.version) == ("raised", "unacknowledged", 1)
    return book


def test_acknowledged_then_cleared_closes_the_alarm() -> None:
    book = raised()
    acked = book.act(action("acknowledge", T0 + MINUTE))
    assert (acked.status, acked.alarm_state, acked.actor) == (
        "acknowledged",
        "acknowledged",
        "shift-lead-7",
    )
    assert (acked.acknowledged_by, acked.acknowledged_at, acked.version) == (
        "shift-lead-7",
        T0 + MINUTE,
        2,
    )
    [cleared] = book.condition(step("cleared", T0 + 2 * MINUTE))
    assert (cleared.alarm_state, cleared.actor, cleared.version) == ("normal", "linepulse", 3)
    assert book.alarms == {}


def test_cleared_before_acknowledge_waits_for_it() -> None:
    book = raised()
    [cleared] = book.condition(step("cleared", T0 + MINUTE))
    assert cleared.alarm_state == "returned_unacknowledged"
    assert "a1" in book.alarms
    acked = book.act(action("acknowledge", T0 + 2 * MINUTE))
    assert acked.alarm_state == "normal"
    assert book.alarms == {}


def test_a_higher_severity_re_alarms_an_acknowledged_alarm() -> None:
    book = raised()
    book.act(action("acknowledge", T0 + MINUTE))
    [same] = book.condition(step("updated", T0 + 2 * MINUTE))
    assert (same.status, same.alarm_state) == ("updated", "acknowledged")
    [worse] = book.condition(step("updated", T0 + 3 * MINUTE, severity="critical"))
    assert (worse.status, worse.alarm_state, worse.severity) == (
        "re_alarmed",
        "unacknowledged",
        "critical",
    )


def test_unacknowledged_alarm_escalates_once_its_delay_passes() -> None:
    book = raised(AlarmBook(AlarmPolicy({"warning": 30 * MINUTE, "critical": 10 * MINUTE})))
    assert book.tick(T0 + 29 * MINUTE) == []
    [escalated] = book.tick(T0 + 30 * MINUTE)
    assert (escalated.status, escalated.severity) == ("escalated", "critical")
    assert book.tick(T0 + 39 * MINUTE) == []
    [again] = book.tick(T0 + 40 * MINUTE)  # critical: announced again, at most critical
    assert (again.status, again.severity) == ("escalated", "critical")
    [update] = book.condition(step("updated", T0 + 41 * MINUTE, severity="warning"))
    assert update.severity == "critical"  # an escalated alarm keeps its severity


def test_acknowledged_alarm_does_not_escalate() -> None:
    book = raised()
    book.act(action("acknowledge", T0 + MINUTE))
    assert book.tick(T0 + 600 * MINUTE) == []


def test_shelve_hides_until_it_expires_then_needs_acknowledging_again() -> None:
    book = raised()
    book.act(action("acknowledge", T0 + MINUTE))
    shelved = book.act(action("shelve", T0 + 2 * MINUTE, minutes=15))
    assert (shelved.alarm_state, shelved.shelved_until) == ("shelved", T0 + 17 * MINUTE)
    assert book.tick(T0 + 16 * MINUTE) == []
    [back] = book.tick(T0 + 17 * MINUTE)
    assert (back.status, back.alarm_state, back.actor) == (
        "unshelved",
        "unacknowledged",
        "linepulse",
    )
    assert back.shelved_until is None


def test_unshelve_by_hand_and_its_refusal_when_not_shelved() -> None:
    book = raised()
    with pytest.raises(ActionRefused, match="not shelved"):
        book.act(action("unshelve", T0 + MINUTE))
    book.act(action("shelve", T0 + MINUTE, minutes=60))
    back = book.act(action("unshelve", T0 + 2 * MINUTE))
    assert back.alarm_state == "unacknowledged"


def test_an_alarm_that_clears_while_shelved_closes() -> None:
    book = raised()
    book.act(action("shelve", T0 + MINUTE, minutes=60))
    [cleared] = book.condition(step("cleared", T0 + 2 * MINUTE))
    assert cleared.alarm_state == "normal"
    assert book.alarms == {}


def test_a_planned_stop_suppresses_by_design_and_its_end_shows_the_alarm_again() -> None:
    book = raised()
    [suppressed] = book.planned_stop("p1/body", True, T0 + MINUTE)
    assert (suppressed.status, suppressed.alarm_state) == ("suppressed", "suppressed")
    assert book.tick(T0 + 600 * MINUTE) == []  # not escalated while suppressed
    [other] = book.condition(step("raised", T0 + 2 * MINUTE, alert_id="a2"))
    assert other.alarm_state == "suppressed"  # raised during the stop
    shown = book.planned_stop("p1/body", False, T0 + 3 * MINUTE)
    assert [(s.alert_id, s.status, s.alarm_state) for s in shown] == [
        ("a1", "unsuppressed", "unacknowledged"),
        ("a2", "unsuppressed", "unacknowledged"),
    ]
    assert book.planned_stop("p1/body", False, T0 + 4 * MINUTE) == []


def test_a_stop_of_another_line_leaves_the_alarm_alone() -> None:
    book = raised()
    assert book.planned_stop("p1/bod", True, T0 + MINUTE) == []  # a prefix of the name only


def test_out_of_service_and_back() -> None:
    book = raised()
    removed = book.act(action("remove_from_service", T0 + MINUTE, comment="sensor replaced"))
    assert (removed.alarm_state, removed.comment) == ("out_of_service", "sensor replaced")
    with pytest.raises(ActionRefused, match="out of service"):
        book.act(action("shelve", T0 + 2 * MINUTE, minutes=5))
    with pytest.raises(ActionRefused, match="already"):
        book.act(action("remove_from_service", T0 + 2 * MINUTE))
    back = book.act(action("return_to_service", T0 + 3 * MINUTE))
    assert back.alarm_state == "unacknowledged"
    with pytest.raises(ActionRefused, match="in service"):
        book.act(action("return_to_service", T0 + 4 * MINUTE))


def test_assign_and_comment_keep_the_state() -> None:
    book = raised()
    assigned = book.act(action("assign", T0 + MINUTE, assignee="maintenance-body"))
    commented = book.act(action("comment", T0 + 2 * MINUTE, comment="bearing ordered"))
    assert (assigned.status, assigned.assignee, assigned.alarm_state) == (
        "assigned",
        "maintenance-body",
        "unacknowledged",
    )
    assert (commented.comment, commented.assignee, commented.version) == (
        "bearing ordered",
        "maintenance-body",
        3,
    )


def test_actions_on_unknown_or_closed_alarms_are_refused_and_change_nothing() -> None:
    book = raised()
    with pytest.raises(ActionRefused, match="no open alarm nope"):
        book.act(action("acknowledge", T0 + MINUTE, alert_id="nope"))
    book.act(action("acknowledge", T0 + MINUTE))
    with pytest.raises(ActionRefused, match="acknowledged already by shift-lead-7"):
        book.act(action("acknowledge", T0 + 2 * MINUTE))
    assert book.alarms["a1"].version == 2
    book.condition(step("cleared", T0 + 3 * MINUTE))
    with pytest.raises(ActionRefused, match="no open alarm a1"):
        book.act(action("comment", T0 + 4 * MINUTE, comment="late"))


def test_a_clear_of_a_closed_alarm_makes_no_step() -> None:
    book = raised()
    book.condition(step("cleared", T0 + MINUTE))
    book.act(action("acknowledge", T0 + 2 * MINUTE))
    assert book.condition(step("cleared", T0 + 3 * MINUTE)) == []


def test_steps_have_ids_of_their_own_the_same_on_a_replay() -> None:
    first, second = raised(), raised()
    a = first.act(action("acknowledge", T0 + MINUTE))
    b = second.act(action("acknowledge", T0 + MINUTE))
    assert a.id == b.id == "a1-2"


def test_snapshot_round_trip_keeps_every_alarm_and_stop() -> None:
    book = raised()
    book.act(action("shelve", T0 + MINUTE, minutes=10))
    book.planned_stop("p1/paint", True, T0 + MINUTE)
    copy = AlarmBook()
    copy.restore(book.to_dict())
    assert copy.alarms == book.alarms
    assert copy.stopped == {"p1/paint"}
    [back] = copy.tick(T0 + 11 * MINUTE)
    assert (back.status, back.version) == ("unshelved", 3)


@pytest.mark.parametrize(
    ("fields", "needs"),
    [
        ({"action": "shelve"}, "needs minutes"),
        ({"action": "assign"}, "needs assignee"),
        ({"action": "comment"}, "needs comment"),
        ({"action": "shelve", "minutes": 0}, "greater than 0"),
        ({"action": "dance"}, "acknowledge"),
    ],
)
def test_incomplete_actions_are_invalid(fields: dict[str, Any], needs: str) -> None:
    with pytest.raises(ValidationError, match=needs):
        AlarmAction.model_validate(
            {"time": T0, "asset": ASSET, "alert_id": "a1", "actor": "x", **fields}
        )


def test_a_shelve_that_runs_out_during_a_planned_stop_leaves_the_alarm_suppressed() -> None:
    book = raised()
    book.act(action("shelve", T0 + MINUTE, minutes=5))
    assert book.planned_stop("p1/body", True, T0 + 2 * MINUTE) == []  # hidden already
    [back] = book.tick(T0 + 6 * MINUTE)
    assert (back.status, back.alarm_state) == ("unshelved", "suppressed")
    [shown] = book.planned_stop("p1/body", False, T0 + 7 * MINUTE)
    assert (shown.status, shown.alarm_state) == ("unsuppressed", "unacknowledged")


def test_a_raise_sent_again_changes_nothing() -> None:
    book = raised()
    assert book.condition(step("raised")) == []
    assert book.alarms["a1"].version == 1


def test_a_clear_sent_again_changes_nothing() -> None:
    book = raised()
    book.condition(step("cleared", T0 + MINUTE))
    assert book.condition(step("cleared", T0 + MINUTE)) == []
    assert book.alarms["a1"].version == 2


def test_escalation_delays_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEPULSE_ALERT_ESCALATE_WARNING_AFTER_MIN", "0")
    monkeypatch.setenv("LINEPULSE_ALERT_ESCALATE_CRITICAL_AFTER_MIN", "2.5")
    policy = AlertSettings().alarm_policy()
    assert (policy.due("info"), policy.due("warning"), policy.due("critical")) == (
        None,
        None,
        150_000,
    )
    book = raised(AlarmBook(policy))
    assert book.tick(T0 + 600 * MINUTE) == []  # a warning is never escalated now
