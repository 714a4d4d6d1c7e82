import itertools
import math
import pickle
import random

from river import anomaly

from streams.core.anomaly import AssetDetector, DetectorSettings, LikelihoodDetector, SensorDetector
from streams.core.asset_rounds import AssetRounds


def gaussian(rng: random.Random, n: int, mean: float = 20.0, sd: float = 1.0) -> list[float]:
    return [rng.gauss(mean, sd) for _ in range(n)]


def observe_all(detector: SensorDetector, values: list[float], feature: str = "value"):
    return [detector.observe({feature: v}) for v in values]


def test_nothing_is_flagged_during_warm_up():
    detector = SensorDetector(DetectorSettings(warmup=50))
    results = observe_all(detector, [1.0, 100.0, -50.0] * 10)
    assert not any(r.is_anomaly for r in results)
    assert all(r.warming_up and r.score == 0.0 for r in results)


def test_a_spike_after_warm_up_is_anomalous_and_noise_mostly_is_not():
    rng = random.Random(4)
    detector = SensorDetector()
    normal = observe_all(detector, gaussian(rng, 3000))
    spike = detector.observe({"value": 35.0})
    assert spike.is_anomaly
    assert spike.score == 1.0
    after_warm_up = normal[300:]
    assert sum(r.is_anomaly for r in after_warm_up) <= len(after_warm_up) * 0.002
    assert all(0.0 <= r.score <= 1.0 for r in normal)


def test_what_counts_as_anomalous_adapts_to_how_the_feature_usually_behaves():
    """The same 4.5-sigma value is news on a steady sensor and ordinary on one whose noise is
    heavy-tailed with the same variance."""
    rng = random.Random(8)
    steady = SensorDetector()
    observe_all(steady, gaussian(rng, 2000, 0.0, 1.0))
    spiky = SensorDetector()
    scale = 1 / math.sqrt(2)  # Laplace with unit variance
    observe_all(spiky, [rng.choice((-1, 1)) * rng.expovariate(1 / scale) for _ in range(2000)])
    assert steady.observe({"value": 4.5}).is_anomaly
    assert not spiky.observe({"value": 4.5}).is_anomaly


def test_a_lasting_fault_is_reported_once_while_it_stays_anomalous():
    rng = random.Random(5)
    settings = DetectorSettings(rest=100)
    detector = SensorDetector(settings)
    observe_all(detector, gaussian(rng, 1000))
    fault = observe_all(detector, gaussian(rng, 60, mean=30.0))
    # beyond the range at once; then anomalous again as soon as the smoothed deviation has risen
    assert fault[0].is_anomaly
    assert all(r.is_anomaly for r in fault[5:])
    onsets = [r for r in fault if r.score >= settings.threshold]
    assert len(onsets) == 1
    assert all(0.0 < r.score < settings.threshold for r in fault[1:])


def test_a_fault_is_kept_out_of_training_so_it_does_not_become_the_new_normal():
    def anomalous_share(quarantine: int) -> float:
        rng = random.Random(6)
        detector = SensorDetector(DetectorSettings(window_size=200, quarantine=quarantine))
        observe_all(detector, gaussian(rng, 600))
        shifted = observe_all(detector, gaussian(rng, 400, mean=26.0))
        return sum(r.is_anomaly for r in shifted) / len(shifted)

    assert anomalous_share(quarantine=400) > 0.9
    assert anomalous_share(quarantine=0) < 0.5  # learning the fault makes it normal quickly


def test_detector_state_pickles_and_resumes_where_it_was():
    rng = random.Random(6)
    detector = SensorDetector()
    observe_all(detector, gaussian(rng, 500))
    copy = pickle.loads(pickle.dumps(detector))
    for value in [20.3, 19.1, 27.0, 20.0]:
        assert copy.observe({"value": value}) == detector.observe({"value": value})


