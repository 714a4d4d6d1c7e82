"""Scores every sensor observation online and turns sustained anomalies into alerts."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from faust.types import EventT

from schemas import topics
from schemas.codec import decode_machine, decode_sensor, encode
from schemas.events import (
    Alert,
    AnomalyScore,
    MachineState,
    QualityFinding,
    SensorBatch,
    SensorEvent,
    SensorReading,
    SensorSecond,
    SensorSpec,
)
from schemas.exceptions import InvalidEventError
from schemas.states import State, state_family
from streams import metrics
from streams.core.alerts import AlertEpisodes, AlertPolicy
from streams.core.anomaly import AssetDetector, Scored, SensorDetector
from streams.core.event_time import TimeLimits, check_event_time
from streams.core.features import per_second_features
from streams.core.sensor_health import Finding, HealthRules, SensorHealth
from streams.worker.app import Pipeline, now_ms
from streams.worker.model_checkpoints import ModelCheckpoints

RUNNING_FAMILIES = frozenset({State.PRODUCING, State.REDUCED_SPEED})
ASSET_SOURCE = "all sensors"
ModelT = TypeVar("ModelT", SensorDetector, AssetDetector)


def operating_mode(state: int) -> str:
    """Sensors behave differently while a machine runs and while it stands still; each mode
    gets its own model so that a normal stop is not an anomaly."""
    return "running" if state_family(state) in RUNNING_FAMILIES else "stopped"


Observation = tuple[int, dict[str, float]]


def second_features(second: SensorSecond) -> dict[str, float]:
    return {
        "rms": second.rms,
        "peak": second.peak,
        "crest_factor": second.crest_factor,
        "kurtosis": second.kurtosis,
        "band_low": second.band_low,
        "band_mid": second.band_mid,
        "band_high": second.band_high,
    }


def seconds_of(batch: SensorBatch) -> list[SensorSecond]:
    return [
        SensorSecond(
            id=f"{batch.id}|{s.second}",
            time=s.second,
            asset=batch.asset,
            context=batch.context,
            sensor=batch.sensor,
            samples=s.samples,
            mean=s.mean,
            minimum=s.minimum,
            maximum=s.maximum,
            rms=s.rms,
            peak=s.peak,
            crest_factor=s.crest_factor,
            kurtosis=s.kurtosis,
            band_low=s.band_energy[0],
            band_mid=s.band_energy[1],
            band_high=s.band_energy[2],
            unit=batch.unit,
            batch_id=batch.id,
        )
        for s in per_second_features(batch.time, batch.sample_rate_hz, batch.values)
    ]


class AnomalyProcessor:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        worker = pipeline.worker
        self.settings = worker.detector_settings()
        self.per_asset = worker.anomaly_scope == "asset"
        self.limits = TimeLimits(
            int(worker.max_future_s * 1000), int(worker.max_event_age_s * 1000)
        )
        self.detectors: dict[str, SensorDetector | AssetDetector] = {}
        self.modes: dict[str, str] = {}
        self.episodes = AlertEpisodes(
            AlertPolicy("anomaly", "warning", worker.alert_raise_after, worker.alert_clear_after)
        )
        self.rules = HealthRules(
            stuck_after_s=worker.quality_stuck_after_s,
            silent_after_intervals=worker.quality_silent_after_intervals,
        )
        self.health: dict[tuple[str, str], SensorHealth] = {}
        self.partitions: dict[tuple[str, str], int] = {}
        self.offsets: dict[int, dict[str, int]] = {}
        self.stuck = AlertEpisodes(
            AlertPolicy("data_quality", "warning", 1, worker.alert_clear_after)
        )
        self.silence = AlertEpisodes(AlertPolicy("sensor_silent", "warning", 1, 1))
        self.out_of_range = AlertEpisodes(
            AlertPolicy("data_quality", "warning", 1, worker.alert_clear_after)
        )
        self.rate = AlertEpisodes(AlertPolicy("data_quality", "info", 1, worker.alert_clear_after))
        table = pipeline.app.Table(
            "linepulse-anomaly-models", default=None, partitions=pipeline.kafka.partitions
        )
        self.checkpoints = ModelCheckpoints(table, int(worker.anomaly_checkpoint_s * 1000))

    def model(self, key: str, partition: int, kind: type[ModelT]) -> ModelT:
        """A sensor's or an asset's model: in memory, else from its checkpoint, else new."""
        model = self.detectors.get(key) or self.checkpoints.load(key)
        if not isinstance(model, kind):
            model = kind(self.settings)
        self.detectors[key] = model
        self.checkpoints.touched(key, partition)
        return model

    def track_mode(self, raw: bytes) -> None:
        """Follow machine states (invalid ones are dead-lettered by the OEE agent)."""
        try:
            decoded = decode_machine(raw)
        except InvalidEventError:
            return
        if isinstance(decoded, MachineState):
            self.modes[decoded.asset] = operating_mode(decoded.state)

    async def handle(self, event: EventT) -> None:
        message = event.message
        metrics.EVENTS_IN.labels("anomaly", message.topic).inc()
        if message.topic == topics.WINDOW_TICKS:
            await self.on_tick(message.partition, int(orjson.loads(event.value)["time"]))
            return
        self.offsets.setdefault(message.partition, {})[message.topic] = message.offset
        if message.topic == topics.MACHINE_EVENTS:
            self.track_mode(event.value)
            return
        try:
            decoded = decode_sensor(event.value)
            check_event_time(decoded, now_ms(), self.limits)
        except InvalidEventError as error:
            await self.pipeline.dead_letter(event, error)
            return
        decoded = self.pipeline.context.enrich(decoded)
        if not await self.check_health(decoded, message.partition):
            return
        observed: list[Observation]
        if isinstance(decoded, SensorBatch):
            seconds = seconds_of(decoded)
            for second in seconds:
                await self.pipeline.send(topics.SENSOR_SECONDS, second.asset, encode(second))
            observed = [(s.time, second_features(s)) for s in seconds]
        else:
            observed = [(decoded.time, {"value": decoded.value})]
        for score, alert in self.score(decoded, observed, message.partition):
            await self.pipeline.send(topics.ANOMALY_SCORES, score.asset, encode(score))
            await self.pipeline.send_alert(alert)

    async def check_health(self, event: SensorEvent, partition: int) -> bool:
        """Quality findings of a reading; False when it must not be scored or learned."""
        key = (event.asset, event.sensor)
        health = self.health.setdefault(key, SensorHealth(self.rules))
        self.partitions[key] = partition
        value = event.value if isinstance(event, SensorReading) else None
        spec = self.pipeline.specs.get(event.asset, event.sensor)
        findings = health.observe(event.time, value, now_ms(), spec)
        for finding in findings:
            metrics.QUALITY_FINDINGS.labels(finding).inc()
            await self.record_finding(event, finding, value, spec)
        source = event.sensor
        if self.silence.active(event.asset, source):
            await self.pipeline.send_alert(
                self.silence.observe(
                    source=source,
                    asset=event.asset,
                    time=event.time,
                    bad=False,
                    value=None,
                    threshold=None,
                    context=event.context,
                    message=f"{event.sensor} sends data again",
                )
            )
        if "duplicate" in findings:
            return False
        stuck = "stuck" in findings
        await self.pipeline.send_alert(
            self.stuck.observe(
                source=source,
                asset=event.asset,
                time=event.time,
                bad=stuck,
                value=value,
                threshold=self.rules.stuck_after_s,
                context=event.context,
                message=f"{event.sensor} on {event.asset} has held {value} for "
                f"{self.rules.stuck_after_s:.0f} s or more: a stuck sensor"
                if stuck
                else f"{event.sensor} on {event.asset} changes again",
            )
        )
        if spec is not None:
            await self.report_spec_findings(event, value, spec, findings, health)
        return not stuck and "out_of_range" not in findings and event.quality != "bad"

    async def record_finding(
        self, event: SensorEvent, rule: Finding, value: float | None, spec: SensorSpec | None
    ) -> None:
        detail = ""
        if rule == "out_of_range" and spec is not None:
            detail = f"expected {spec.expected_min}..{spec.expected_max} {spec.unit}".strip()
        elif rule == "rate_drift" and spec is not None:
            detail = f"expected every {spec.interval_ms} ms"
        finding = QualityFinding(
            time=event.time,
            asset=event.asset,
            context=event.context,
            sensor=event.sensor,
            rule=rule,
            value=value,
            detail=detail,
            reading_id=event.id,
        )
        await self.pipeline.send(topics.QUALITY_FINDINGS, event.asset, encode(finding))

    async def report_spec_findings(
        self,
        event: SensorEvent,
        value: float | None,
        spec: SensorSpec,
        findings: list[Finding],
        health: SensorHealth,
    ) -> None:
        """Data-quality episodes for a value outside the declared range and a drifted rate."""
        if value is not None and (spec.expected_min is not None or spec.expected_max is not None):
            bad = "out_of_range" in findings
            limits = f"{spec.expected_min}..{spec.expected_max} {spec.unit}".strip()
            await self.pipeline.send_alert(
                self.out_of_range.observe(
                    source=f"{event.sensor} range",
                    asset=event.asset,
                    time=event.time,
                    bad=bad,
                    value=value,
                    threshold=_crossed_limit(value, spec),
                    context=event.context,
                    message=f"{event.sensor} on {event.asset} reads {value}, outside its "
                    f"expected {limits}"
                    if bad
                    else f"{event.sensor} on {event.asset} is within {limits} again",
                )
            )
        if spec.interval_ms:
            drifted = "rate_drift" in findings
            median = health.expected_interval_ms() or 0.0
            await self.pipeline.send_alert(
                self.rate.observe(
                    source=f"{event.sensor} rate",
                    asset=event.asset,
                    time=event.time,
                    bad=drifted,
                    value=median,
                    threshold=spec.interval_ms,
                    context=event.context,
                    message=f"{event.sensor} on {event.asset} arrives every {median / 1000:.2f} s, "
                    f"expected every {spec.interval_ms / 1000:.2f} s"
                    if drifted
                    else f"{event.sensor} on {event.asset} arrives at its expected rate again",
                )
            )

    async def on_tick(self, partition: int, tick_ms: int) -> None:
        """Models are checkpointed and silent sensors found here, with no input from them."""
        self.checkpoints.save_due(partition, tick_ms, self.detectors)
        applied = self.offsets.get(partition, {})
        if await self.pipeline.lagging(
            partition, applied, (topics.SENSOR_READINGS, topics.SENSOR_BATCHES)
        ):
            return
        for key, health in self.health.items():
            if self.partitions.get(key) != partition:
                continue
            asset, sensor = key
            silent = health.silent(tick_ms)
            source = sensor
            if not silent and not self.silence.active(asset, source):
                continue
            quiet_s = (tick_ms - (health.last_arrival_ms or tick_ms)) / 1000
            interval_s = (health.expected_interval_ms() or 0) / 1000
            alert = self.silence.observe(
                source=source,
                asset=asset,
                time=tick_ms,
                bad=silent,
                value=quiet_s,
                threshold=interval_s * self.rules.silent_after_intervals,
                message=f"{sensor} on {asset} sent nothing for {quiet_s:.0f} s "
                f"(usually every {interval_s:.1f} s)",
            )
            if alert is not None and alert.status == "raised":
                metrics.QUALITY_FINDINGS.labels("silent").inc()
                finding = QualityFinding(
                    time=tick_ms,
                    asset=asset,
                    sensor=sensor,
                    rule="silent",
                    value=quiet_s,
                    detail=f"usually every {interval_s:.1f} s",
                )
                await self.pipeline.send(topics.QUALITY_FINDINGS, asset, encode(finding))
            await self.pipeline.send_alert(alert)

    def score(
        self, event: SensorEvent, observed: list[Observation], partition: int = 0
    ) -> list[tuple[AnomalyScore, Alert | None]]:
        mode = self.modes.get(event.asset, "running")
        sensor_model = self.model(f"{event.asset}|{event.sensor}|{mode}", partition, SensorDetector)
        asset_model = (
            self.model(f"{event.asset}|{ASSET_SOURCE}|{mode}", partition, AssetDetector)
            if self.per_asset
            else None
        )
        results = []
        for time, features in observed:
            results.append(
                self._judged(event, event.sensor, time, features, sensor_model.observe(features))
            )
            asset_scored = asset_model.observe(event.sensor, features) if asset_model else None
            if asset_scored is not None:  # this observation ended a round of the asset's sensors
                results.append(self._judged(event, ASSET_SOURCE, time, features, asset_scored))
        metrics.MODELS_WARMING.set(sum(1 for model in self.detectors.values() if model.warming_up))
        return results

    def _judged(
        self,
        event: SensorEvent,
        source: str,
        time: int,
        features: dict[str, float],
        scored: Scored,
    ) -> tuple[AnomalyScore, Alert | None]:
        """The score event of one observation and the step of its alert episode, if any."""
        metrics.ANOMALY_SCORED.inc()
        threshold = self.settings.threshold
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
        alert = self.episodes.observe(
            source=source,
            asset=event.asset,
            time=time,
            bad=scored.is_anomaly,
            value=scored.evidence,
            threshold=threshold,
            context=event.context,
            message=_anomaly_message(source, event.asset, scored),
        )
        return score, alert


def register(pipeline: Pipeline) -> AnomalyProcessor:
    processor = AnomalyProcessor(pipeline)
    source = pipeline.topic(
        topics.SENSOR_READINGS, topics.SENSOR_BATCHES, topics.MACHINE_EVENTS, topics.WINDOW_TICKS
    )

    @pipeline.app.agent(source, name="score_sensor_data")
    async def score_sensor_data(stream: Any) -> None:
        """Online anomaly score per sensor; sustained anomalies raise alerts."""
        async for event in stream.events():
            await pipeline.guarded(event, processor.handle, "score_sensor_data")

    return processor


def _crossed_limit(value: float, spec: SensorSpec) -> float | None:
    """The limit a value is beyond (else the upper one, for the record)."""
    if spec.expected_min is not None and value < spec.expected_min:
        return spec.expected_min
    return spec.expected_max


def _anomaly_message(source: str, asset: str, scored: Scored) -> str:
    if source == ASSET_SOURCE:
        if scored.is_anomaly:
            return (
                f"the sensors of {asset} together behave unlike their recent past "
                f"(score {scored.evidence:.4f})"
            )
        return f"the sensors of {asset} are back to normal"
    if scored.is_anomaly:
        return f"{source} on {asset} behaves unlike its recent past (score {scored.evidence:.4f})"
    return f"{source} on {asset} is back to normal"
