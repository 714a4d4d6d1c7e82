import math

import orjson
import pytest

from schemas.codec import decode_any, decode_machine, decode_sensor, encode
from schemas.events import SensorBatch
from schemas.exceptions import InvalidEventError
from tests.factories import T0, count, order, reading, state, stop


@pytest.mark.parametrize(
    "event", [state(0, 10000), count(1, 3, 1), order(2, 1.5), *stop(3, 4), reading(5, 21.5)]
)
def test_every_contract_round_trips(event):
    assert decode_any(encode(event)) == event


def test_iso_time_with_offset_is_accepted_and_naive_time_refused():
    base = {"kind": "machine.state", "asset": "p/l/s/m", "state": 10000}
    event = decode_machine({**base, "time": "2026-01-01T01:00:00+01:00"})
    assert event.time == T0
    with pytest.raises(InvalidEventError, match="no UTC offset"):
        decode_machine({**base, "time": "2026-01-01T01:00:00"})


@pytest.mark.parametrize(
    ("raw", "error_type", "mentions"),
    [
        (b"not json at all", "not_json", "not JSON"),
        (b"[1, 2]", "not_object", "JSON object"),
        (
            b'{"kind": "machine.state", "time": 1767225600000, "asset": "p/l", "state": 12}',
            "schema",
            "state 12 is not a known state code",
        ),
        (
            b'{"kind": "sensor.reading", "time": 1767225600000, "asset": "p/l", "sensor": "t"}',
            "schema",
            "value",
        ),
        (
            b'{"kind": "sensor.reading", "time": 1767225600000, "asset": "bad path!", '
            b'"sensor": "t", "value": 1}',
            "schema",
            "asset",
        ),
        (b'{"kind": "machine.teleport", "time": 1767225600000, "asset": "p"}', "schema", "kind"),
    ],
)
def test_invalid_messages_name_the_problem(raw, error_type, mentions):
    with pytest.raises(InvalidEventError) as caught:
        decode_any(raw)
    assert caught.value.error_type == error_type
    assert mentions in caught.value.reason


def test_non_finite_samples_are_refused():
    batch = SensorBatch(time=T0, asset="p/l/s/m", sensor="v", sample_rate_hz=10, values=[1.0, 2.0])
    data = orjson.loads(encode(batch))
    data["values"] = [1.0, math.inf]
    with pytest.raises(InvalidEventError, match="finite"):
        decode_sensor(data)


def test_batch_end_time_follows_its_sample_rate():
    batch = SensorBatch(time=T0, asset="p", sensor="v", sample_rate_hz=1000, values=[0.0] * 2500)
    assert batch.end_time == T0 + 2500


def test_results_with_unknown_ratios_round_trip():
    from schemas.events import Alert, OeeResult

    result = OeeResult(
        time=T0,
        asset="p/l/s/m",
        window_start=T0,
        window_end=T0 + 60_000,
        window="1m",
        version=1,
        provisional=False,
        planned_time_s=0,
        run_time_s=0,
        unknown_time_s=60,
        excluded_time_s=0,
        ideal_time_s=0,
        good=0,
        scrap=0,
        total=0,
    )
    assert result.oee is None
    assert decode_any(encode(result)) == result
    alert = Alert(
        time=T0,
        asset="p",
        alert_id="a",
        alert_kind="anomaly",
        status="cleared",
        severity="warning",
        source="s",
        message="ok",
        raised_at=T0,
    )
    assert decode_any(encode(alert)) == alert


def test_a_model_validator_error_reads_as_its_own_message(monkeypatch):
    from pydantic import ValidationError

    from connectors.settings import MesSettings
    from schemas.codec import describe_validation_error

    monkeypatch.delenv("LINEPULSE_MES_TOKEN", raising=False)
    with pytest.raises(ValidationError) as caught:
        MesSettings()
    text = describe_validation_error(caught.value)
    assert text == "the MES endpoint needs a token: set LINEPULSE_MES_TOKEN (from a secret)"


def test_a_field_validator_error_names_the_field_without_pydantic_prefix():
    with pytest.raises(InvalidEventError) as caught:
        decode_machine(
            {"kind": "machine.state", "time": T0, "asset": "p/l/s/m", "state": 123456789}
        )
    assert caught.value.reason == (
        "invalid machine.state: machine.state.state: state 123456789 is not a known state code; "
        "use 10000..220000 (see schemas.states)"
    )
