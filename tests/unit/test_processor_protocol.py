"""The protocol's shared steps: new messages only, and every failure a dead letter."""

from __future__ import annotations

from schemas.exceptions import InvalidEventError
from streams.processors.protocol import Message, Outputs, each_new, refusals
from tests.factories import T0


def test_each_new_skips_what_a_partition_has_taken_and_marks_the_rest():
    taken = {0: {"t": 1}, 1: {}}
    messages = [Message("t", 0, 1, b""), Message("t", 0, 2, b""), Message("t", 1, 0, b"")]
    assert [(m.partition, m.offset) for m in each_new(messages, taken.__getitem__)] == [
        (0, 2),
        (1, 0),
    ]
    assert taken == {0: {"t": 2}, 1: {"t": 0}}


def test_a_refused_event_and_a_bug_each_become_a_dead_letter_and_the_stream_goes_on():
    out = Outputs()
    message = Message("t", 0, 7, b"{}", b"plant1/l1/s1/m1")
    with refusals(out, message, now_ms=T0):
        raise InvalidEventError("no kind", "schema")
    with refusals(out, message, now_ms=T0):
        raise ZeroDivisionError("division by zero")
    kinds = [(letter.offset, error.error_type) for letter, error in out.dead_letters]
    assert kinds == [(7, "schema"), (7, "processing_error")]
    assert "ZeroDivisionError" in out.dead_letters[1][0].reason
    assert out.dead_letters[0][0].asset == "plant1/l1/s1/m1"
