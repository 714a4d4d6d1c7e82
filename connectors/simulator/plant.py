"""A simulated assembly plant: machines on lines and stations, with states, counts, MES events
and sensor streams, and faults that can be injected. Deterministic for a given seed and start.

Pure: `advance(until_ms)` returns the events that happened up to that time; the caller decides
whether to publish them in real time or as fast as possible.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

import numpy as np

from connectors.settings import SimulatorSettings
from connectors.simulator.faults import BEARING_DEFECTS, FaultSpecError, parse_faults
from connectors.simulator.vibration import BEARING, Defect, MachineCondition, second_of_vibration
from schemas.events import (
    IngestEvent,
    MachineState,
    OperatorLogin,
    PlannedStopEnded,
    PlannedStopStarted,
    ProductionContext,
    ProductionCount,
    SensorBatch,
    SensorReading,
    SensorSpec,
    ShiftStarted,
    VehicleAtStation,
    WorkOrderStarted,
)
from schemas.states import State
from schemas.vibration import VibrationSpec

_VIN_CHARS = "".join(c for c in string.ascii_uppercase + string.digits if c not in "IOQ")
_STOPS = (
    (State.UNSPECIFIED_STOP, 20.0, 0.45),
    (State.EQUIPMENT_FAILURE, 150.0, 0.2),
    (State.MATERIAL_ISSUE, 60.0, 0.2),
    (State.OPERATOR_NOT_AT_MACHINE, 40.0, 0.15),
)
_PRODUCTS = (("sedan-body", 9.0), ("suv-body", 12.0), ("door-frame", 6.0))


@dataclass
class SimMachine:
    """One simulated machine: where it is, its state, order, part clock and sensor condition."""

    name: str
    asset: str
    line: str
    station: str
    rng: random.Random
    state: int = State.PRODUCING
    state_until_ms: int = 0
    next_part_ms: int = 0
    work_order: str = ""
    product: str = ""
    ideal_cycle_time_s: float = 10.0
    parts_in_order: int = 0
    vin: str = ""
    operator: str = ""
    stuck_temperature: float | None = None
    wear: float = 0.0
    drifting: bool = False
    shaft_hz: float = 24.6
    samples_rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def context(self, shift: str) -> ProductionContext:
        """The machine's production context during `shift`."""
        return ProductionContext(
            vin=self.vin or None,
            station=self.station,
            operator=self.operator or None,
            work_order=self.work_order or None,
            product=self.product or None,
            shift=shift,
        )