def test_a_feature_that_barely_moves_does_not_turn_jitter_into_alarms():
    rng = random.Random(7)
    detector = SensorDetector(DetectorSettings(warmup=30))
    jitter = [0.001 + rng.choice([0, 1e-9, 2e-9]) for _ in range(1000)]
    assert not any(r.is_anomaly for r in observe_all(detector, jitter, "band_high"))
    assert detector.observe({"band_high": 0.5}).is_anomaly


def test_each_feature_has_its_own_model_and_any_of_them_makes_the_observation_anomalous():
    rng = random.Random(9)
    detector = SensorDetector()
    for _ in range(1000):
        detector.observe({"rms": rng.gauss(1.0, 0.05), "kurtosis": rng.gauss(3.0, 0.2)})
    assert detector.observe({"rms": 1.0, "kurtosis": 9.0}).is_anomaly
    assert not detector.observe({"rms": 1.01, "kurtosis": 3.1}).is_anomaly


def test_the_feature_model_is_a_river_anomaly_detector():
    rng = random.Random(10)
    model = LikelihoodDetector(DetectorSettings(warmup=100))
    scores = []
    for value in gaussian(rng, 500):
        scores.append(model.score_one({"x": value}))
        model.learn_one({"x": value})
    assert scores[:100] == [0.0] * 100
    assert model.score_one({"x": 40.0}) == 1.0
    clone = model.clone()  # River's own API: same parameters, fresh state
    assert clone.warming_up
    assert clone.settings == model.settings
    # and it plugs into River's filters like any River detector
    quantile = anomaly.QuantileFilter(LikelihoodDetector(), q=0.99)
    quantile.learn_one({"x": 1.0})


def test_the_asset_model_sees_a_small_shift_of_all_sensors_better_than_each_sensor_alone():
    rng = random.Random(1)
    sensors = [f"s{i}" for i in range(8)]
    asset = AssetDetector()
    single = {s: SensorDetector() for s in sensors}

    clock = iter(range(0, 10**9, 1000))

    def step(shift: float) -> tuple[bool, bool]:
        asset_flags, sensor_flags = False, False
        second = next(clock)
        for sensor in sensors:
            value = rng.gauss(20.0 + shift, 1.0)
            for _, scored in asset.observe(sensor, second, {"value": value}):
                asset_flags |= scored.is_anomaly
            sensor_flags |= single[sensor].observe({"value": value}).is_anomaly
        return asset_flags, sensor_flags

    normal = [step(0.0) for _ in range(1500)][300:]
    shifted = [step(1.25) for _ in range(60)]  # every sensor 1.25 standard deviations up
    asset_steps = sum(asset_flag for asset_flag, _ in shifted)
    sensor_steps = sum(sensor_flag for _, sensor_flag in shifted)
    assert asset_steps >= 40
    assert asset_steps >= 2 * sensor_steps
    assert sum(asset_flag for asset_flag, _ in normal) <= len(normal) * 0.01


def test_a_jump_soon_after_a_short_warm_up_stays_anomalous_after_its_first_value():
    """The unsteady deviations of the first few values (statistics of a handful of values) do
    not widen the adaptive threshold."""
    detector = SensorDetector(DetectorSettings(warmup=30, window_size=200))
    observe_all(detector, [20.0 + (i % 7) * 0.1 for i in range(90)])
    jump = observe_all(detector, [60.0] * 6)
    assert all(r.is_anomaly for r in jump)


def test_the_asset_model_closes_a_round_once_every_sensor_has_reported_past_it():
    asset = AssetDetector()
    assert [t for t, _ in asset.observe("current", 100, {"value": 1.0})] == []
    assert [t for t, _ in asset.observe("current", 1_100, {"value": 1.1})] == [0]
    assert asset.observe("temperature", 1_500, {"value": 40.0}) == []  # current is at 1,100
    for t in range(1_200, 3_000, 100):  # temperature has not reported past 2,000
        assert asset.observe("current", t, {"value": 1.0}) == []
    assert [t for t, _ in asset.observe("temperature", 2_500, {"value": 40.0})] == [1_000]
    # a silent sensor is no longer waited for once it is the stall time behind the others
    silent_from = 2_500 + AssetRounds.stall_ms
    closed = [t for t, _ in asset.observe("current", silent_from + 1, {"value": 1.0})]
    assert closed == [2_000]  # the rounds since hold no observation


