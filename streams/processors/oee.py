"""Per-machine OEE over tumbling event-time windows, closed by partition watermarks (pure).

Machine and MES events of a partition feed each machine's windows; a clock tick moves the
partition's watermark on, closes the windows it passed, rolls them up into hours, days and
shifts, and steps the machine-down and OEE-below-target alert episodes. Everything a partition
needs lives in its `OeePartition`, which `snapshot()` and `restore()` carry across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from schemas import topics
from schemas.events import OeeResult
from streams import metrics
from streams.core.alerts import AlertEpisodes, AlertPolicy
from streams.core.calendar import ShiftCalendar, load_calendar
from streams.core.context import ContextBook
from streams.core.event_time import TimeLimits
from streams.core.oee import StateCategories
from streams.core.plans import GroupPlans, is_group_plan
from streams.core.rollups import DAY_MS, HOUR_MS, MachineRollups, Span, local_day, local_hour
from streams.core.watermarks import PartitionClock, partition_watermark
from streams.core.windows import (
    WINDOW_KINDS,
    ClosedWindow,
    MachineWindows,
    TooLateError,
    WindowInput,
)
from streams.processors.acceptance import accept
from streams.processors.oee_results import low_oee_message, oee_result, window_label
from streams.processors.protocol import Message, Outputs, Snapshot, each_new, refusals
from streams.settings import WorkerSettings

log = logging.getLogger(__name__)
INPUTS: tuple[str, ...] = (topics.MACHINE_EVENTS, topics.MES_EVENTS)


@dataclass(frozen=True)
class OeeConfig:
    """What the OEE processor is told: windows, lateness, state categories, alerts."""

    window_ms: int = 60_000
    categories: StateCategories = field(default_factory=StateCategories)
    lateness_ms: int = 30_000
    idle_ms: int = 5_000
    provisional_ms: int = 5_000
    limits: TimeLimits = field(default_factory=TimeLimits)
    oee_target: float = 0.0
    machine_down_after_s: float = 300.0
    calendar: ShiftCalendar | None = None
    timezone: str = "UTC"

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> OeeConfig:
        """The configuration of a worker's settings."""
        oee = settings.oee
        calendar = load_calendar(oee.shift_calendar) if oee.shift_calendar else None
        return cls(
            window_ms=oee.window_s * 1000,
            categories=oee.categories(),
            lateness_ms=int(oee.allowed_lateness_s * 1000),
            idle_ms=int(oee.idle_timeout_s * 1000),
            provisional_ms=int(oee.provisional_every_s * 1000),
            limits=settings.time_limits(),
            oee_target=oee.target,
            machine_down_after_s=oee.machine_down_after_s,
            calendar=calendar,
            timezone=calendar.timezone if calendar else oee.plant_timezone,
        )


def _down_alerts() -> AlertEpisodes:
    return AlertEpisodes(AlertPolicy("machine_down", "critical", 1, 1, 10**9))


def _low_oee_alerts() -> AlertEpisodes:
    return AlertEpisodes(AlertPolicy("oee_below_target", "warning", 1, 1))


@dataclass
class OeePartition:
    """What the processor remembers of one input partition."""

    machines: dict[str, MachineWindows] = field(default_factory=dict)
    clocks: dict[str, PartitionClock] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)  # last offset taken per topic
    watermark: int | None = None
    rollups: dict[str, MachineRollups] = field(default_factory=dict)
    last_provisional: int = 0
    down_alerts: AlertEpisodes = field(default_factory=_down_alerts)
    low_oee_alerts: AlertEpisodes = field(default_factory=_low_oee_alerts)

    def to_dict(self) -> Snapshot:
        """Plain JSON data of everything above."""
        return {
            "machines": {asset: w.to_dict() for asset, w in self.machines.items()},
            "clocks": {topic: c.to_dict() for topic, c in self.clocks.items()},
            "applied": dict(self.applied),
            "watermark": self.watermark,
            "rollups": {asset: r.to_dict() for asset, r in self.rollups.items()},
            "last_provisional": self.last_provisional,
            "alerts": {
                "machine_down": self.down_alerts.to_dict(),
                "oee_below_target": self.low_oee_alerts.to_dict(),
            },
        }

    @classmethod
    def from_dict(cls, data: Snapshot, config: OeeConfig) -> OeePartition:
        """The partition of a snapshot, with the clocks' settings of `config`."""
        state = cls(
            machines={a: MachineWindows.from_dict(w) for a, w in data["machines"].items()},
            clocks={
                topic: PartitionClock.from_dict(c, config.lateness_ms, config.idle_ms)
                for topic, c in data["clocks"].items()
            },
            applied=dict(data["applied"]),
            watermark=data["watermark"],
            rollups={a: MachineRollups.from_dict(a, r) for a, r in data["rollups"].items()},
            last_provisional=data["last_provisional"],
        )
        state.down_alerts.restore(data["alerts"]["machine_down"])
        state.low_oee_alerts.restore(data["alerts"]["oee_below_target"])
        return state