class PlantSimulator:
    """Advance with `advance(until_ms)`; every call returns the events in time order."""

    def __init__(
        self,
        settings: SimulatorSettings,
        start_ms: int,
        break_every_s: float = 3600.0,
        break_length_s: float = 300.0,
    ) -> None:
        self.settings = settings
        self.start_ms = start_ms
        self.now_ms = start_ms
        self.faults = parse_faults(settings.faults)
        unknown = {f.machine for f in self.faults} - {f"m{i + 1}" for i in range(settings.machines)}
        if unknown:
            msg = (
                f"faults name machines the plant does not have: {', '.join(sorted(unknown))}; "
                f"machines are m1..m{settings.machines}"
            )
            raise FaultSpecError(msg)
        self.shift = "A"
        self.break_every_ms = int(break_every_s * 1000)
        self.break_length_ms = int(break_length_s * 1000)
        self._rng = random.Random(settings.seed)
        self._on_break = False
        self._orders = 0
        self.machines = [self._make_machine(i) for i in range(settings.machines)]
        self._pending: list[IngestEvent] = self._opening_events()

    def _make_machine(self, index: int) -> SimMachine:
        line = f"line{index % self.settings.lines + 1}"
        station = f"st{index // self.settings.lines + 1}"
        name = f"m{index + 1}"
        asset = f"{self.settings.plant}/{line}/{station}/{name}"
        return SimMachine(
            name,
            asset,
            f"{self.settings.plant}/{line}",
            f"{self.settings.plant}/{line}/{station}",
            random.Random(self._rng.getrandbits(64)),
            shaft_hz=24.5 + 0.1 * index,  # 4-pole motors at 50 Hz, 1470-1500 rpm
            samples_rng=np.random.default_rng([self.settings.seed, index]),
        )

    def specs(self) -> list[SensorSpec]:
        """What the vibration sensors declare: the physics their condition monitoring needs
        (ISO 10816-3 group 2 on a rigid foundation, the shaft speed, the bearing)."""
        return [
            SensorSpec(
                time=self.start_ms,
                asset=machine.asset,
                sensor=f"{machine.name}.vibration",
                unit="g",
                interval_ms=1000,
                source="simulator",
                vibration=VibrationSpec(
                    unit="g", shaft_rpm=round(machine.shaft_hz * 60, 1), bearing=BEARING
                ),
            )
            for machine in self.machines
        ]

    def _opening_events(self) -> list[IngestEvent]:
        events: list[IngestEvent] = []
        t = self.start_ms
        for index, machine in enumerate(self.machines):
            machine.operator = f"op{index + 1:03d}"
            events.append(ShiftStarted(time=t, asset=machine.asset, shift=self.shift))
            events.append(OperatorLogin(time=t, asset=machine.asset, operator=machine.operator))
            events.extend(self._start_order(machine, t))
            events.extend(self._next_vehicle(machine, t))
            events.extend(self._set_state(machine, t, State.PRODUCING))
            machine.state_until_ms = t + self._run_length_ms(machine)
            machine.next_part_ms = t + self._cycle_ms(machine)
        return events

    def _start_order(self, machine: SimMachine, t: int) -> list[IngestEvent]:
        self._orders += 1
        product, cycle_s = _PRODUCTS[self._orders % len(_PRODUCTS)]
        machine.work_order = f"WO-{self._orders:05d}"
        machine.product = product
        machine.ideal_cycle_time_s = cycle_s
        machine.parts_in_order = 0
        return [
            WorkOrderStarted(
                time=t,
                asset=machine.asset,
                work_order=machine.work_order,
                product=product,
                ideal_cycle_time_s=cycle_s,
                planned_quantity=40,
                context=machine.context(self.shift),
            )
        ]

    def _set_state(self, machine: SimMachine, t: int, state: int) -> list[IngestEvent]:
        machine.state = state
        return [
            MachineState(
                time=t, asset=machine.asset, state=state, context=machine.context(self.shift)
            )
        ]

    def _run_length_ms(self, machine: SimMachine) -> int:
        return int(machine.rng.expovariate(1 / 240.0) * 1000) + 5000

    def _cycle_ms(self, machine: SimMachine) -> int:
        return int(machine.ideal_cycle_time_s * 1000 * machine.rng.uniform(1.0, 1.25))

    def _new_vin(self, machine: SimMachine) -> str:
        return "".join(machine.rng.choice(_VIN_CHARS) for _ in range(17))

    def _fault(self, machine: SimMachine, kind: str, t: int) -> bool:
        elapsed = (t - self.start_ms) / 1000.0
        return any(
            f.kind == kind and f.machine == machine.name and f.active(elapsed) for f in self.faults
        )

    def _machine_step(self, machine: SimMachine, t: int) -> list[IngestEvent]:
        events: list[IngestEvent] = []
        if self._on_break:
            return events
        if t >= machine.state_until_ms:
            if machine.state == State.PRODUCING:
                roll, chosen = machine.rng.random(), _STOPS[-1]
                for stop in _STOPS:
                    roll -= stop[2]
                    if roll <= 0:
                        chosen = stop
                        break
                events += self._set_state(machine, t, chosen[0])
                machine.state_until_ms = (
                    t + int(machine.rng.expovariate(1 / chosen[1]) * 1000) + 3000
                )
            else:
                events += self._set_state(machine, t, State.PRODUCING)
                machine.state_until_ms = t + self._run_length_ms(machine)
                machine.next_part_ms = t + self._cycle_ms(machine)
        if machine.state == State.PRODUCING and t >= machine.next_part_ms:
            events += self._finish_part(machine, t)
        return events

    def _finish_part(self, machine: SimMachine, t: int) -> list[IngestEvent]:
        scrap = machine.rng.random() < 0.04
        events: list[IngestEvent] = [
            ProductionCount(
                time=t,
                asset=machine.asset,
                good=0 if scrap else 1,
                scrap=1 if scrap else 0,
                context=machine.context(self.shift),
            )
        ]
        machine.parts_in_order += 1
        events.append(
            VehicleAtStation(
                time=t,
                asset=machine.station,
                vin=machine.vin,
                action="left",
                context=machine.context(self.shift),
            )
        )
        events += self._next_vehicle(machine, t)
        machine.next_part_ms = t + self._cycle_ms(machine)
        if machine.parts_in_order >= 40:
            events += self._start_order(machine, t)
        return events

    def _next_vehicle(self, machine: SimMachine, t: int) -> list[IngestEvent]:
        machine.vin = self._new_vin(machine)
        return [
            VehicleAtStation(
                time=t,
                asset=machine.station,
                vin=machine.vin,
                action="arrived",
                context=machine.context(self.shift),
            )
        ]

    def _break_step(self, t: int) -> list[IngestEvent]:
        if self.break_every_ms <= 0:
            return []
        phase = (t - self.start_ms) % self.break_every_ms
        in_break = (t - self.start_ms) >= self.break_every_ms and phase < self.break_length_ms
        if in_break == self._on_break:
            return []
        self._on_break = in_break
        events: list[IngestEvent] = []
        for machine in self.machines:
            if in_break:
                events.append(PlannedStopStarted(time=t, asset=machine.asset, reason="break"))
            else:
                events.append(PlannedStopEnded(time=t, asset=machine.asset, reason="break"))
                machine.next_part_ms = t + self._cycle_ms(machine)
        return events

    def _sensor_step(self, machine: SimMachine, t: int) -> list[IngestEvent]:
        if self._fault(machine, "silent", t):
            return []
        events: list[IngestEvent] = []
        running = machine.state == State.PRODUCING and not self._on_break
        context = machine.context(self.shift)
        if self._fault(machine, "drift", t):
            machine.wear += 0.0004
            machine.drifting = True
        elif machine.drifting:  # a drift that ends is a repair: the machine is as new again
            machine.wear = 0.0
            machine.drifting = False
        elapsed_ms = t - self.start_ms
        if elapsed_ms % (1000 // self.settings.current_rate_hz) == 0:
            current = (14.0 if running else 1.5) + machine.rng.gauss(0, 0.3)
            if self._fault(machine, "spike", t):
                current *= 3.0
            events.append(
                SensorReading(
                    time=t,
                    asset=machine.asset,
                    sensor=f"{machine.name}.current",
                    value=round(current, 4),
                    unit="A",
                    context=context,
                )
            )
        if elapsed_ms % 1000 == 0:
            events.append(self._temperature(machine, t, running, context))
            events.append(self._vibration(machine, t, running, context))
        return events

    def _temperature(
        self, machine: SimMachine, t: int, running: bool, context: ProductionContext
    ) -> SensorReading:
        value = 45.0 + (5.0 if running else 0.0) + machine.rng.gauss(0, 0.4) + 400 * machine.wear
        if self._fault(machine, "spike", t):
            value += 30.0
        if self._fault(machine, "stuck", t):
            if machine.stuck_temperature is None:
                machine.stuck_temperature = round(value, 3)
            value = machine.stuck_temperature
        else:
            machine.stuck_temperature = None
        return SensorReading(
            time=t,
            asset=machine.asset,
            sensor=f"{machine.name}.temperature",
            value=round(value, 3),
            unit="degC",
            context=context,
        )

    def _bearing_fault(self, machine: SimMachine, t: int) -> tuple[Defect, float] | None:
        """The machine's failing bearing component and how long it has been failing, if any."""
        elapsed = (t - self.start_ms) / 1000.0
        for fault in self.faults:
            defect = BEARING_DEFECTS.get(fault.kind)
            if defect and fault.machine == machine.name and fault.active(elapsed):
                return defect, elapsed - fault.at_s  # type: ignore[return-value]
        return None

    def _vibration(
        self, machine: SimMachine, t: int, running: bool, context: ProductionContext
    ) -> SensorBatch:
        rate = self.settings.vibration_rate_hz
        condition = MachineCondition(
            running=running,
            wear=machine.wear,
            spiking=self._fault(machine, "spike", t),
            failing=self._bearing_fault(machine, t),
        )
        samples = second_of_vibration(
            machine.shaft_hz, rate, (t - self.start_ms) / 1000.0, machine.samples_rng, condition
        )
        return SensorBatch(
            time=t,
            asset=machine.asset,
            sensor=f"{machine.name}.vibration",
            sample_rate_hz=rate,
            values=np.round(samples, 5).tolist(),
            unit="g",
            context=context,
        )

    def advance(self, until_ms: int, step_ms: int = 100) -> list[IngestEvent]:
        """The events up to `until_ms`, simulated in steps of `step_ms`, in time order."""
        events, self._pending = self._pending, []
        while self.now_ms + step_ms <= until_ms:
            self.now_ms += step_ms
            t = self.now_ms
            events += self._break_step(t)
            for machine in self.machines:
                events += self._machine_step(machine, t)
                events += self._sensor_step(machine, t)
        return events
