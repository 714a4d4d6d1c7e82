"""Which messages the sink looks up before inserting, after a restart or a rebalance."""

from __future__ import annotations

from streams.processors.protocol import Message
from streams.store.exactly_once import ReplayGuard, lookup_sql, once_each, quote, row_identity

TABLE = "linepulse.sensor_readings"


def test_first_messages_of_a_partition_are_checked_until_a_batch_finds_nothing_stored():
    guard = ReplayGuard()
    first = [("readings", 0, 10), ("readings", 0, 11), ("readings", 1, 4)]
    assert guard.to_check(first) == {0, 1, 2}
    guard.settle(first, looked_up={0, 1, 2}, found={0})  # partition 1 had nothing stored
    assert guard.suspects == {("readings", 0)}
    second = [("readings", 1, 5), ("readings", 0, 12)]
    assert guard.to_check(second) == {1}
    guard.settle(second, looked_up={1}, found=set())
    assert guard.suspects == frozenset()
    assert guard.to_check([("readings", 0, 13), ("readings", 1, 6)]) == set()


def test_a_message_handed_over_twice_in_one_batch_is_kept_once():
    def message(partition: int, offset: int, value: bytes) -> Message:
        return Message("readings", partition, offset, value)

    # Faust sought back to the committed offset while the batch was being gathered
    batch = [message(0, 7, b"a"), message(0, 8, b"b"), message(1, 8, b"c"), message(0, 7, b"a")]
    kept = once_each(batch)
    assert [m.where for m in kept] == [("readings", 0, 7), ("readings", 0, 8), ("readings", 1, 8)]
    assert [m.value for m in kept] == [b"a", b"b", b"c"]


def test_a_jump_in_offsets_makes_the_partition_suspect_again():
    guard = ReplayGuard()
    guard.to_check([("alerts", 0, 0)])
    guard.settle([("alerts", 0, 0)], looked_up={0}, found=set())
    assert guard.to_check([("alerts", 0, 1)]) == set()
    assert guard.to_check([("alerts", 0, 40)]) == {0}  # rebalanced away and back


def test_messages_without_rows_do_not_end_the_check():
    guard = ReplayGuard()
    batch = [("readings", 0, 0)]
    guard.to_check(batch)
    guard.settle(batch, looked_up=set(), found=set())  # a sample batch: no row of its own
    assert guard.suspects == {("readings", 0)}


def test_lookup_is_narrowed_by_the_sort_key_and_escapes_text():
    rows = [
        {"asset": "p/l/s/m", "sensor": "temp", "time": 1700000000.5, "event_id": "a'1"},
        {"asset": "p/l/s/m", "sensor": "vib", "time": 1700000002.25, "event_id": "b"},
    ]
    sql = lookup_sql(TABLE, rows)
    assert "asset IN ('p/l/s/m')" in sql
    assert "sensor IN ('temp', 'vib')" in sql
    assert "BETWEEN 1700000000500 AND 1700000002250" in sql
    assert "event_id IN ('a\\'1', 'b')" in sql
    assert row_identity(TABLE, rows[1]) == ("b", 1700000002250)
    assert quote("back\\slash") == "'back\\\\slash'"


def test_everything_already_in_the_partition_at_first_sight_is_checked():
    guard = ReplayGuard()
    first = [("readings", 0, 0), ("readings", 0, 1)]
    assert guard.to_check(first, ends={("readings", 0): 5}) == {0, 1}
    guard.settle(first, looked_up={0, 1}, found=set())  # an earlier writer began later on
    assert guard.to_check([("readings", 0, 2), ("readings", 0, 3)]) == {0, 1}
    assert guard.to_check([("readings", 0, 4)]) == {0}
    assert guard.to_check([("readings", 0, 5)]) == set()  # produced after this worker began
