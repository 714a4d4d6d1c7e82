import math

import pytest

from streams.core.features import per_second_features
from tests.factories import T0


def test_sine_features_match_their_closed_form():
    rate, amplitude = 1000, 2.0
    values = [amplitude * math.sin(2 * math.pi * 50 * n / rate) for n in range(rate)]
    (second,) = per_second_features(T0, rate, values)
    assert second.samples == rate
    assert second.rms == pytest.approx(amplitude / math.sqrt(2), rel=1e-6)
    assert second.peak == pytest.approx(amplitude, rel=1e-6)
    assert second.crest_factor == pytest.approx(math.sqrt(2), rel=1e-6)
    assert second.kurtosis == pytest.approx(1.5, rel=1e-3)
    assert second.band_energy[0] > 0.99  # 50 Hz sits in the lowest third of 0..500 Hz


def test_batch_is_split_at_utc_second_boundaries():
    seconds = per_second_features(T0 + 500, 100, [1.0] * 150)
    assert [(s.second - T0, s.samples) for s in seconds] == [(0, 50), (1000, 100)]


@pytest.mark.parametrize(
    ("offset_ms", "rate", "count"),
    [(0, 1000, 1000), (0, 1000, 1001), (999, 1000, 1), (999, 1000, 2), (3, 3, 7), (250, 7, 30)],
)
def test_each_sample_counts_in_the_utc_second_of_its_own_time(offset_ms, rate, count):
    seconds = per_second_features(T0 + offset_ms, rate, [float(n) for n in range(count)])
    expected: dict[int, int] = {}
    for n in range(count):
        second = (T0 + offset_ms + int(n * 1000.0 / rate)) // 1000 * 1000
        expected[second] = expected.get(second, 0) + 1
    assert [(s.second, s.samples) for s in seconds] == list(expected.items())
    assert sum(s.samples for s in seconds) == count


def test_kurtosis_is_the_fourth_standardised_moment():
    values = [0.0, 0.0, 0.0, 10.0, -10.0, 1.0, -1.0, 0.5]
    (second,) = per_second_features(T0, 100, values)
    mean = sum(values) / len(values)
    m2 = sum((v - mean) ** 2 for v in values) / len(values)
    m4 = sum((v - mean) ** 4 for v in values) / len(values)
    assert second.kurtosis == pytest.approx(m4 / m2**2, rel=1e-12)
