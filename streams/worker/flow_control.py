"""Faust's flow control without the loss at start-up and after every rebalance.

Faust's `FlowControlEvent.resume` also empties every stream queue. Its recovery resumes the
input partitions and seeks them to their committed offsets, and the fetcher already fills the
queues while that seek is awaited; the resume that follows then throws those messages away.
They are never acked, so Faust's commits stop at the first of them, and when the partition had
no committed offset (a new group, or one that never committed) nothing reads them again in that
process. Seen here as a sink that skipped ~3,000 readings after a restart; upstream it is the
open report faust-streaming/faust#596.

Queues still need emptying when partitions are revoked, and Faust does that itself there with
an explicit `flow_control.clear()`; a message fetched in an older generation that reaches a
queue later is skipped by the stream's generation check. So resuming here only lets the flow
go on.
"""

from __future__ import annotations

import faust
from mode.utils.queues import FlowControlEvent


class KeptQueuesFlowControl(FlowControlEvent):
    """Flow control whose resume keeps what the stream queues hold."""

    def resume(self) -> None:
        """Resume production into the queues, keeping what they hold."""
        self._suspend.clear()
        self._resume.set()


def keep_queues_on_resume(app: faust.App) -> None:
    """Give `app` the flow control that keeps its queues on resume; call it before any agent,
    table or topic of `app` makes a queue."""
    app.flow_control = KeptQueuesFlowControl(loop=app.loop)
