"""The alarm processor without a broker: alert steps and actions in, alarm changes out, refused
actions dead-lettered with their reason, redeliveries skipped, a restart keeping the alarms."""

from __future__ import annotations

from schemas import topics
from schemas.alarms import AlarmAction
from schemas.events import Alert, PlannedStopEnded, PlannedStopStarted
from streams.core.alarms import AlarmPolicy
from streams.core.plans import GroupPlans
from streams.processors.alarms import AlarmProcessor
from streams.processors.protocol import Outputs
from streams.processors.testing import ProcessorRun
from tests.factories import alert_step, order

T0 = 1_780_000_000_000
MINUTE = 60_000
ASSET = "p1/body/st1/robot1"
POLICY = AlarmPolicy({"warning": 30 * MINUTE, "critical": 10 * MINUTE})


def steps(out: Outputs) -> list[Alert]:
    return [e.event for e in out.emits if e.topic == topics.ALERTS]  # type: ignore[misc]


def make_run() -> ProcessorRun:
    return ProcessorRun(AlarmProcessor(POLICY), factory=lambda: AlarmProcessor(POLICY))


def condition(status: str, at: int) -> Alert:
    return alert_step(status, at, asset=ASSET, kind="machine_down")


def action(kind: str, at: int, **fields: object) -> AlarmAction:
    return AlarmAction(time=at, asset=ASSET, alert_id="a1", action=kind, actor="lead", **fields)  # type: ignore[arg-type]


def test_a_condition_and_an_acknowledgement_become_versioned_alarm_steps() -> None:
    run = make_run()
    raised = run.send(topics.ALERT_CONDITIONS, [condition("raised", T0)], now_ms=T0)
    acked = run.send(topics.ALARM_ACTIONS, [action("acknowledge", T0 + MINUTE)], T0 + MINUTE)
    made = [*steps(raised), *steps(acked)]
    assert [(s.status, s.alarm_state, s.version, s.actor) for s in made] == [
        ("raised", "unacknowledged", 1, "linepulse"),
        ("acknowledged", "acknowledged", 2, "lead"),
    ]


def test_a_refused_action_is_dead_lettered_with_its_reason_and_changes_nothing() -> None:
    run = make_run()
    out = run.send(topics.ALARM_ACTIONS, [action("acknowledge", T0)], now_ms=T0)
    [(letter, error)] = out.dead_letters
    assert error.error_type == "action_refused"
    assert "no open alarm a1" in letter.reason
    assert letter.source_topic == topics.ALARM_ACTIONS
    assert not steps(out)


def test_malformed_and_wrong_events_are_dead_lettered() -> None:
    run = make_run()
    out = run.send(topics.ALARM_ACTIONS, [b'{"kind":"alarm_action","action":"shelve"}'], T0)
    [(_, error)] = out.dead_letters
    assert error.error_type == "schema"
    future = action("acknowledge", T0 + 3_600_000)
    out = run.send(topics.ALARM_ACTIONS, [future], now_ms=T0)
    [(letter, _)] = out.dead_letters
    assert "in the future" in letter.reason


def test_a_redelivered_step_is_skipped() -> None:
    run = make_run()
    run.send(topics.ALERT_CONDITIONS, [condition("raised", T0)], now_ms=T0)
    again = run.redeliver(run.sent, T0 + 1)
    assert not steps(again)


def test_escalation_waits_while_an_input_is_being_caught_up() -> None:
    run = make_run()
    run.send(topics.ALERT_CONDITIONS, [condition("raised", T0)], now_ms=T0)
    run.lagging = frozenset({topics.ALARM_ACTIONS})
    assert not steps(run.tick(T0 + 60 * MINUTE))
    run.lagging = frozenset()
    [escalated] = steps(run.tick(T0 + 60 * MINUTE))
    assert (escalated.status, escalated.severity) == ("escalated", "critical")


def test_a_restart_keeps_an_acknowledged_alarm_and_its_offsets() -> None:
    run = make_run()
    run.send(topics.ALERT_CONDITIONS, [condition("raised", T0)], now_ms=T0)
    run.send(topics.ALARM_ACTIONS, [action("acknowledge", T0 + MINUTE)], T0 + MINUTE)
    run.restart()
    assert not steps(run.redeliver(run.sent, T0 + 2 * MINUTE))
    [cleared] = steps(
        run.send(topics.ALERT_CONDITIONS, [condition("cleared", T0 + 3 * MINUTE)], T0 + 3 * MINUTE)
    )
    assert (cleared.alarm_state, cleared.version) == ("normal", 3)


def test_a_machines_planned_stop_on_the_mes_topic_suppresses_its_alarms() -> None:
    run = make_run()
    run.send(topics.ALERT_CONDITIONS, [condition("raised", T0)], now_ms=T0)
    began = PlannedStopStarted(time=T0 + MINUTE, asset=ASSET, reason="tool change")
    [suppressed] = steps(run.send(topics.MES_EVENTS, [began], T0 + MINUTE))
    assert (suppressed.status, suppressed.alarm_state) == ("suppressed", "suppressed")
    assert not steps(run.tick(T0 + 60 * MINUTE))  # not escalated while suppressed
    ended = PlannedStopEnded(time=T0 + 61 * MINUTE, asset=ASSET, reason="tool change")
    [shown] = steps(run.send(topics.MES_EVENTS, [ended], T0 + 61 * MINUTE))
    assert (shown.status, shown.alarm_state) == ("unsuppressed", "unacknowledged")


def test_a_lines_planned_stop_from_the_group_plans_suppresses_on_the_tick() -> None:
    plans = GroupPlans()
    run = ProcessorRun(AlarmProcessor(POLICY, plans=plans))
    run.send(topics.ALERT_CONDITIONS, [condition("raised", T0)], now_ms=T0)
    plans.apply(PlannedStopStarted(time=T0 + MINUTE, asset="p1/body", reason="break"))
    assert not steps(run.tick(T0 + MINUTE - 1))  # not begun yet
    [suppressed] = steps(run.tick(T0 + 2 * MINUTE))
    assert suppressed.alarm_state == "suppressed"
    assert not steps(run.tick(T0 + 3 * MINUTE))
    plans.apply(PlannedStopEnded(time=T0 + 4 * MINUTE, asset="p1/body", reason="break"))
    [shown] = steps(run.tick(T0 + 5 * MINUTE))
    assert shown.alarm_state == "unacknowledged"


def test_other_and_invalid_mes_events_are_left_to_the_oee_processor() -> None:
    run = make_run()
    out = run.send(topics.MES_EVENTS, [b"not json", order(0, 55.0)], now_ms=T0)
    assert not out.emits
    assert not out.dead_letters
