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
