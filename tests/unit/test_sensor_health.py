from streams.core.sensor_health import HealthRules, SensorHealth

T = 1_767_225_600_000


def feed(health, values, every_ms=1000, start=T):
    findings = []
    for i, value in enumerate(values):
        findings.append(
            health.observe(start + i * every_ms, value, arrival_ms=start + i * every_ms)
        )
    return findings


def test_a_value_held_longer_than_the_limit_is_stuck_and_a_change_frees_it():
    health = SensorHealth(HealthRules(stuck_after_s=10, stuck_min_readings=5))
    findings = feed(health, [20.0, 20.1, *[20.5] * 15, 20.4])
    flagged = [i for i, f in enumerate(findings) if f == ["stuck"]]
    assert flagged == list(range(12, 17))  # held since reading 2: stuck from 10 s on
    assert findings[-1] == []


def test_noisy_values_are_never_stuck():
    health = SensorHealth(HealthRules(stuck_after_s=5))
    assert all(f == [] for f in feed(health, [20 + (i % 3) * 0.1 for i in range(100)]))


def test_a_repeated_timestamp_is_a_duplicate():
    health = SensorHealth()
    feed(health, [1.0, 2.0, 3.0])
    assert health.observe(T + 1000, 2.0, T + 5000) == ["duplicate"]


def test_silence_is_measured_against_the_sensors_own_rhythm():
    health = SensorHealth(HealthRules(silent_after_intervals=5, silent_min_s=2))
    feed(health, [float(i) for i in range(30)], every_ms=1000)
    last = T + 29_000
    assert not health.silent(last + 4_000)
    assert health.silent(last + 6_000)
    fast = SensorHealth(HealthRules(silent_after_intervals=5, silent_min_s=2))
    feed(fast, [float(i) for i in range(30)], every_ms=100)
    assert not fast.silent(T + 2_900 + 1_500)  # the floor keeps jitter from flapping
    assert fast.silent(T + 2_900 + 2_500)


def test_a_sensor_never_heard_from_is_not_silent():
    assert not SensorHealth().silent(T)


def _spec(**fields):
    from schemas.events import SensorSpec

    return SensorSpec(time=T, asset="p/l/s/m", sensor="temp", **fields)


def test_values_outside_the_declared_range_are_found_and_inside_are_not():
    health = SensorHealth(HealthRules(stuck_after_s=0))
    spec = _spec(expected_min=0.0, expected_max=100.0)
    findings = [
        health.observe(T + i * 1000, value, T + i * 1000, spec)
        for i, value in enumerate([20.0, 100.0, 100.5, -0.1, 0.0])
    ]
    assert findings == [[], [], ["out_of_range"], ["out_of_range"], []]
    assert health.observe(T + 9000, 500.0, T + 9000) == []  # no spec, no range


def test_an_interval_drifting_from_the_nominal_one_is_found_once_the_rhythm_is_known():
    spec = _spec(interval_ms=1000)
    steady = SensorHealth(HealthRules(stuck_after_s=0))
    assert all(
        steady.observe(T + i * 1100, float(i), T, spec) == [] for i in range(40)
    )  # 10 % late: inside the tolerance
    slow = SensorHealth(HealthRules(stuck_after_s=0))
    findings = [slow.observe(T + i * 3000, float(i), T, spec) for i in range(20)]
    assert findings[:10] == [[]] * 10  # not before ten intervals were seen
    assert findings[-1] == ["rate_drift"]
