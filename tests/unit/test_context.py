"""Production context as of each event's time, from MES events."""

from __future__ import annotations

from schemas.events import (
    OperatorLogin,
    OperatorLogout,
    SensorReading,
    ShiftStarted,
    VehicleAtStation,
    WorkOrderEnded,
    WorkOrderStarted,
)
from streams.core.context import ContextBook
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
