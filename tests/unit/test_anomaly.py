import pickle
import random

from streams.anomaly import DetectorSettings, SensorDetector


def test_nothing_is_flagged_during_warm_up():
    detector = SensorDetector(DetectorSettings(warmup=50))
    results = [detector.observe({"value": v}) for v in [1.0, 100.0, -50.0] * 10]
    assert not any(r.is_anomaly for r in results)
    assert all(r.warming_up for r in results)


def test_spike_after_warm_up_is_anomalous_and_noise_mostly_is_not():
    rng = random.Random(4)
    detector = SensorDetector(DetectorSettings(warmup=60))
    normal = [detector.observe({"value": 20 + rng.gauss(0, 1)}) for _ in range(500)]
    spike = detector.observe({"value": 35.0})
    assert spike.is_anomaly
    assert 0 <= spike.score <= 1
    assert sum(r.is_anomaly for r in normal) <= 3


def test_a_fault_does_not_become_the_new_normal():
    rng = random.Random(5)
    detector = SensorDetector(DetectorSettings(warmup=60, window_size=200))
    for _ in range(300):
        detector.observe({"value": 20 + rng.gauss(0, 1)})
    shifted = [detector.observe({"value": 40 + rng.gauss(0, 1)}) for _ in range(500)]
    assert all(r.is_anomaly for r in shifted)


def test_detector_state_pickles_and_resumes():
    rng = random.Random(6)
    detector = SensorDetector()
    for _ in range(200):
        detector.observe({"value": rng.gauss(0, 1)})
    copy = pickle.loads(pickle.dumps(detector))
    assert copy.observe({"value": 0.3}) == detector.observe({"value": 0.3})


def test_a_feature_that_barely_moves_does_not_turn_jitter_into_alarms():
    rng = random.Random(7)
    detector = SensorDetector(DetectorSettings(warmup=30))
    results = [
        detector.observe({"band_high": 0.001 + rng.choice([0, 1e-9, 2e-9])}) for _ in range(500)
    ]
    assert not any(r.is_anomaly for r in results)
    assert detector.observe({"band_high": 0.5}).is_anomaly
