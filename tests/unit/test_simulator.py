import pytest

from connectors.simulator.plant import FaultSpecError, PlantSimulator, parse_faults
from schemas.codec import decode_any, encode
from schemas.states import State
from streams.settings import SimulatorSettings
from tests.factories import T0


def run(faults="", seconds=120, **kw):
    sim = PlantSimulator(
        SimulatorSettings(machines=3, faults=faults, vibration_rate_hz=200, **kw), T0
    )
    return sim, sim.advance(T0 + seconds * 1000)


def test_same_seed_gives_the_same_plant():
    _, first = run(seed=11)
    _, second = run(seed=11)
    strip = [e.model_dump(exclude={"id"}) for e in first]
    assert strip == [e.model_dump(exclude={"id"}) for e in second]


def test_events_are_valid_contracts_in_time_order_with_context():
    _, events = run()
    assert [e.time for e in events] == sorted(e.time for e in events)
    for event in events[:500]:
        assert decode_any(encode(event)) == event
    counts = [e for e in events if e.kind == "machine.count"]
    assert counts
    assert all(c.context and c.context.vin and c.context.work_order for c in counts)


def test_silent_fault_stops_a_machines_sensors_only_for_its_duration():
    _, events = run("silent:m2:30:20", seconds=90)
    m2 = [e.time - T0 for e in events if e.kind.startswith("sensor") and e.asset.endswith("/m2")]
    assert not [t for t in m2 if 30_000 <= t < 50_000]
    assert [t for t in m2 if t >= 50_000]


def test_drift_fault_wears_the_machine_until_it_is_repaired_when_the_fault_ends():
    _, events = run("drift:m1:30:30", seconds=90)

    def m1_temperatures(first_s: int, last_s: int) -> list[float]:
        return [
            e.value
            for e in events
            if e.kind == "sensor.reading"
            and e.sensor == "m1.temperature"
            and first_s * 1000 <= e.time - T0 < last_s * 1000
        ]

    before, drifted, repaired = (
        m1_temperatures(0, 30),
        m1_temperatures(55, 60),
        m1_temperatures(61, 90),
    )
    assert min(drifted) > max(before) + 30  # the wear heats the machine up
    assert max(repaired) < max(before) + 3


def test_spike_fault_raises_the_temperature():
    _, events = run("spike:m1:60:5", seconds=70)
    temps = {
        e.time - T0: e.value
        for e in events
        if e.kind == "sensor.reading" and e.sensor == "m1.temperature"
    }
    assert temps[61_000] > max(v for t, v in temps.items() if t < 60_000) + 20


@pytest.mark.parametrize("spec", ["boom:m1:3", "spike:m1", "spike:m1:soon"])
def test_bad_fault_specs_are_refused_with_an_example(spec):
    with pytest.raises(FaultSpecError, match="spike:m1:30|numbers"):
        parse_faults(spec)


def test_faults_for_machines_the_plant_lacks_are_refused():
    with pytest.raises(FaultSpecError, match="m9"):
        PlantSimulator(SimulatorSettings(machines=3, faults="spike:m9:10"), T0)


@pytest.mark.parametrize(
    ("fault", "component"), [("bearing", "outer_race"), ("bearing_inner", "inner_race")]
)
def test_a_bearing_fault_is_a_race_defect_whose_vibration_grows(fault: str, component: str):
    import numpy as np

    from streams.core.condition import ConditionMonitor

    sim = PlantSimulator(
        SimulatorSettings(machines=2, faults=f"{fault}:m2:10", vibration_rate_hz=5000), T0
    )
    specs = {spec.sensor: spec.vibration for spec in sim.specs()}
    assert set(specs) == {"m1.vibration", "m2.vibration"}
    monitors = {sensor: ConditionMonitor(spec) for sensor, spec in specs.items() if spec}
    judged: dict[str, list] = {"m1.vibration": [], "m2.vibration": []}
    producing: dict[str, bool] = {}
    for event in sim.advance(T0 + 200_000):  # judged while the machine runs, as the worker does
        if event.kind == "machine.state":
            producing[event.asset] = event.state == State.PRODUCING
        elif event.kind == "sensor.batch" and producing.get(event.asset):
            window = monitors[event.sensor].observe(
                event.time, np.asarray(event.values), event.sample_rate_hz
            )
            judged[event.sensor].append(window)
    sound = judged["m1.vibration"]
    assert len(sound) > 40
    assert {w.zone for w in sound} == {"A"}
    assert {w.suspected for w in sound} == {None}
    # from the first band picked after the fault began (a band is picked once a minute)
    failing = [w for w in judged["m2.vibration"] if w.time - T0 >= 60_000]
    assert len(failing) > 40
    assert {w.suspected for w in failing} == {component}
    early = [w.velocity_rms_mm_s for w in failing[:10]]
    late = [w.velocity_rms_mm_s for w in failing[-10:]]
    assert min(late) > 1.5 * max(early)


def test_the_bearing_fault_kind_is_parsed_like_the_others():
    (fault,) = parse_faults("bearing:m3:40")
    assert (fault.kind, fault.machine, fault.at_s) == ("bearing", "m3", 40.0)
    with pytest.raises(FaultSpecError, match="bearing"):
        parse_faults("rust:m1:10")
