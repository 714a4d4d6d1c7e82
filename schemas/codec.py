"""Encode events to JSON bytes and decode (and validate) them back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from schemas.alarms import AlarmAction
from schemas.events import AnyEvent, IngestEvent, MachineEvent, MesEvent, SensorEvent
from schemas.exceptions import InvalidEventError, LinePulseError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_ANY = TypeAdapter(Annotated[AnyEvent, Field(discriminator="kind")])
_INGEST = TypeAdapter(Annotated[IngestEvent, Field(discriminator="kind")])
_SENSOR = TypeAdapter(Annotated[SensorEvent, Field(discriminator="kind")])
_MACHINE = TypeAdapter(Annotated[MachineEvent, Field(discriminator="kind")])
_MES = TypeAdapter(Annotated[MesEvent, Field(discriminator="kind")])
_ACTION = TypeAdapter(AlarmAction)


def encode(event: BaseModel) -> bytes:
    """An event as JSON bytes, unset optional fields left out."""
    return orjson.dumps(event.model_dump(exclude_none=True))


def describe_validation_error(error: ValidationError) -> str:
    """The first five problems of a validation error, as `field: message` parts; a problem of
    the whole model (a model validator's) is its message alone. A validator's own message is
    given without pydantic's "Value error, " / "Assertion failed, " in front."""
    parts = []
    for item in error.errors(include_url=False)[:5]:
        message = item["msg"]
        raised = item.get("ctx", {}).get("error")
        if item["type"] in ("value_error", "assertion_error") and raised is not None:
            message = str(raised) or message
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def load_yaml_model(path: Path, model: type[M], error: type[LinePulseError], what: str) -> M:
    """A YAML file (`what`, for the messages) validated into `model`; a file that cannot be
    read or a mistake in it raises `error` naming the file and the fields."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        msg = f"cannot read {what} {path}: {exc}"
        raise error(msg) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        msg = f"{path}: {describe_validation_error(exc)}"
        raise error(msg) from exc


def json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """`raw` parsed as one JSON object (`what`, for the message), or InvalidEventError."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson counts lines and columns of this one message, not of the file it came from
        reason = f"not JSON: {exc.msg} at character {exc.pos + 1}"
        raise InvalidEventError(reason, "not_json") from exc
    if not isinstance(data, dict):
        reason = f"expected a JSON object for {what}, got {type(data).__name__}"
        raise InvalidEventError(reason, "not_object")
    return data


def _decode(raw: bytes | str | dict[str, Any], adapter: TypeAdapter[T], what: str) -> T:
    data = raw if isinstance(raw, dict) else json_object(raw, what)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        reason = f"invalid {data.get('kind', 'event')!s}: {describe_validation_error(exc)}"
        raise InvalidEventError(reason, "schema") from exc


def decode_any(raw: bytes | str | dict[str, Any]) -> AnyEvent:
    """Any LinePulse event from JSON (bytes, text or a parsed dict)."""
    return _decode(raw, _ANY, "an event")


def decode_ingest(raw: bytes | str | dict[str, Any]) -> IngestEvent:
    """An ingest event (sensor, machine or MES) from JSON."""
    return _decode(raw, _INGEST, "an ingest event")


def decode_sensor(raw: bytes | str | dict[str, Any]) -> SensorEvent:
    """A sensor reading or batch from JSON."""
    return _decode(raw, _SENSOR, "a sensor event")


def decode_machine(raw: bytes | str | dict[str, Any]) -> MachineEvent:
    """A machine state, count or PLC counter from JSON."""
    return _decode(raw, _MACHINE, "a machine event")


def decode_mes(raw: bytes | str | dict[str, Any]) -> MesEvent:
    """An MES event from JSON."""
    return _decode(raw, _MES, "an MES event")


def decode_alarm_action(raw: bytes | str | dict[str, Any]) -> AlarmAction:
    """An operator's action on an alarm from JSON."""
    return _decode(raw, _ACTION, "an alarm action")
