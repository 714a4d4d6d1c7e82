"""The `machine.counter` contract: a declared rollover, and values that do not fit it."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from schemas.codec import decode_ingest
from schemas.events import PlcCounter
from schemas.exceptions import InvalidEventError
from tests.factories import ASSET, T0


def test_a_counter_may_declare_its_rollover():
    event = PlcCounter(time=T0, asset=ASSET, counter="good", value=65_535, rollover_bits=16)
    assert event.rollover_bits == 16
    assert PlcCounter(time=T0, asset=ASSET, counter="good", value=2**40).rollover_bits is None


def test_a_value_beyond_the_declared_rollover_is_refused_clearly():
    with pytest.raises(
        ValidationError, match=r"65536 does not fit a 16-bit counter \(0\.\.65535\)"
    ):
        PlcCounter(time=T0, asset=ASSET, counter="good", value=65_536, rollover_bits=16)
    with pytest.raises(ValidationError, match="rollover_bits"):
        PlcCounter(time=T0, asset=ASSET, counter="good", value=1, rollover_bits=12)


def test_a_counter_beyond_its_rollover_is_an_invalid_event_for_the_dead_letters():
    line = orjson.dumps(
        {
            "kind": "machine.counter",
            "time": T0,
            "asset": ASSET,
            "counter": "scrap",
            "value": 4_294_967_296,
            "rollover_bits": 32,
        }
    )
    with pytest.raises(InvalidEventError, match="does not fit a 32-bit counter"):
        decode_ingest(line)
