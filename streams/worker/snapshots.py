"""Processor state in changelogged Faust tables, written to the changelog partition of the
input partition it belongs to, so that whichever worker takes the partition over recovers it.

A partition's snapshot is kept in parts: every dict in it (a processor's machines, rollups,
sensors), down to `SPLIT_DEPTH` levels, is an entry of its own, and a save writes only the
entries that changed since the last one (a batch touches a few machines, not all). Values are
bytes made when saved, so that what reaches the changelog is the state of that moment, whatever
the processor does next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import faust
import orjson

from streams.processors.protocol import Snapshot
from streams.settings import KafkaSettings
from streams.worker.producer import OutputProducer

SPLIT_DEPTH = 3
SEP = "\x1f"  # between the parts of an entry's key (asset paths hold / and |)
SPLIT = {"__split__": True}  # where an entry's sub-entries are kept under keys of their own


ChangelogWrite = Callable[[int, bytes, bytes | None], None]  # partition, key, value (None: delete)


class ChangelogTable:
    """A Faust table of raw bytes whose changelog is written through librdkafka with an
    explicit partition. Faust's own `table[key] = value` takes the partition of the event being
    processed (which a batch of several partitions or a timer does not have) and sends through
    Faust's pure-Python producer, which took a third of the worker's main thread. Faust still
    creates the changelog topic and recovers the table from it."""

    def __init__(self, table: Any, write: ChangelogWrite) -> None:
        self.table = table
        self.write = write

    @classmethod
    def of(
        cls, app: faust.App, name: str, kafka: KafkaSettings, producer: OutputProducer
    ) -> ChangelogTable:
        """A new table of `app`, with a partition per input partition, its changelog written
        by `producer`."""
        table = app.Table(
            name, default=None, partitions=kafka.partitions, key_type=bytes, value_type=bytes
        )
        topic = table.changelog_topic.get_topic_name()

        def write(partition: int, key: bytes, value: bytes | None) -> None:
            """Queue one changelog record."""
            producer.produce_now(topic, key, value, partition)

        return cls(table, write)

    def get(self, key: str) -> bytes | None:
        """The value held for `key`, or None."""
        value = self.table.get(key.encode())
        return bytes(value) if value is not None else None

    def keys_from(self, prefix: str) -> list[str]:
        """The keys held that start with `prefix`."""
        raw = prefix.encode()
        return [bytes(k).decode() for k in list(self.table.data.keys()) if bytes(k).startswith(raw)]

    def put(self, partition: int, key: str, value: bytes | None) -> None:
        """Hold `value` for `key` here and queue it for the changelog partition `partition`
        (None deletes it); it is in Kafka once the producer has settled."""
        raw_key = key.encode()
        if value is None:
            self.table.data.pop(raw_key, None)
        else:
            self.table.data[raw_key] = value
        self.write(partition, raw_key, value)


def entries(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """The snapshot as (path, value) entries: down to SPLIT_DEPTH levels, every non-empty dict
    in it is kept as its own entry, with a SPLIT marker where it stood."""
    if not isinstance(node, dict) or len(path) >= SPLIT_DEPTH:
        yield path, node
        return
    head = {}
    for key, value in node.items():
        if isinstance(value, dict) and value:
            head[key] = SPLIT
            yield from entries(value, (*path, key))
        else:
            head[key] = value
    yield path, head


def assemble(found: dict[tuple[str, ...], Any], path: tuple[str, ...] = ()) -> Any:
    """The snapshot that `entries` took apart."""
    node = found[path]
    if not isinstance(node, dict):
        return node
    # children are written before the entry that names them and deleted after it, so a save
    # cut short by a crash leaves no name without its entry; one missing is left out
    return {
        key: assemble(found, (*path, key)) if value == SPLIT else value
        for key, value in node.items()
        if value != SPLIT or (*path, key) in found
    }


class PartitionSnapshots:
    """One snapshot per input partition of a processor, saved in changed parts."""

    def __init__(self, table: ChangelogTable) -> None:
        self.table = table
        self._written: dict[int, dict[str, bytes]] = {}  # what the changelog holds, by key

    def _key(self, partition: int, path: tuple[str, ...]) -> str:
        return SEP.join((f"partition/{partition}", *path))

    def load(self, partition: int) -> Snapshot | None:
        """The last snapshot saved for `partition`, if any."""
        base = f"partition/{partition}"
        keys = [k for k in self.table.keys_from(base) if k == base or k.startswith(base + SEP)]
        found: dict[tuple[str, ...], Any] = {}
        written = self._written[partition] = {}
        for key in keys:
            raw = self.table.get(key)
            if raw is not None:
                written[key] = raw
                found[tuple(key.split(SEP)[1:])] = orjson.loads(raw)
        return assemble(found) if () in found else None

    def save(self, partition: int, snapshot: Snapshot) -> None:
        """Keep `snapshot` as the partition's state: write the entries that changed, delete
        those it no longer has."""
        written = self._written.setdefault(partition, {})
        current = set()
        for path, value in entries(snapshot):
            key = self._key(partition, path)
            current.add(key)
            raw = orjson.dumps(value)
            if written.get(key) != raw:
                self.table.put(partition, key, raw)
                written[key] = raw
        for key in [k for k in written if k not in current]:
            self.table.put(partition, key, None)
            del written[key]
