"""The OEE processor without a broker: windows closing, late and refused events, alert episodes
and what a restart keeps."""

from __future__ import annotations

import pytest

from schemas import topics
from schemas.events import Alert, OeeResult
from schemas.states import State
from streams.core.plans import GroupPlans
from streams.processors.oee import OeeConfig, OeeProcessor
from streams.processors.testing import ProcessorRun
from tests.factories import ASSET, T0, count, order, state

W = 10_000
CONFIG = OeeConfig(window_ms=W, lateness_ms=1_000, machine_down_after_s=5.0)


def make_run(config: OeeConfig = CONFIG, plans: GroupPlans | None = None) -> ProcessorRun:
    return ProcessorRun(
        OeeProcessor(config, plans=plans), factory=lambda: OeeProcessor(config, plans=plans)
    )


def closed(outputs) -> list[OeeResult]:
    return [
        e.event
        for e in outputs.emits
        if isinstance(e.event, OeeResult) and not e.event.provisional and not e.event.rollup
    ]


def alerts(outputs, kind: str) -> list[Alert]:
    return [a for a in outputs.alerts if a.alert_kind == kind]


def test_closed_window_emits_its_oee_row_once_the_watermark_passes_it():
    run = make_run()
    run.send(topics.MES_EVENTS, [order(0, 0.5)], now_ms=T0)
    run.send(topics.MACHINE_EVENTS, [state(0, State.PRODUCING), count(2, good=8)], now_ms=T0)
    assert closed(run.tick(T0 + 1_000)) == []
    run.send(topics.MACHINE_EVENTS, [count(12, good=2)], now_ms=T0 + 12_000)
    (row,) = closed(run.tick(T0 + 12_000))
    assert (row.asset, row.window_start, row.good) == (ASSET, T0, 8)
    assert row.availability == 1.0
    assert row.performance == pytest.approx(8 * 0.5 / 10)


def test_an_event_for_a_closed_window_is_counted_late_not_dead_lettered():
    run = make_run()
    run.send(topics.MACHINE_EVENTS, [state(0, State.PRODUCING), count(12)], now_ms=T0 + 12_000)
    assert closed(run.tick(T0 + 12_000))
    outputs = run.send(topics.MACHINE_EVENTS, [count(3, good=99)], now_ms=T0 + 13_000)
    assert not outputs.dead_letters
    later = run.tick(T0 + 25_000)
    assert all(row.good != 99 for row in closed(later))


def test_malformed_and_future_events_are_dead_lettered_with_their_reason():
    run = make_run()
    future = state(3_600, State.PRODUCING)
    outputs = run.send(topics.MACHINE_EVENTS, [b"not json", future], now_ms=T0)
    kinds = [error.error_type for _, error in outputs.dead_letters]
    assert kinds == ["not_json", "time_in_future"]
    letter = outputs.dead_letters[1][0]
    assert (letter.source_topic, letter.offset) == (topics.MACHINE_EVENTS, 1)
    assert future.id in letter.payload


def test_event_time_is_judged_against_the_time_kafka_received_the_message():
    run = make_run()
    message = run.message(topics.MACHINE_EVENTS, state(0, State.PRODUCING), timestamp_ms=T0)
    # read a month later (a backlog after an outage): still plausible when it reached Kafka
    outputs = run.processor.process([message], now_ms=T0 + 30 * 86_400_000)
    assert not outputs.dead_letters


def test_a_machine_down_episode_survives_a_restart_and_clears_once():
    run = make_run()
    run.send(topics.MACHINE_EVENTS, [state(0, State.EQUIPMENT_FAILURE)], now_ms=T0)
    assert alerts(run.tick(T0 + 7_000), "machine_down") == []  # down 2 s of the 5 s
    (raised,) = alerts(run.tick(T0 + 12_000), "machine_down")
    assert raised.status == "raised"
    run.restart()
    assert alerts(run.tick(T0 + 14_000), "machine_down") == []  # not raised a second time
    run.send(topics.MACHINE_EVENTS, [state(15, State.PRODUCING)], now_ms=T0 + 15_000)
    (cleared,) = alerts(run.tick(T0 + 17_000), "machine_down")
    assert (cleared.status, cleared.alert_id) == ("cleared", raised.alert_id)


def test_messages_redelivered_after_a_restart_are_not_counted_twice():
    run = make_run()
    run.send(topics.MACHINE_EVENTS, [state(0, State.PRODUCING)], now_ms=T0)
    run.send(topics.MACHINE_EVENTS, [count(1, good=5)], now_ms=T0)
    run.restart()
    assert not run.redeliver(run.sent, now_ms=T0 + 1_000)  # Kafka hands them over again
    (row,) = closed(run.tick(T0 + 20_000))
    assert row.good == 5


def test_a_work_order_on_the_line_gives_the_machines_below_their_cycle_time():
    plans = GroupPlans()
    line_order = order(0, 0.5, asset="plant1/line1")
    plans.apply(line_order)  # the whole-topic MES feed does this in the worker
    run = make_run(plans=plans)
    run.send(topics.MES_EVENTS, [line_order], now_ms=T0)
    run.send(topics.MACHINE_EVENTS, [state(0, State.PRODUCING), count(2, good=8)], now_ms=T0)
    rows = closed(run.tick(T0 + 20_000))  # the quiet partition's clock closes the window
    assert [(row.asset, row.performance) for row in rows] == [(ASSET, pytest.approx(0.4))]


def test_oee_below_target_raises_and_a_good_window_clears_it():
    config = OeeConfig(window_ms=W, lateness_ms=1_000, oee_target=0.5)
    run = make_run(config)
    run.send(topics.MES_EVENTS, [order(0, 1.0)], now_ms=T0)
    run.send(
        topics.MACHINE_EVENTS,
        [state(0, State.PRODUCING), count(1, good=2), count(11, good=8), count(21)],
        now_ms=T0 + 21_000,
    )
    steps = alerts(run.tick(T0 + 21_000), "oee_below_target")
    assert [(a.status, a.value) for a in steps] == [("raised", 0.2), ("cleared", 0.8)]
