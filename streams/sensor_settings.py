"""Settings of the sensor analytics: the online anomaly detector and condition monitoring,
nested in `streams.settings.WorkerSettings` (and importable from there). Each field has an env
var and a command-line flag."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.anomaly import DetectorSettings
from streams.core.bearings import DiagnosisSettings
from streams.core.condition import ConditionSettings
from streams.core.severity import ZoneRules
from streams.core.trend import TrendRules

__all__ = ["AnomalySettings", "VibrationSettings", "settings_config"]


def settings_config(prefix: str) -> SettingsConfigDict:
    """The pydantic-settings configuration of a component whose env vars start with `prefix`."""
    # populate_by_name: fields whose env var keeps its older name (an alias) are still set by
    # their field name in code
    return SettingsConfigDict(env_prefix=prefix, frozen=True, populate_by_name=True)


class AnomalySettings(BaseSettings):
    """The online anomaly detector (`linepulse score` runs with the same settings)."""

    model_config = settings_config("LINEPULSE_ANOMALY_")

    threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="score at which an observation is anomalous; the score is -log10 of the "
        "tail probability / 10, so 0.5 means a 1-in-100,000 deviation",
    )
    warmup: int = Field(300, ge=1, description="observations per sensor before any alert")
    window: int = Field(
        6400, ge=10, description="span of observations in a feature's fading mean and variance"
    )
    score_window: int = Field(
        8640, ge=10, description="span of deviations the adaptive threshold is estimated from"
    )
    smoothing: int = Field(
        10, ge=1, description="recent deviations averaged before they are compared"
    )
    rest: int = Field(
        100, ge=0, description="observations after an onset whose score stays below threshold"
    )
    quarantine: int = Field(
        400, ge=0, description="anomalous observations in a row kept out of training at most"
    )
    release: float = Field(
        0.6,
        gt=0,
        le=1,
        description="an anomalous feature is normal again when its score falls below this "
        "share of the threshold (hysteresis)",
    )
    range_tolerance: float = Field(
        0.05, ge=0, description="a value beyond the range seen so far by this share is anomalous"
    )
    scope: Literal["sensor", "asset"] = Field(
        "sensor",
        description="sensor: one score per sensor; asset: also one multivariate score per "
        "asset over all its sensors (alert source 'asset')",
    )
    checkpoint_s: float = Field(
        30.0, gt=0, description="how often changed detector models are checkpointed"
    )

    def detector(self) -> DetectorSettings:
        """The detector's own settings."""
        return DetectorSettings(
            warmup=self.warmup,
            threshold=self.threshold,
            window_size=self.window,
            score_window=self.score_window,
            smoothing=self.smoothing,
            rest=self.rest,
            quarantine=self.quarantine,
            range_tolerance=self.range_tolerance,
            release=self.release,
        )


class VibrationSettings(BaseSettings):
    """Condition monitoring of the vibration sensors a tag map declares (`linepulse vibration`
    runs with the same settings)."""

    model_config = settings_config("LINEPULSE_VIBRATION_")

    min_ratio: float = Field(
        6.0,
        gt=1,
        description="a defect's strongest line must stand this many times above the envelope "
        "spectrum's median",
    )
    min_harmonic_ratio: float = Field(
        2.5, gt=1, description="and another line of its family this many times"
    )
    slip: float = Field(
        0.03, ge=0, lt=0.2, description="how far a defect line may lie from its kinematic frequency"
    )
    hold_s: float = Field(10.0, ge=0, description="how long a velocity must hold a new zone")
    hysteresis: float = Field(
        0.1, ge=0, lt=1, description="share below a boundary the velocity falls to go back down"
    )
    band_every_s: float = Field(
        60.0, gt=0, description="how often the kurtogram picks the resonance band afresh"
    )
    trend_step_s: float = Field(60.0, gt=0, description="values averaged into one trend point")
    trend_points: int = Field(240, ge=3, description="trend points kept (the trend's window)")
    trend_min_points: int = Field(20, ge=3, description="trend points before any forecast")
    trend_min_t: float = Field(
        4.0, gt=0, description="a trend's slope must be this many standard errors from flat"
    )
    trend_max_horizon: float = Field(
        4.0, gt=0, description="no forecast further ahead than this many times the trend's span"
    )
    trend_confidence: float = Field(
        0.9, gt=0, lt=1, description="confidence of the forecast's interval"
    )
    forecast_within_h: float = Field(
        168.0,
        gt=0,
        description="a sensor with a declared limit raises limit_forecast when its trend "
        "reaches the limit within this many hours",
    )

    def condition(self) -> ConditionSettings:
        """The condition monitor's own settings."""
        return ConditionSettings(
            diagnosis=DiagnosisSettings(self.slip, self.min_ratio, self.min_harmonic_ratio),
            zones=ZoneRules(self.hold_s, self.hysteresis),
            trend=TrendRules(
                step_s=self.trend_step_s,
                points=self.trend_points,
                min_points=self.trend_min_points,
                min_t=self.trend_min_t,
                max_horizon=self.trend_max_horizon,
                confidence=self.trend_confidence,
            ),
            band_every_s=self.band_every_s,
            forecast_within_s=self.forecast_within_h * 3600,
        )
