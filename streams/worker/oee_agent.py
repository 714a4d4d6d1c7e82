"""Per-machine OEE over tumbling event-time windows, closed by partition watermarks.

The agent joins machine events, MES events and ticks (all co-partitioned by asset). Ticks come
from a leader timer to every partition, so that windows close in stream context (and their state
changes reach the changelog) even when a machine sends nothing.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from faust.types import EventT

from schemas import topics
from schemas.codec import decode_machine, decode_mes, encode
from schemas.events import OeeResult
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.core.alerts import AlertEpisodes, AlertPolicy
from streams.core.calendar import load_calendar
from streams.core.event_time import TimeLimits, check_event_time
from streams.core.oee import ratios
from streams.core.rollups import DAY_MS, HOUR_MS, MachineRollups, Span, local_day, local_hour
from streams.core.windows import (
    WINDOW_KINDS,
    ClosedWindow,
    MachineWindows,
    PartitionClock,
    TooLateError,
    WindowInput,
    partition_watermark,
)
from streams.settings import state_categories
from streams.worker.app import Pipeline, now_ms

log = logging.getLogger(__name__)


def window_label(window_ms: int) -> str:
    seconds = window_ms // 1000
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def oee_result(window: ClosedWindow, version: int, label: str, rollup: bool = False) -> OeeResult:
    totals = window.totals
    figures = ratios(totals)
    return OeeResult(
        id=f"{window.asset}|{label}|{window.start}|{version}",
        time=window.start,
        asset=window.asset,
        window_start=window.start,
        window_end=window.end,
        window=label,
        version=version,
        provisional=window.provisional,
        availability=figures.availability,
        performance=figures.performance,
        quality=figures.quality,
        oee=figures.oee,
        planned_time_s=totals.planned_time_s,
        run_time_s=totals.run_time_s,
        unknown_time_s=totals.unknown_time_s,
        excluded_time_s=totals.excluded_time_s,
        ideal_time_s=totals.ideal_time_s,
        good=totals.good,
        scrap=totals.scrap,
        total=totals.total,
        performance_over_one=figures.performance_over_one,
        losses_s=totals.losses_s,
        rollup=rollup,
    )


class OeeProcessor:
    """Holds the table handles and settings; each method is one step of the agent."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        settings = pipeline.worker
        self.window_ms = settings.oee_window_s * 1000
        self.categories = state_categories(settings)
        self.label = window_label(self.window_ms)
        self.lateness_ms = int(settings.allowed_lateness_s * 1000)
        self.idle_ms = int(settings.idle_timeout_s * 1000)
        self.provisional_ms = int(settings.provisional_every_s * 1000)
        self.limits = TimeLimits(
            int(settings.max_future_s * 1000), int(settings.max_event_age_s * 1000)
        )
        self.table = pipeline.app.Table(
            "linepulse-oee-state",
            default=None,
            partitions=pipeline.kafka.partitions,
        )  # keys and values are plain JSON (the app's default serializer)
        self.down_alerts = AlertEpisodes(AlertPolicy("machine_down", "critical", 1, 1, 10**9))
        self.oee_target = settings.oee_target
        self.low_oee_alerts = AlertEpisodes(AlertPolicy("oee_below_target", "warning", 1, 1))
        self.last_provisional: dict[int, int] = {}
        self.calendar = load_calendar(settings.shift_calendar) if settings.shift_calendar else None
        self.zone = ZoneInfo(self.calendar.timezone if self.calendar else settings.plant_timezone)

    def _clocks(self, partition: int) -> dict[str, PartitionClock]:
        """One clock per input topic of the partition."""
        data = self.table.get(f"__clocks__/{partition}") or {}
        return {
            topic: PartitionClock.from_dict(state, self.lateness_ms, self.idle_ms)
            for topic, state in data.items()
        }

    def _save_clocks(self, partition: int, clocks: dict[str, PartitionClock]) -> None:
        self.table[f"__clocks__/{partition}"] = {t: c.to_dict() for t, c in clocks.items()}

    def _machines(self, partition: int) -> list[str]:
        return list(self.table.get(f"__machines__/{partition}") or [])

    def _windows(self, asset: str) -> MachineWindows:
        data = self.table.get(asset)
        return MachineWindows.from_dict(data) if data else MachineWindows(asset, self.window_ms)

    async def handle(self, event: EventT) -> None:
        message = event.message
        metrics.EVENTS_IN.labels("oee", message.topic).inc()
        if message.topic == topics.WINDOW_TICKS:
            tick = orjson.loads(event.value)
            await self.on_tick(message.partition, int(tick["time"]))
            return
        if self._already_applied(event):
            return
        try:
            decoded = (decode_machine if message.topic == topics.MACHINE_EVENTS else decode_mes)(
                event.value
            )
            check_event_time(decoded, now_ms(), self.limits)
        except InvalidEventError as error:
            await self.pipeline.dead_letter(event, error)
        else:
            if decoded.kind in WINDOW_KINDS:
                await self.on_event(event, message.partition, decoded)  # type: ignore[arg-type]
        self._mark_applied(event)

    def _already_applied(self, event: EventT) -> bool:
        """After a crash Kafka redelivers from the last committed offset; events whose effect
        already reached the changelogged table are skipped."""
        message = event.message
        applied = self.table.get(f"__offsets__/{message.partition}") or {}
        return bool(message.offset <= applied.get(message.topic, -1))

    def _mark_applied(self, event: EventT) -> None:
        message = event.message
        key = f"__offsets__/{message.partition}"
        self.table[key] = {**(self.table.get(key) or {}), message.topic: message.offset}

    async def on_event(self, event: EventT, partition: int, decoded: WindowInput) -> None:
        windows = self._windows(decoded.asset)
        try:
            windows.add(decoded)
        except TooLateError as error:
            metrics.LATE_EVENTS.inc()
            await self.pipeline.dead_letter(event, InvalidEventError(str(error), "too_late"))
            return
        machines = self._machines(partition)
        if decoded.asset not in machines:
            self.table[f"__machines__/{partition}"] = [*machines, decoded.asset]
        self.table[decoded.asset] = windows.to_dict()
        clocks = self._clocks(partition)
        topic = event.message.topic
        clocks.setdefault(topic, PartitionClock(self.lateness_ms, self.idle_ms))
        clocks[topic].observe(decoded.time, now_ms())
        self._save_clocks(partition, clocks)

    async def _lagging(self, partition: int) -> set[str]:
        """Inputs of the partition not yet read to their end."""
        applied = self.table.get(f"__offsets__/{partition}") or {}
        return await self.pipeline.lagging(
            partition, applied, (topics.MACHINE_EVENTS, topics.MES_EVENTS)
        )

    async def on_tick(self, partition: int, tick_ms: int) -> None:
        clocks = self._clocks(partition)
        previous = self.table.get(f"__watermark__/{partition}")
        watermark = partition_watermark(clocks, await self._lagging(partition), tick_ms, previous)
        if watermark is None:
            return
        self._save_clocks(partition, clocks)
        self.table[f"__watermark__/{partition}"] = watermark
        newest = max((c.max_event_time for c in clocks.values() if c.max_event_time), default=None)
        metrics.WATERMARK_DELAY.labels(str(partition)).set((tick_ms - watermark) / 1000)
        emit_provisional = tick_ms - self.last_provisional.get(partition, 0) >= self.provisional_ms
        if emit_provisional:
            self.last_provisional[partition] = tick_ms
        for asset in self._machines(partition):
            windows = self._windows(asset)
            closed = windows.close(watermark, self.categories, calendar=self.calendar)
            for window in closed:
                await self._emit(window, version=watermark)
            if closed:
                self.table[asset] = windows.to_dict()
                await self._roll_up(asset, closed, version=watermark)
            if emit_provisional and newest is not None:
                current = windows.provisional(newest, self.categories, self.calendar)
                if current is not None:
                    await self._emit(current, version=watermark)
            # event time known so far: the newest event, or later while the partition is quiet
            known_until = max(newest or 0, watermark + self.lateness_ms)
            await self._check_down(windows, known_until)

    def spans(self, window: ClosedWindow) -> dict[str, Span | None]:
        """The hour, day and shift a base window belongs to."""
        spans: dict[str, Span | None] = {}
        if self.window_ms < HOUR_MS:
            spans["hour"] = local_hour(window.start, self.zone)
        if self.window_ms < DAY_MS:
            spans["day"] = local_day(window.start, self.zone)
        if self.calendar is not None:
            shift = self.calendar.shift_at(window.asset, window.start)
            spans["shift"] = Span(f"shift:{shift.name}", shift.start, shift.end) if shift else None
        else:
            name, since = self.pipeline.context.since(window.asset, "shift", window.start)
            spans["shift"] = Span(f"shift:{name}", since, None) if name and since else None
        return spans

    async def _roll_up(self, asset: str, closed: list[ClosedWindow], version: int) -> None:
        key = f"__rollups__/{asset}"
        rollups = MachineRollups.from_dict(asset, self.table.get(key) or {})
        latest: dict[tuple[str, int], ClosedWindow] = {}
        for window in closed:
            for label, row in rollups.add(window, self.spans(window)):
                latest[(label, row.start)] = row  # many closed at once: only the newest sums
        for (label, _), row in latest.items():
            result = oee_result(row, max(version, 0), label, rollup=True)
            await self.pipeline.send(
                topics.OEE_RESULTS, result.asset, encode(self.pipeline.context.enrich(result))
            )
        self.table[key] = rollups.to_dict()

    async def _emit(self, window: ClosedWindow, version: int) -> None:
        result = self.pipeline.context.enrich(oee_result(window, max(version, 0), self.label))
        metrics.OEE_WINDOWS.labels(str(window.provisional).lower()).inc()
        self.pipeline.count("oee_rows")
        await self.pipeline.send(topics.OEE_RESULTS, result.asset, encode(result))
        if not window.provisional and result.oee is not None and self.oee_target > 0:
            await self._check_target(result)

    async def _check_target(self, result: OeeResult) -> None:
        """A closed window below the OEE target raises an episode; one at or above clears it."""
        low = result.oee is not None and result.oee < self.oee_target
        alert = self.low_oee_alerts.observe(
            source=result.asset,
            asset=result.asset,
            time=result.window_end,
            bad=low,
            value=result.oee,
            threshold=self.oee_target,
            message=f"OEE of {result.asset} was {result.oee:.1%} in the {self.label} window from "
            f"{result.window_start}, below the {self.oee_target:.0%} target"
            if low
            else f"OEE of {result.asset} is back at or above {self.oee_target:.0%}",
        )
        await self.pipeline.send_alert(alert)

    async def _check_down(self, windows: MachineWindows, observed_ms: int) -> None:
        if not windows.states:
            return
        since, state = windows.states[-1][0], windows.states[-1][1]
        down_s = (observed_ms - since) / 1000
        category, name = self.categories.categorise(state, down_s)
        bad = (
            category == "availability_loss" and down_s >= self.pipeline.worker.machine_down_after_s
        )
        alert = self.down_alerts.observe(
            source=windows.asset,
            asset=windows.asset,
            time=observed_ms,
            bad=bad,
            value=down_s if bad else None,
            threshold=self.pipeline.worker.machine_down_after_s,
            message=f"{windows.asset} stopped ({name}) for {down_s:.0f} s"
            if bad
            else f"{windows.asset} is running again",
            context=self.pipeline.context.at(windows.asset, observed_ms),
        )
        await self.pipeline.send_alert(alert)


def register(pipeline: Pipeline) -> OeeProcessor:
    processor = OeeProcessor(pipeline)
    app = pipeline.app
    source = pipeline.topic(topics.MACHINE_EVENTS, topics.MES_EVENTS, topics.WINDOW_TICKS)

    @app.agent(source, name="compute_machine_oee")
    async def compute_machine_oee(stream: Any) -> None:
        """Per-machine OEE over tumbling event-time windows."""
        async for event in stream.events():
            await pipeline.guarded(event, processor.handle, "compute_machine_oee")

    @app.timer(pipeline.worker.tick_interval_s, on_leader=True)
    async def send_window_ticks() -> None:
        tick = orjson.dumps({"time": now_ms()})
        for partition in range(pipeline.kafka.partitions):
            await pipeline.send(topics.WINDOW_TICKS, "tick", tick, partition=partition)

    return processor
