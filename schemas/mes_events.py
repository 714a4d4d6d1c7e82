"""MES event contracts: work orders, shifts, planned stops, vehicles at stations, operators."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.base import Event, Name


class WorkOrderStarted(Event):
    """A work order started on the asset: which product, its ideal cycle time and quantity."""

    kind: Literal["mes.work_order.started"] = "mes.work_order.started"
    work_order: Name
    product: Name
    ideal_cycle_time_s: Annotated[float, Field(gt=0, le=86_400)]
    planned_quantity: Annotated[int, Field(ge=0)] = 0


class WorkOrderEnded(Event):
    """The asset's work order ended."""

    kind: Literal["mes.work_order.ended"] = "mes.work_order.ended"
    work_order: Name


class ShiftStarted(Event):
    """A shift started on the asset."""

    kind: Literal["mes.shift.started"] = "mes.shift.started"
    shift: Name


class ShiftEnded(Event):
    """The asset's shift ended."""

    kind: Literal["mes.shift.ended"] = "mes.shift.ended"
    shift: Name


class PlannedStopStarted(Event):
    """A planned stop (break, planned maintenance, meeting): excluded from planned time."""

    kind: Literal["mes.planned_stop.started"] = "mes.planned_stop.started"
    reason: Name


class PlannedStopEnded(Event):
    """The asset's planned stop ended (`reason` as when it started)."""

    kind: Literal["mes.planned_stop.ended"] = "mes.planned_stop.ended"
    reason: Name


class VehicleAtStation(Event):
    """A vehicle (by VIN) arrived at or left the station."""

    kind: Literal["mes.vehicle.at_station"] = "mes.vehicle.at_station"
    vin: Annotated[str, Field(pattern=r"^[A-HJ-NPR-Z0-9]{17}$")]
    action: Literal["arrived", "left"] = "arrived"


class OperatorLogin(Event):
    """An operator logged in at the asset."""

    kind: Literal["mes.operator.login"] = "mes.operator.login"
    operator: Name


class OperatorLogout(Event):
    """An operator logged out of the asset."""

    kind: Literal["mes.operator.logout"] = "mes.operator.logout"
    operator: Name


MesEvent = (
    WorkOrderStarted
    | WorkOrderEnded
    | ShiftStarted
    | ShiftEnded
    | PlannedStopStarted
    | PlannedStopEnded
    | VehicleAtStation
    | OperatorLogin
    | OperatorLogout
)
