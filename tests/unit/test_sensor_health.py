from streams.sensor_health import HealthRules, SensorHealth

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
