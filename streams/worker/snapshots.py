"""Processor state in changelog tables, written to the changelog partition of the input
partition it belongs to, so that whichever worker takes the partition over recovers it.

A partition's snapshot is kept in parts: every dict in it (a processor's machines, rollups,
sensors), down to `SPLIT_DEPTH` levels, is an entry of its own, and a save writes only the
entries that changed since the last one (a batch touches a few machines, not all). Values are
bytes made when saved, so that what reaches the changelog is the state of that moment, whatever
the processor does next.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from streams.processors.protocol import Snapshot
from streams.worker.changelog import ChangelogTable

SPLIT_DEPTH = 3
SEP = "\x1f"  # between the parts of an entry's key (asset paths hold / and |)
SPLIT = {"__split__": True}  # where an entry's sub-entries are kept under keys of their own


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