class OeeProcessor:
    """Windows per machine, watermarks per partition, OEE rows, rollups and OEE alerts."""

    inputs = INPUTS

    def __init__(
        self,
        config: OeeConfig,
        context: ContextBook | None = None,
        plans: GroupPlans | None = None,
    ) -> None:
        self.config = config
        self.context = context if context is not None else ContextBook()
        self.plans = plans if plans is not None else GroupPlans()
        self.label = window_label(config.window_ms)
        self.zone = ZoneInfo(config.timezone)
        self._partitions: dict[int, OeePartition] = {}

    def holds(self, partition: int) -> bool:
        """Whether the partition has been restored (or started) here."""
        return partition in self._partitions

    def restore(self, partition: int, snapshot: Snapshot | None) -> None:
        """Take up `partition` from its snapshot, or from nothing."""
        self._partitions[partition] = (
            OeePartition.from_dict(snapshot, self.config) if snapshot else OeePartition()
        )

    def snapshot(self, partition: int) -> Snapshot:
        """Everything the processor remembers of `partition`."""
        return self._state(partition).to_dict()

    def forget(self, partition: int) -> None:
        """Drop a partition revoked from this worker."""
        self._partitions.pop(partition, None)

    def applied(self, partition: int) -> Mapping[str, int]:
        """The last offset taken per input topic."""
        return self._state(partition).applied

    def _state(self, partition: int) -> OeePartition:
        if partition not in self._partitions:
            self.restore(partition, None)
        return self._partitions[partition]

    def process(self, messages: Sequence[Message], now_ms: int) -> Outputs:
        """Add machine and MES events to their machines' windows; a message already taken
        (redelivered after a crash) is skipped, a refused one is dead-lettered."""
        out = Outputs()
        for message in each_new(messages, lambda p: self._state(p).applied):
            with refusals(out, message, now_ms):
                event = accept(message, self.config.limits, now_ms)
                if getattr(event, "kind", None) in WINDOW_KINDS:
                    state = self._state(message.partition)
                    self._add(state, message.topic, event, now_ms)  # type: ignore[arg-type]
        return out

    def _add(self, state: OeePartition, topic: str, event: WindowInput, now_ms: int) -> None:
        if not is_group_plan(event):  # those are the group plans' (from the whole MES topic)
            windows = state.machines.get(event.asset)
            if windows is None:
                windows = MachineWindows(event.asset, self.config.window_ms)
            try:
                windows.add(event)
            except TooLateError as error:
                # a valid event, stored and counted by `linepulse oee`; the stream's window is out
                metrics.LATE_EVENTS.inc()
                log.warning("%s (event %s)", error, event.id, extra={"asset": event.asset})
                return
            state.machines[event.asset] = windows
        clock = state.clocks.setdefault(
            topic, PartitionClock(self.config.lateness_ms, self.config.idle_ms)
        )
        clock.observe(event.time, now_ms)

    def tick(self, partition: int, tick_ms: int, lagging: frozenset[str]) -> Outputs:
        """Move the watermark on; emit the closed windows, their rollups, provisional rows and
        alert steps. `lagging`: inputs of the partition not read to their end yet."""
        out = Outputs()
        state = self._state(partition)
        watermark = partition_watermark(state.clocks, set(lagging), tick_ms, state.watermark)
        if watermark is None:
            return out
        state.watermark = watermark
        clocks = state.clocks.values()
        newest = max((c.max_event_time for c in clocks if c.max_event_time), default=None)
        metrics.WATERMARK_DELAY.labels(str(partition)).set((tick_ms - watermark) / 1000)
        provisional = tick_ms - state.last_provisional >= self.config.provisional_ms
        if provisional:
            state.last_provisional = tick_ms
        for windows in state.machines.values():
            self._close(out, state, windows, watermark)
            if provisional and newest is not None:
                current = windows.provisional(
                    newest, self.config.categories, self.config.calendar, self.plans
                )
                if current is not None:
                    self._emit(out, state, current, watermark)
            # event time known so far: the newest event, or later while the partition is quiet
            known_until = max(newest or 0, watermark + self.config.lateness_ms)
            self._check_down(out, state, windows, known_until)
        return out

    def _close(
        self, out: Outputs, state: OeePartition, windows: MachineWindows, watermark: int
    ) -> None:
        closed = windows.close(
            watermark, self.config.categories, calendar=self.config.calendar, plans=self.plans
        )
        for window in closed:
            self._emit(out, state, window, watermark)
        if closed:
            self._roll_up(out, state, windows.asset, closed, watermark)

    def spans(self, window: ClosedWindow) -> dict[str, Span | None]:
        """The hour, day and shift a base window belongs to."""
        spans: dict[str, Span | None] = {}
        if self.config.window_ms < HOUR_MS:
            spans["hour"] = local_hour(window.start, self.zone)
        if self.config.window_ms < DAY_MS:
            spans["day"] = local_day(window.start, self.zone)
        if self.config.calendar is not None:
            shift = self.config.calendar.shift_at(window.asset, window.start)
            spans["shift"] = Span(f"shift:{shift.name}", shift.start, shift.end) if shift else None
        else:
            name, since = self.context.since(window.asset, "shift", window.start)
            spans["shift"] = Span(f"shift:{name}", since, None) if name and since else None
        return spans

    def _roll_up(
        self,
        out: Outputs,
        state: OeePartition,
        asset: str,
        closed: list[ClosedWindow],
        version: int,
    ) -> None:
        rollups = state.rollups.setdefault(asset, MachineRollups(asset))
        latest: dict[tuple[str, int], ClosedWindow] = {}
        for window in closed:
            for label, row in rollups.add(window, self.spans(window)):
                latest[(label, row.start)] = row  # many closed at once: only the newest sums
        for (label, _), row in latest.items():
            result = oee_result(row, max(version, 0), label, rollup=True)
            out.emit(topics.OEE_RESULTS, self.context.enrich(result))

    def _emit(self, out: Outputs, state: OeePartition, window: ClosedWindow, version: int) -> None:
        result: OeeResult = self.context.enrich(oee_result(window, max(version, 0), self.label))
        metrics.OEE_WINDOWS.labels(str(window.provisional).lower()).inc()
        out.emit(topics.OEE_RESULTS, result)
        target = self.config.oee_target
        if window.provisional or result.oee is None or target <= 0:
            return
        low = result.oee < target
        out.alert(
            state.low_oee_alerts.observe(
                source=result.asset,
                asset=result.asset,
                time=result.window_end,
                bad=low,
                value=result.oee,
                threshold=target,
                message=low_oee_message(result, self.label, target, low),
            )
        )

    def _check_down(
        self, out: Outputs, state: OeePartition, windows: MachineWindows, observed_ms: int
    ) -> None:
        if not windows.states:
            return
        since, code = windows.states[-1][0], windows.states[-1][1]
        down_s = (observed_ms - since) / 1000
        category, name = self.config.categories.categorise(code, down_s)
        limit = self.config.machine_down_after_s
        bad = category == "availability_loss" and down_s >= limit
        out.alert(
            state.down_alerts.observe(
                source=windows.asset,
                asset=windows.asset,
                time=observed_ms,
                bad=bad,
                value=down_s if bad else None,
                threshold=limit,
                message=f"{windows.asset} stopped ({name}) for {down_s:.0f} s"
                if bad
                else f"{windows.asset} is running again",
                context=self.context.at(windows.asset, observed_ms),
            )
        )