def _asset_scores(observations: list[tuple[str, int, float]]) -> list[tuple[int, float, bool]]:
    asset = AssetDetector(DetectorSettings(warmup=20))
    return sorted(
        (start, round(scored.evidence, 12), scored.is_anomaly)
        for sensor, time, value in observations
        for start, scored in asset.observe(sensor, time, {"value": value})
    )


def test_the_asset_model_scores_the_same_whatever_order_its_sensors_arrive_in():
    """Each sensor's own observations stay in order (one partition), but how the sensors'
    topics interleave on delivery varies; once the asset's sensors are known, its rounds and
    scores do not."""
    rng = random.Random(3)
    fast = [
        ("current", t, rng.gauss(14.0, 0.3) + (3.0 if t > 80_000 else 0.0))
        for t in range(0, 120_000, 100)
    ]
    slow = [
        ("temperature", t + 40, rng.gauss(40.0, 0.2) + (1.5 if t > 80_000 else 0.0))
        for t in range(0, 120_000, 1000)
    ]
    in_time = sorted(fast + slow, key=lambda o: o[1])
    expected = _asset_scores(in_time)
    first = [fast.pop(0), slow.pop(0)]  # from when both sensors are known
    assert any(anomalous for _, _, anomalous in expected)
    for seed in range(3):
        order = random.Random(seed)
        streams, shuffled = [list(fast), list(slow)], list(first)
        while any(streams):
            stream = order.choice([s for s in streams if s])
            behind = min((s for s in streams if s), key=lambda s: s[0][1])
            if stream[0][1] - behind[0][1] > 10_000:  # far behind is a silent sensor
                stream = behind
            take = order.randint(1, 30)
            shuffled += stream[:take]
            del stream[:take]
        assert _asset_scores(shuffled) == expected


def test_a_score_hovering_at_the_threshold_does_not_make_the_verdict_flap():
    def flips(release: float) -> int:
        total = 0
        for seed in range(4):
            rng = random.Random(seed)
            detector = SensorDetector(DetectorSettings(release=release))
            observe_all(detector, gaussian(rng, 2000, 0.0))
            marginal = observe_all(detector, gaussian(rng, 300, 2.0))  # a fault near the limit
            total += sum(a.is_anomaly != b.is_anomaly for a, b in itertools.pairwise(marginal))
        return total

    assert flips(release=0.6) * 2 < flips(release=1.0)


def test_a_young_model_does_not_take_ordinary_noise_for_anomalies():
    """After a short warm-up the distribution of deviations is known from few values; its tail
    is Student's t, so ordinary noise rarely looks anomalous (a normal tail: about 6 %)."""
    flagged = observed = 0
    for seed in range(10):
        rng = random.Random(seed)
        detector = SensorDetector(DetectorSettings(warmup=30))
        results = observe_all(detector, gaussian(rng, 300))
        flagged += sum(r.is_anomaly for r in results)
        observed += len(results) - 30
    assert flagged <= observed * 0.02


def test_an_asset_model_checkpointed_before_event_time_rounds_loads_and_goes_on():
    old = AssetDetector()
    old.observe("current", 0, {"value": 1.0})
    state = dict(old.__dict__)
    del state["_rounds"], state["_carried"]
    state.update(_round={"current|value": (0.1, 1)}, _reports={"current": 1})
    restored = AssetDetector.__new__(AssetDetector)
    restored.__setstate__(state)
    assert not hasattr(restored, "_round")
    assert restored.observe("current", 100, {"value": 1.0}) == []
    ((start, scored),) = restored.observe("current", 1_500, {"value": 1.0})
    assert start == 0
    assert scored.warming_up
