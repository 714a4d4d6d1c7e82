"""Sensor readings and sample batches: data quality, per-second features, online anomaly scores
and their alert episodes (pure).

Every sensor has one model per operating mode of its machine (followed from the machine
events); optionally each asset has one multivariate model over its sensors. Models are kept in
memory and checkpointed to a `ModelStore` every `checkpoint_ms`; everything else a partition
needs lives in its snapshot.
"""

from __future__ import annotations

import pickle  # noqa: S403 - River models persist with pickle; the store is LinePulse's own
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from schemas import topics
from schemas.binary import SampleBatch
from schemas.events import (
    Alert,
    AnomalyScore,
    BatchHeader,
    MachineState,
    SensorBatch,
    SensorReading,
)
from schemas.exceptions import InvalidEventError
from schemas.vibration import VibrationSpec
from streams import metrics
from streams.core.alerts import AlertEpisodes, AlertPolicy
from streams.core.anomaly import AssetDetector, Scored, SensorDetector
from streams.core.condition import ConditionMonitor
from streams.core.context import ContextBook
from streams.core.sensor_health import SpecBook
from streams.core.trend import TrendFit
from streams.processors.acceptance import accept
from streams.processors.condition import VELOCITY_UNITS, ConditionWatch, new_state
from streams.processors.protocol import Message, Outputs, Snapshot, each_new, refusals
from streams.processors.sensor_events import (
    ASSET_SOURCE,
    Observation,
    anomaly_message,
    operating_mode,
    second_features,
    seconds_of,
)
from streams.processors.sensor_quality import SensorQuality
from streams.processors.sensor_state import (
    ModelStore,
    NoModelStore,
    SensorConfig,
    SensorPartition,
)

INPUTS: tuple[str, ...] = (topics.SENSOR_READINGS, topics.SENSOR_BATCHES)
Subject = SensorReading | BatchHeader  # what findings, scores and alerts are about
Model = SensorDetector | AssetDetector | ConditionMonitor | TrendFit
ModelT = TypeVar("ModelT", SensorDetector, AssetDetector)
KeptT = TypeVar("KeptT", SensorDetector, AssetDetector, ConditionMonitor, TrendFit)


