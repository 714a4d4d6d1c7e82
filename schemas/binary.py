"""The binary sample batch: a fast sensor's samples as little-endian float32 or int16 (with a
scale, as many DAQ cards deliver them) behind a small header, on `linepulse.sensor.batches.v1`
beside the JSON `sensor.batch` contract.

Layout, little-endian, a 32-byte fixed part, then the header, then the samples:

| offset | type | field |
| --- | --- | --- |
| 0 | 4 bytes | magic `LPSB` |
| 4 | uint8 | layout version, 1 |
| 5 | uint8 | sample type: 1 float32, 2 int16 |
| 6 | uint16 | header length H in bytes |
| 8 | uint32 | sample count N |
| 12 | int64 | time of the first sample, epoch ms UTC |
| 20 | float64 | sample rate, Hz |
| 28 | float32 | scale: an int16 sample is raw × scale (1.0 for float32) |
| 32 | H bytes | UTF-8 JSON: `asset`, `sensor`, and optionally `id`, `unit`, `quality`, `context` |
| 32 + H | N × 4 or N × 2 bytes | the samples |

A message whose length is not exactly 32 + H + N × sample size, or whose samples are not all
finite, is refused with its reason (and dead-lettered by the worker): nothing half-read is used.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import ValidationError

from schemas.base import ProductionContext
from schemas.codec import describe_validation_error
from schemas.events import BatchHeader, SensorBatch
from schemas.exceptions import InvalidEventError

MAGIC = b"LPSB"
LAYOUT_VERSION = 1
FIXED = struct.Struct("<4sBBHIqdf")
SAMPLE_TYPES: dict[int, tuple[str, np.dtype[Any]]] = {
    1: ("float32", np.dtype("<f4")),
    2: ("int16", np.dtype("<i2")),
}
SampleType = Literal["float32", "int16"]


@dataclass(frozen=True)
class SampleBatch:
    """A batch of samples as the worker computes on it: its header and its samples as an
    array, in order (float32 from a binary batch, float64 from a JSON one)."""

    header: BatchHeader
    samples: NDArray[np.floating[Any]]

    @classmethod
    def of_json(cls, batch: SensorBatch) -> SampleBatch:
        """The JSON batch as an array (the batch itself is its header)."""
        return cls(batch, np.asarray(batch.values, dtype=np.float64))

    @property
    def end_time(self) -> int:
        """Epoch ms at which the batch ends (one sample period after its last sample)."""
        return self.header.time + round(len(self.samples) * 1000 / self.header.sample_rate_hz)


def is_binary_batch(raw: bytes) -> bool:
    """Whether `raw` starts like a binary batch (JSON starts with `{`)."""
    return raw[:4] == MAGIC


def encode_batch(
    header: BatchHeader,
    samples: NDArray[Any],
    sample_type: SampleType = "float32",
    scale: float = 1.0,
) -> bytes:
    """A binary batch of `samples`: float32 as they are, int16 as raw counts with `scale`."""
    code = 1 if sample_type == "float32" else 2
    data = np.ascontiguousarray(samples, dtype=SAMPLE_TYPES[code][1]).tobytes()
    meta: dict[str, Any] = {
        "asset": header.asset,
        "sensor": header.sensor,
        "id": header.id,
        "unit": header.unit,
        "quality": header.quality,
    }
    if header.context is not None:
        meta["context"] = header.context.model_dump(exclude_none=True)
    text = orjson.dumps(meta)
    fixed = FIXED.pack(
        MAGIC,
        LAYOUT_VERSION,
        code,
        len(text),
        len(samples),
        header.time,
        header.sample_rate_hz,
        scale if code == 2 else 1.0,
    )
    return fixed + text + data


def decode_batch(raw: bytes) -> SampleBatch:
    """The batch in `raw`, or InvalidEventError saying what is wrong with it."""
    if len(raw) < FIXED.size:
        _refuse(f"a binary batch needs {FIXED.size} bytes before its header, got {len(raw)}")
    magic, version, code, header_len, count, time_ms, rate, scale = FIXED.unpack_from(raw)
    if magic != MAGIC:
        _refuse("not a binary sample batch (no LPSB magic)", "not_a_batch")
    if version != LAYOUT_VERSION:
        _refuse(f"binary batch layout {version} is unknown; this LinePulse reads layout 1")
    if code not in SAMPLE_TYPES:
        _refuse(f"sample type {code} is unknown: 1 is float32, 2 is int16")
    name, dtype = SAMPLE_TYPES[code]
    start = FIXED.size + header_len
    if len(raw) < start:
        _refuse(f"the header is {header_len} bytes but only {len(raw) - FIXED.size} follow")
    body = len(raw) - start
    if count == 0 or body != count * dtype.itemsize:
        _refuse(
            f"the header says {count} {name} samples ({count * dtype.itemsize} bytes) but "
            f"{body} bytes follow it: a truncated message or a wrong sample count",
            "sample_count",
        )
    header = _header(raw[FIXED.size : start], time_ms, rate)
    samples = np.frombuffer(raw, dtype=dtype, count=count, offset=start)
    values = samples.astype(np.float32) * np.float32(scale) if code == 2 else samples
    if not np.isfinite(values).all():
        _refuse("samples must all be finite numbers (NaN and infinity are not measurements)")
    return SampleBatch(header, values)


def _header(text: bytes, time_ms: int, rate: float) -> BatchHeader:
    try:
        meta = orjson.loads(text)
        if not isinstance(meta, dict):
            _refuse("the header of a binary batch must be a JSON object")
        context = meta.pop("context", None)
        return BatchHeader(
            **meta,
            time=time_ms,
            sample_rate_hz=rate,
            context=ProductionContext(**context) if context else None,
        )
    except orjson.JSONDecodeError as exc:
        _refuse(f"the header of a binary batch is not JSON: {exc}")
    except ValidationError as exc:
        _refuse(f"invalid binary batch header: {describe_validation_error(exc)}")
    except TypeError as exc:
        _refuse(f"invalid binary batch header: {exc}")


def _refuse(reason: str, error_type: str = "schema") -> NoReturn:
    raise InvalidEventError(reason, error_type)
