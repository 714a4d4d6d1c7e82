"""Condition monitoring in the sensor processor (pure). A sensor whose spec declares its
vibration physics gets a condition monitor: every second of its samples (or every velocity its
transmitter reports) becomes a `vibration.second` event, the held ISO zone drives a
`vibration_severity` alert while it is C or D, and the bearing diagnosis a `bearing_defect`
alert per suspected component. A sensor whose spec declares a `limit` (a bearing temperature,
say) gets a trend, and a `limit_forecast` alert while the trend reaches the limit soon."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from schemas import topics
from schemas.events import Alert, BatchHeader, SensorReading, Severity, VibrationSecond
from schemas.vibration import VibrationSpec
from streams.core.alerts import AlertEpisodes, AlertPolicy, alert_id_of
from streams.core.bearings import COMPONENT_NAMES, COMPONENTS
from streams.core.condition import ConditionMonitor, ConditionWindow
from streams.core.features import second_chunks
from streams.core.trend import LimitForecast, TrendFit
from streams.processors.protocol import Outputs

SEVERITY_ZONES = ("C", "D")
ZONE_MEANING = {
    "A": "as newly commissioned",
    "B": "fit for unrestricted long-term operation",
    "C": "fit only for a limited period",
    "D": "severe enough to cause damage",
}
MIN_WINDOW_S = 0.5  # shorter pieces of a batch are too coarse for the spectrum (1 / length Hz)
UPDATE_EVERY = 60  # windows between updates of a raised severity alert (with a fresh forecast)
VELOCITY_UNITS = {"mm/s": 1.0, "in/s": 25.4}
Subject = SensorReading | BatchHeader


@dataclass
class ConditionState:
    """What a partition remembers of its vibration sensors (plain data for its snapshot; the
    monitors' trends are checkpointed with the models)."""

    bearings: AlertEpisodes
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> held zone state
    severity: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> open alert
    speeds: dict[str, float] = field(default_factory=dict)  # asset|sensor -> rpm
    forecasts: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> open alert

    def to_dict(self) -> dict[str, Any]:
        """Plain data of everything above."""
        return {
            "bearings": self.bearings.to_dict(),
            "zones": dict(self.zones),
            "severity": {k: dict(v) for k, v in self.severity.items()},
            "speeds": dict(self.speeds),
            "forecasts": {k: dict(v) for k, v in self.forecasts.items()},
        }

    def restore(self, data: dict[str, Any] | None) -> None:
        """Take up `to_dict`'s data (a snapshot from before condition monitoring has none)."""
        data = data or {}
        self.bearings.restore(data.get("bearings"))
        self.zones = dict(data.get("zones", {}))
        self.severity = {k: dict(v) for k, v in data.get("severity", {}).items()}
        self.speeds = dict(data.get("speeds", {}))
        self.forecasts = {k: dict(v) for k, v in data.get("forecasts", {}).items()}


def new_state(raise_after: int, clear_after: int) -> ConditionState:
    """The state of a partition with no vibration sensor seen yet."""
    policy = AlertPolicy("bearing_defect", "warning", raise_after, clear_after)
    return ConditionState(AlertEpisodes(policy))


def _clock(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _forecast_fields(forecast: LimitForecast | None) -> dict[str, Any]:
    return {
        "predicted_limit": forecast.limit if forecast else None,
        "predicted_limit_at": forecast.at_ms if forecast else None,
        "predicted_limit_low": forecast.low_ms if forecast else None,
        "predicted_limit_high": forecast.high_ms if forecast else None,
    }


class ConditionWatch:
    """Turns a vibration sensor's batches or velocities into condition events and alerts, and
    a limited sensor's readings into its trend's forecasts."""

    def __init__(self, clear_after: int = 10, forecast_within_s: float = 7 * 86_400.0) -> None:
        self.clear_after = clear_after
        self.forecast_within_s = forecast_within_s

    def take_trending(
        self,
        state: ConditionState,
        reading: SensorReading,
        limit: float,
        trend: TrendFit,
        out: Outputs,
    ) -> None:
        """Follow a reading's trend towards its declared limit: `limit_forecast` is raised while
        the trend clearly reaches it within `forecast_within_s`, updated with fresh forecasts,
        and cleared after `clear_after` readings without such a forecast."""
        trend.observe(reading.time, reading.value)
        forecast = trend.forecast(limit)
        near = (
            forecast is not None and forecast.at_ms - reading.time <= self.forecast_within_s * 1000
        )
        key = f"{reading.asset}|{reading.sensor}"
        open_alert = state.forecasts.get(key)
        if near:
            if open_alert is None:
                open_alert = {
                    "alert_id": alert_id_of("limit_forecast", key, reading.time),
                    "raised_at": reading.time,
                    "readings": 0,
                    "misses": 0,
                }
                state.forecasts[key] = open_alert
                status = "raised"
            else:
                open_alert["misses"] = 0
                open_alert["readings"] += 1
                if open_alert["readings"] < UPDATE_EVERY:
                    return
                open_alert["readings"] = 0
                status = "updated"
        elif open_alert is not None:
            open_alert["misses"] += 1
            if open_alert["misses"] < self.clear_after:
                return
            del state.forecasts[key]
            status = "cleared"
        else:
            return
        out.alert(
            self._forecast_alert(reading, limit, forecast if near else None, open_alert, status)
        )

    def _forecast_alert(
        self,
        reading: SensorReading,
        limit: float,
        forecast: LimitForecast | None,
        open_alert: dict[str, Any],
        status: str,
    ) -> Alert:
        unit = f" {reading.unit}" if reading.unit else ""
        if forecast is None:
            message = f"{reading.sensor} on {reading.asset} no longer heads for {limit:g}{unit}"
        else:
            message = (
                f"{reading.sensor} on {reading.asset} ({reading.value:g}{unit}) reaches its limit "
                f"{limit:g}{unit} around {_clock(forecast.at_ms)} "
                f"({_clock(forecast.low_ms)} to {_clock(forecast.high_ms)}) at its present trend "
                f"({forecast.slope_per_hour:+.3g}{unit} an hour)"
            )
        return Alert(
            time=reading.time,
            asset=reading.asset,
            context=reading.context,
            alert_id=open_alert["alert_id"],
            alert_kind="limit_forecast",
            status=status,
            severity="warning" if forecast is not None else "info",
            source=reading.sensor,
            message=message,
            value=reading.value,
            threshold=limit,
            raised_at=open_alert["raised_at"],
            evidence={"slope_per_hour": forecast.slope_per_hour} if forecast else {},
            **_forecast_fields(forecast),
        )

    def take_batch(
        self,
        state: ConditionState,
        batch: BatchHeader,
        samples: NDArray[np.floating[Any]],
        spec: VibrationSpec,
        monitor: ConditionMonitor,
        out: Outputs,
    ) -> None:
        """Judge every whole second of a batch of samples with the sensor's monitor."""
        key = f"{batch.asset}|{batch.sensor}"
        self._resume(state, key, monitor)
        rpm = self._speed(state, batch.asset, spec)
        values = np.asarray(samples, dtype=np.float64)
        for second, chunk in second_chunks(batch.time, batch.sample_rate_hz, values):
            if chunk.size < MIN_WINDOW_S * batch.sample_rate_hz or chunk.size < 64:
                continue
            window = monitor.observe(second, chunk, batch.sample_rate_hz, rpm)
            self._judge(state, key, batch, window, monitor, out)

    def take_velocity(
        self,
        state: ConditionState,
        reading: SensorReading,
        spec: VibrationSpec,
        monitor: ConditionMonitor,
        out: Outputs,
    ) -> None:
        """Judge one velocity RMS reading of a transmitter (mm/s or in/s)."""
        key = f"{reading.asset}|{reading.sensor}"
        self._resume(state, key, monitor)
        velocity = reading.value * VELOCITY_UNITS[spec.unit]
        window = monitor.observe_velocity(reading.time, velocity)
        self._judge(state, key, reading, window, monitor, out)

    def take_speed(self, state: ConditionState, reading: SensorReading) -> None:
        """Remember a shaft speed (rpm) a vibration sensor of the asset takes its speed from."""
        state.speeds[f"{reading.asset}|{reading.sensor}"] = reading.value

    def _speed(self, state: ConditionState, asset: str, spec: VibrationSpec) -> float | None:
        if spec.shaft_speed_sensor:
            measured = state.speeds.get(f"{asset}|{spec.shaft_speed_sensor}")
            if measured is not None and measured > 0:
                return measured
        return spec.shaft_rpm

    def _resume(self, state: ConditionState, key: str, monitor: ConditionMonitor) -> None:
        zones = state.zones.get(key)
        if zones is not None:  # the snapshot's zone is the one the alerts rest on
            monitor.zones.restore(zones)

    def _judge(
        self,
        state: ConditionState,
        key: str,
        event: Subject,
        window: ConditionWindow,
        monitor: ConditionMonitor,
        out: Outputs,
    ) -> None:
        state.zones[key] = monitor.zones.to_dict()
        out.emit(topics.VIBRATION_SECONDS, self._second(event, window))
        out.alert(self._severity_step(state, key, event, window, monitor))
        if window.diagnosis is not None:
            for component in COMPONENTS:
                out.alert(self._bearing_step(state, event, window, component))

    def _second(self, event: Subject, window: ConditionWindow) -> VibrationSecond:
        diagnosis, forecast = window.diagnosis, window.forecast
        ratios = {e.component: e.ratio for e in diagnosis.evidence} if diagnosis else {}
        band = window.band_hz
        return VibrationSecond(
            id=f"{event.id}|{window.time}",
            time=window.time,
            asset=event.asset,
            context=event.context,
            sensor=event.sensor,
            velocity_rms_mm_s=window.velocity_rms_mm_s,
            zone=window.zone,
            held_zone=window.held_zone,
            shaft_rpm=window.shaft_rpm,
            band_low_hz=band[0] if band else None,
            band_high_hz=band[1] if band else None,
            suspected=window.suspected,
            bpfo_ratio=ratios.get("outer_race"),
            bpfi_ratio=ratios.get("inner_race"),
            bsf_ratio=ratios.get("rolling_element"),
            ftf_ratio=ratios.get("cage"),
            **_forecast_fields(forecast),
            batch_id=event.id,
        )

    def _severity_step(
        self,
        state: ConditionState,
        key: str,
        event: Subject,
        window: ConditionWindow,
        monitor: ConditionMonitor,
    ) -> Alert | None:
        held, open_alert = window.held_zone, state.severity.get(key)
        if held in SEVERITY_ZONES:
            if open_alert is None:
                open_alert = {
                    "alert_id": alert_id_of("vibration_severity", key, window.time),
                    "raised_at": window.time,
                    "zone": held,
                    "windows": 0,
                }
                state.severity[key] = open_alert
                status = "raised"
            elif open_alert["zone"] != held:
                open_alert.update(zone=held, windows=0)
                status = "updated"
            else:
                open_alert["windows"] += 1
                if open_alert["windows"] < UPDATE_EVERY:
                    return None
                open_alert["windows"] = 0
                status = "updated"
        elif open_alert is not None:
            del state.severity[key]
            status = "cleared"
        else:
            return None
        return self._severity_alert(event, window, monitor, open_alert, status)

    def _severity_alert(
        self,
        event: Subject,
        window: ConditionWindow,
        monitor: ConditionMonitor,
        open_alert: dict[str, Any],
        status: str,
    ) -> Alert:
        held, forecast = window.held_zone, window.forecast
        bounds = monitor.zones.boundaries
        severity: Severity = "critical" if held == "D" else "warning"
        message = (
            f"{event.sensor} on {event.asset} is in zone {held} "
            f"({window.velocity_rms_mm_s:.2f} mm/s RMS): {ZONE_MEANING[held]}"
        )
        if status == "cleared":
            severity = "info"
            message = (
                f"{event.sensor} on {event.asset} is back in zone {held} "
                f"({window.velocity_rms_mm_s:.2f} mm/s RMS)"
            )
        elif forecast is not None:
            low, high = _clock(forecast.low_ms), _clock(forecast.high_ms)
            message += (
                f"; at this trend it reaches {forecast.limit:g} mm/s around "
                f"{_clock(forecast.at_ms)} ({low} to {high})"
            )
        return Alert(
            time=window.time,
            asset=event.asset,
            context=event.context,
            alert_id=open_alert["alert_id"],
            alert_kind="vibration_severity",
            status=status,
            severity=severity,
            source=event.sensor,
            message=message,
            value=window.velocity_rms_mm_s,
            threshold=bounds[1] if held in SEVERITY_ZONES or status == "cleared" else None,
            raised_at=open_alert["raised_at"],
            zone=held,
            evidence={
                "velocity_rms_mm_s": window.velocity_rms_mm_s,
                "zone_c_mm_s": bounds[1],
                "zone_d_mm_s": bounds[2],
            },
            **_forecast_fields(forecast),
        )

    def _bearing_step(
        self, state: ConditionState, event: Subject, window: ConditionWindow, component: str
    ) -> Alert | None:
        assert window.diagnosis is not None  # noqa: S101 - the caller checks
        evidence = window.diagnosis.of(component)
        name = COMPONENT_NAMES[component]
        lines = ", ".join(f"{r:.1f}x" for r in evidence.ratios)
        suspected = window.suspected == component
        message = (
            f"{name} defect suspected on {event.sensor} of {event.asset}: envelope line at "
            f"{evidence.found_hz:.1f} Hz (kinematic {evidence.frequency_hz:.1f} Hz) "
            f"{evidence.ratio:.1f} times the spectrum around it; its family {lines}"
            if suspected
            else f"no {name} defect seen any more on {event.sensor} of {event.asset}"
        )
        details = {
            "component": component,
            "evidence": {
                "frequency_hz": evidence.frequency_hz,
                "found_hz": evidence.found_hz,
                "shaft_rpm": window.diagnosis.shaft_hz * 60,
                **{f"line_{i + 1}_ratio": r for i, r in enumerate(evidence.ratios)},
            },
            **_forecast_fields(window.envelope_forecast if suspected else None),
        }
        return state.bearings.observe(
            source=event.sensor,
            asset=event.asset,
            time=window.time,
            bad=suspected,
            value=evidence.ratio,
            threshold=window.min_ratio,
            message=message,
            context=event.context,
            subject=component,
            details=details,
        )