class SensorProcessor:
    """Quality, features, scores and alerts of every sensor in the partitions it holds."""

    inputs = INPUTS

    def __init__(
        self,
        config: SensorConfig,
        context: ContextBook | None = None,
        specs: SpecBook | None = None,
        models: ModelStore | None = None,
    ) -> None:
        self.config = config
        self.context = context if context is not None else ContextBook()
        self.specs = specs if specs is not None else SpecBook()
        self.store = models if models is not None else NoModelStore()
        self.watch = ConditionWatch(config.clear_after, config.condition.forecast_within_s)
        self._partitions: dict[int, SensorPartition] = {}
        self._models: dict[str, Model] = {}
        self._changed: dict[str, int] = {}  # model key -> partition, since the last checkpoint

    def _new_partition(self) -> SensorPartition:
        return SensorPartition(
            SensorQuality(self.config.health, self.config.clear_after),
            AlertEpisodes(
                AlertPolicy("anomaly", "warning", self.config.raise_after, self.config.clear_after)
            ),
            new_state(self.config.raise_after, self.config.clear_after),
        )

    def holds(self, partition: int) -> bool:
        """Whether the partition has been restored (or started) here."""
        return partition in self._partitions

    def restore(self, partition: int, snapshot: Snapshot | None) -> None:
        """Take up `partition` from its snapshot, or from nothing; models load on first use."""
        state = self._new_partition()
        if snapshot:
            state.quality = SensorQuality.from_dict(
                snapshot["quality"], self.config.health, self.config.clear_after
            )
            state.anomalies.restore(snapshot["anomalies"])
            state.condition.restore(snapshot.get("condition"))
            state.applied = dict(snapshot["applied"])
            state.modes = dict(snapshot["modes"])
            state.models = set(snapshot["models"])
            state.checkpointed_at = snapshot["checkpointed_at"]
        self._partitions[partition] = state

    def snapshot(self, partition: int) -> Snapshot:
        """Everything the processor remembers of `partition`, its models aside."""
        return self._state(partition).to_dict()

    def forget(self, partition: int) -> None:
        """Drop a partition revoked from this worker, and its models."""
        state = self._partitions.pop(partition, None)
        for key in state.models if state else ():
            self._models.pop(key, None)
            self._changed.pop(key, None)

    def applied(self, partition: int) -> Mapping[str, int]:
        """The last offset taken per input topic."""
        return self._state(partition).applied

    def _state(self, partition: int) -> SensorPartition:
        if partition not in self._partitions:
            self.restore(partition, None)
        return self._partitions[partition]

    def process(self, messages: Sequence[Message], now_ms: int) -> Outputs:
        """Follow machine modes; check, summarise and score sensor events."""
        out = Outputs()
        for message in each_new(messages, lambda p: self._state(p).applied):
            state = self._state(message.partition)
            if message.topic == topics.MACHINE_EVENTS:
                self._follow_mode(state, message, now_ms)
                continue
            with refusals(out, message, now_ms):
                event = accept(message, self.config.limits, now_ms)
                if isinstance(event, SensorBatch):
                    event = SampleBatch.of_json(event)
                if isinstance(event, SampleBatch):
                    header = self.context.enrich(event.header)
                    self._take(state, message.partition, header, event.samples, now_ms, out)
                elif isinstance(event, SensorReading):
                    self._take(
                        state, message.partition, self.context.enrich(event), None, now_ms, out
                    )
        return out

    def _follow_mode(self, state: SensorPartition, message: Message, now_ms: int) -> None:
        """Machine states set the operating mode (invalid ones are the OEE agent's to
        dead-letter)."""
        try:
            event = accept(message, self.config.limits, now_ms)
        except InvalidEventError:
            return
        if isinstance(event, MachineState):
            state.modes[event.asset] = operating_mode(event.state)

    def _take(
        self,
        state: SensorPartition,
        partition: int,
        event: Subject,
        samples: NDArray[np.floating[Any]] | None,
        now_ms: int,
        out: Outputs,
    ) -> None:
        spec = self.specs.get(event.asset, event.sensor)
        if not state.quality.check(event, spec, now_ms, out):
            return
        self._watch_condition(
            state, partition, event, samples, spec.vibration if spec else None, out
        )
        if spec is not None and spec.limit is not None and isinstance(event, SensorReading):
            self._watch_trend(state, partition, event, spec.limit, out)
        observed: list[Observation]
        if isinstance(event, SensorReading):
            observed = [(event.time, {"value": event.value})]
        else:
            seconds = seconds_of(event, samples if samples is not None else np.zeros(0))
            for second in seconds:
                out.emit(topics.SENSOR_SECONDS, second)
            observed = [(s.time, second_features(s)) for s in seconds]
        for score, alert in self.score(state, partition, event, observed):
            out.emit(topics.ANOMALY_SCORES, score)
            out.alert(alert)

    def _watch_condition(
        self,
        state: SensorPartition,
        partition: int,
        event: Subject,
        samples: NDArray[np.floating[Any]] | None,
        vibration: VibrationSpec | None,
        out: Outputs,
    ) -> None:
        """Condition monitoring of a sensor whose spec declares its vibration physics, and the
        shaft speeds such sensors take from other sensors. A machine is judged only while it
        runs: the standard's zones are for normal operation, and a stop is not a recovery."""
        watch = self.watch
        if isinstance(event, SensorReading) and self.specs.is_speed_sensor(
            event.asset, event.sensor
        ):
            watch.take_speed(state.condition, event)
        if vibration is None or state.modes.get(event.asset, "running") != "running":
            return
        monitor = self._monitor(state, partition, f"{event.asset}|{event.sensor}", vibration)
        if isinstance(event, SensorReading):
            if vibration.unit in VELOCITY_UNITS:
                watch.take_velocity(state.condition, event, vibration, monitor, out)
        elif samples is not None:
            watch.take_batch(state.condition, event, samples, vibration, monitor, out)

    def _watch_trend(
        self,
        state: SensorPartition,
        partition: int,
        reading: SensorReading,
        limit: float,
        out: Outputs,
    ) -> None:
        """The trend of a reading whose spec declares a limit, while its machine runs."""
        if state.modes.get(reading.asset, "running") != "running":
            return
        key = f"{reading.asset}|{reading.sensor}|trend"
        trend = self._kept(
            state, partition, key, TrendFit, lambda: TrendFit(self.config.condition.trend)
        )
        self.watch.take_trending(state.condition, reading, limit, trend, out)

    def _monitor(
        self, state: SensorPartition, partition: int, key: str, spec: VibrationSpec
    ) -> ConditionMonitor:
        """A sensor's condition monitor: in memory, else from its checkpoint, else new (also
        when its spec changed)."""
        return self._kept(
            state,
            partition,
            f"{key}|condition",
            ConditionMonitor,
            lambda: ConditionMonitor(spec, self.config.condition),
            lambda monitor: monitor.spec == spec,
        )

    def tick(self, partition: int, tick_ms: int, lagging: frozenset[str]) -> Outputs:
        """Checkpoint the partition's changed models when due; once its input is read to the
        end, find the silent sensors."""
        out = Outputs()
        state = self._state(partition)
        self._checkpoint(state, partition, tick_ms)
        # on the clock, not per batch: it counts every model of the process
        detectors = [
            m for m in self._models.values() if isinstance(m, SensorDetector | AssetDetector)
        ]
        metrics.MODELS_WARMING.set(sum(1 for m in detectors if m.warming_up))
        if not lagging:
            state.quality.find_silent(tick_ms, out)
        return out

    def _checkpoint(self, state: SensorPartition, partition: int, tick_ms: int) -> None:
        if tick_ms - state.checkpointed_at < self.config.checkpoint_ms:
            return
        state.checkpointed_at = tick_ms
        for key in [k for k, p in self._changed.items() if p == partition]:
            self.store.save(partition, key, pickle.dumps(self._models[key]))
            del self._changed[key]

    def model(self, state: SensorPartition, partition: int, key: str, kind: type[ModelT]) -> ModelT:
        """A sensor's or an asset's model: in memory, else from its checkpoint, else new."""
        return self._kept(state, partition, key, kind, lambda: kind(self.config.detector))

    def _kept(
        self,
        state: SensorPartition,
        partition: int,
        key: str,
        kind: type[KeptT],
        make: Callable[[], KeptT],
        fits: Callable[[KeptT], bool] = lambda _: True,
    ) -> KeptT:
        """What the processor keeps under `key` (a model, a monitor, a trend): in memory, else
        from its checkpoint, else made anew (also when it no longer `fits`); it is checkpointed
        with the partition's models."""
        kept = self._models.get(key)
        if kept is None:
            blob = self.store.load(key)
            kept = pickle.loads(blob) if blob else None  # noqa: S301 - LinePulse's own store
        if not isinstance(kept, kind) or not fits(kept):
            kept = make()
        self._models[key] = kept
        self._changed[key] = partition
        state.models.add(key)
        return kept

    def score(
        self,
        state: SensorPartition,
        partition: int,
        event: Subject,
        observed: list[Observation],
    ) -> list[tuple[AnomalyScore, Alert | None]]:
        """The scores of an event's observations and the steps of their alert episodes."""
        mode = state.modes.get(event.asset, "running")
        sensor_model = self.model(
            state, partition, f"{event.asset}|{event.sensor}|{mode}", SensorDetector
        )
        asset_model = (
            self.model(state, partition, f"{event.asset}|{ASSET_SOURCE}|{mode}", AssetDetector)
            if self.config.per_asset
            else None
        )
        results = []
        for time, features in observed:
            scored = sensor_model.observe(features)
            results.append(self._judged(state, event, event.sensor, time, features, scored))
            rounds = asset_model.observe(event.sensor, time, features) if asset_model else []
            # the rounds of the asset's sensors this observation closed
            results.extend(
                self._judged(state, event, ASSET_SOURCE, start, features, asset_scored)
                for start, asset_scored in rounds
            )
        return results

    def _judged(
        self,
        state: SensorPartition,
        event: Subject,
        source: str,
        time: int,
        features: dict[str, float],
        scored: Scored,
    ) -> tuple[AnomalyScore, Alert | None]:
        """The score event of one observation and the step of its alert episode, if any."""
        metrics.ANOMALY_SCORED.inc()
        threshold = self.config.detector.threshold
        score = AnomalyScore(
            id=f"{event.asset}|{source}|{time}",
            time=time,
            asset=event.asset,
            context=event.context,
            sensor=source,
            score=scored.score,
            threshold=threshold,
            is_anomaly=scored.is_anomaly,
            warming_up=scored.warming_up,
            features=features if source == event.sensor else {},
        )
        alert = state.anomalies.observe(
            source=source,
            asset=event.asset,
            time=time,
            bad=scored.is_anomaly,
            value=scored.evidence,
            threshold=threshold,
            context=event.context,
            message=anomaly_message(source, event.asset, scored),
        )
        return score, alert
