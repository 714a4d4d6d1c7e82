"""A bounded on-disk spool of messages Kafka could not take, kept in arrival order."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import orjson
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

SPOOLED = Counter("linepulse_spool_messages_total", "Messages written to the spool")
SPOOL_BYTES = Gauge("linepulse_spool_bytes", "Bytes waiting in the spool")
SPOOL_DROPPED = Counter("linepulse_spool_dropped_total", "Messages refused by a full spool")

Record = tuple[str, bytes | None, bytes]


class DiskSpool:
    """Append-only file of records; `take` reads the oldest, `done` forgets them."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        SPOOL_BYTES.set(self.size)

    @property
    def size(self) -> int:
        """Bytes in the spool file."""
        return self.path.stat().st_size

    def __len__(self) -> int:
        with self.path.open("rb") as handle:
            return sum(1 for _ in handle)

    def append(self, topic: str, key: bytes | None, value: bytes) -> bool:
        """False (and a counted, logged refusal) when the spool is full."""
        line = (
            orjson.dumps(
                [
                    topic,
                    base64.b64encode(key).decode() if key else None,
                    base64.b64encode(value).decode(),
                ]
            )
            + b"\n"
        )
        if self.size + len(line) > self.max_bytes:
            SPOOL_DROPPED.inc()
            log.error(
                "spool %s is full (%d bytes): a message for %s was refused; raise "
                "LINEPULSE_SPOOL_MAX_MB or bring the broker back",
                self.path,
                self.max_bytes,
                topic,
            )
            return False
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        SPOOLED.inc()
        SPOOL_BYTES.set(self.size)
        return True

    def take(self, limit: int) -> list[Record]:
        """Up to `limit` of the oldest records, left in the spool until `done`."""
        records: list[Record] = []
        with self.path.open("rb") as handle:
            for line in handle:
                if len(records) >= limit:
                    break
                topic, key, value = orjson.loads(line)
                records.append(
                    (topic, base64.b64decode(key) if key else None, base64.b64decode(value))
                )
        return records

    def done(self, count: int) -> None:
        """Forget the `count` oldest records (they reached Kafka)."""
        with self.path.open("rb") as handle:
            rest = handle.readlines()[count:]
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(b"".join(rest))
        temporary.replace(self.path)
        SPOOL_BYTES.set(self.size)
