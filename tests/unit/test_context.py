"""Production context as of each event's time, from MES events."""

from __future__ import annotations

import random

from schemas.events import (
    OperatorLogin,
    OperatorLogout,
    SensorReading,
    ShiftStarted,
    VehicleAtStation,
    WorkOrderEnded,
    WorkOrderStarted,
)
from streams.core.context import ContextBook, changes_of
from tests.factories import T0

MACHINE = "p/body/st010/robot1"
STATION = "p/body/st010"
VIN = "WVWZZZ1JZXW000001"


def _book() -> ContextBook:
    book = ContextBook()
    book.apply(ShiftStarted(time=T0 + 0, asset="p/body", shift="early"))
    book.apply(
        WorkOrderStarted(
            time=T0 + 1_000,
            asset=MACHINE,
            work_order="WO-1",
            product="sedan",
            ideal_cycle_time_s=50,
        )
    )
    book.apply(VehicleAtStation(time=T0 + 2_000, asset=STATION, vin=VIN))
    book.apply(OperatorLogin(time=T0 + 3_000, asset=MACHINE, operator="op7"))
    book.apply(VehicleAtStation(time=T0 + 9_000, asset=STATION, vin=VIN, action="left"))
    book.apply(WorkOrderEnded(time=T0 + 10_000, asset=MACHINE, work_order="WO-1"))
    return book


def test_context_is_looked_up_as_of_the_event_time_through_the_asset_hierarchy():
    book = _book()
    during = book.at(MACHINE, T0 + 5_000)
    assert during.model_dump(exclude_none=True) == {
        "vin": VIN,
        "station": STATION,
        "operator": "op7",
        "work_order": "WO-1",
        "product": "sedan",
        "shift": "early",
    }
    before = book.at(MACHINE, T0 + 500)
    assert (before.shift, before.work_order, before.vin) == ("early", None, None)
    after = book.at(MACHINE, T0 + 12_000)
    assert (after.vin, after.work_order, after.operator) == (None, None, "op7")


def test_late_mes_events_take_their_place_in_time():
    book = _book()
    book.apply(OperatorLogout(time=T0 + 4_000, asset=MACHINE, operator="op7"))  # arrives last
    assert book.at(MACHINE, T0 + 3_500).operator == "op7"
    assert book.at(MACHINE, T0 + 4_500).operator is None


def test_enrich_fills_missing_fields_and_keeps_what_the_event_carries():
    book = _book()
    reading = SensorReading(
        time=T0 + 5_000, asset=MACHINE, sensor="temp", value=1.0, context={"operator": "badge-42"}
    )
    enriched = book.enrich(reading)
    assert enriched.context.operator == "badge-42"
    assert enriched.context.vin == VIN
    assert enriched.context.work_order == "WO-1"
    other = SensorReading(time=T0 + 5_000, asset="p/paint/st1/oven", sensor="t", value=1.0)
    assert book.enrich(other).context.model_dump(exclude_none=True) == {"station": "p/paint/st1"}


def test_history_is_bounded_per_asset_and_field():
    book = ContextBook(changes_kept=3)
    for i in range(10):
        book.apply(OperatorLogin(time=T0 + i * 1000, asset=MACHINE, operator=f"op{i}"))
    assert book.at(MACHINE, T0 + 9_500).operator == "op9"
    assert book.at(MACHINE, T0 + 500).operator is None  # forgotten: older than what is kept


def _expected(events: list, asset: str, time_ms: int) -> dict[str, str]:
    """The context at `time_ms` from the events themselves: per field, the most specific of
    the asset and its ancestors with a change at or before that time, its latest change."""
    parts = asset.split("/")
    owners = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    known = {"station": "/".join(parts[:3])}
    for name in ("vin", "operator", "work_order", "product", "shift"):
        for owner in owners:
            changes = [
                (e.time, order, changes_of(e)[name])
                for order, e in enumerate(events)
                if e.asset == owner and name in changes_of(e) and e.time <= time_ms
            ]
            if changes:
                value = max(changes)[2]
                if value is not None:
                    known[name] = value
                break
    return known


def test_kept_answers_agree_with_the_events_whatever_the_order_of_lookups_and_mes_events():
    rng = random.Random(5)
    assets = ["p/body", "p/body/st010", MACHINE, "p/body/st010/robot2"]
    kinds = [
        lambda a, t: ShiftStarted(time=t, asset=a, shift=rng.choice(["early", "late"])),
        lambda a, t: WorkOrderStarted(
            time=t, asset=a, work_order=f"WO-{t}", product="suv", ideal_cycle_time_s=50
        ),
        lambda a, t: WorkOrderEnded(time=t, asset=a, work_order="x"),
        lambda a, t: OperatorLogin(time=t, asset=a, operator=f"op{t % 7}"),
        lambda a, t: OperatorLogout(time=t, asset=a, operator="x"),
        lambda a, t: VehicleAtStation(time=t, asset=a, vin=VIN),
    ]
    book, applied = ContextBook(), []
    for step in range(3000):
        if step % 40 == 0:  # MES events now and then, some of them late
            event = rng.choice(kinds)(rng.choice(assets[:3]), T0 + rng.randrange(0, 200_000))
            book.apply(event)
            applied.append(event)
        asset = rng.choice(assets[2:])
        time_ms = T0 + (step * 60 if step % 3 else rng.randrange(-5_000, 200_000))
        context = book.at(asset, time_ms).model_dump(exclude_none=True)
        assert context == _expected(applied, asset, time_ms), (step, asset, time_ms)
