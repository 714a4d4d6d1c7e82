"""Alert episodes with hysteresis: raised -> updated -> cleared under one alert id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, cast, get_args

from schemas.events import Alert, AlertKind, AlertStatus, ProductionContext, Severity

SEVERITIES: tuple[str, ...] = get_args(Severity)
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)


@dataclass(frozen=True)
class AlertPolicy:
    """How many consecutive bad observations raise an episode and good ones clear it."""

    kind: AlertKind
    severity: Severity = "warning"
    raise_after: int = 3
    clear_after: int = 10
    update_every: int = 60


@dataclass
class _Episode:
    alert_id: str | None = None
    raised_at: int = 0
    bad_run: int = 0
    good_run: int = 0
    bad_total: int = 0
    worst: float | None = None


@dataclass
class AlertEpisodes:
    """Tracks one episode per asset and source (a sensor or the machine) for one alert kind."""

    policy: AlertPolicy
    _episodes: dict[str, _Episode] = field(default_factory=dict)

    def active(self, asset: str, source: str) -> bool:
        """True while an episode is raised for this asset and source."""
        episode = self._episodes.get(f"{asset}|{source}")
        return episode is not None and episode.alert_id is not None

    def observe(
        self,
        *,
        source: str,
        asset: str,
        time: int,
        bad: bool,
        value: float | None,
        threshold: float | None,
        message: str,
        context: ProductionContext | None = None,
        subject: str = "",
        details: dict[str, Any] | None = None,
    ) -> Alert | None:
        """Count one good or bad observation; the alert step it causes, if any. `subject` tells
        apart episodes of one source (e.g. a bearing's components); `details` are further
        fields of the alert."""
        key = f"{asset}|{source}|{subject}" if subject else f"{asset}|{source}"
        episode = self._episodes.setdefault(key, _Episode())
        if bad:
            episode.bad_run += 1
            episode.good_run = 0
        else:
            episode.good_run += 1
            episode.bad_run = 0
        status = self._transition(episode, key, time, bad, value)
        if status is None or episode.alert_id is None:
            return None
        alert = Alert(
            time=time,
            asset=asset,
            context=context,
            alert_id=episode.alert_id,
            alert_kind=self.policy.kind,
            status=status,
            severity=self.policy.severity,
            source=source,
            message=message,
            value=value,
            threshold=threshold,
            raised_at=episode.raised_at,
            **(details or {}),
        )
        if status == "cleared":
            self._episodes[key] = _Episode()
        return alert

    def _transition(
        self, episode: _Episode, key: str, time: int, bad: bool, value: float | None
    ) -> AlertStatus | None:
        if episode.alert_id is None:
            if bad and episode.bad_run >= self.policy.raise_after:
                episode.alert_id = alert_id_of(self.policy.kind, key, time)
                episode.raised_at = time
                episode.bad_total = episode.bad_run
                episode.worst = value
                return "raised"
            return None
        if not bad:
            return "cleared" if episode.good_run >= self.policy.clear_after else None
        episode.bad_total += 1
        if value is not None and (episode.worst is None or value > episode.worst):
            episode.worst = value
        if episode.bad_total % self.policy.update_every == 0:
            return "updated"
        return None

    def to_dict(self) -> dict[str, Any]:
        """The open episodes and the runs towards raising one (plain data, for snapshots)."""
        return {k: dict(vars(v)) for k, v in self._episodes.items() if v != _Episode()}

    def restore(self, data: dict[str, Any] | None) -> None:
        """Take up the episodes of `to_dict` (a restarted worker clears what it raised)."""
        self._episodes = {k: _Episode(**v) for k, v in (data or {}).items()}


def alert_id_of(kind: str, key: str, time: int) -> str:
    """The id of the episode of `kind` for `key` raised at `time` (the same on a replay)."""
    return hashlib.sha1(f"{kind}|{key}|{time}".encode(), usedforsecurity=False).hexdigest()[:20]


@dataclass(frozen=True)
class SeverityRules:
    """Severity per alert kind, per plant, line, station or machine: `kind=severity` rules,
    `asset:kind=severity` for a part of the plant (the longest matching asset prefix wins),
    separated by `;` — e.g. `anomaly=info;plant1/paint:anomaly=critical`."""

    rules: tuple[tuple[str, str, Severity], ...] = ()

    @classmethod
    def parse(cls, text: str) -> SeverityRules:
        """The rules of a `[asset:]kind=severity;...` text; a malformed rule raises ValueError."""
        rules = []
        for item in (part.strip() for part in text.split(";")):
            if not item:
                continue
            target, _, severity = item.partition("=")
            asset, _, kind = target.rpartition(":")
            if severity.strip() not in SEVERITIES or kind.strip() not in ALERT_KINDS:
                msg = (
                    f"alert severity rule {item!r}: write [asset:]kind=severity with kind one "
                    f"of {', '.join(ALERT_KINDS)} and severity one of {', '.join(SEVERITIES)}"
                )
                raise ValueError(msg)
            rules.append((asset.strip(), kind.strip(), cast(Severity, severity.strip())))
        return cls(tuple(rules))

    def severity(self, kind: str, asset: str, default: Severity) -> Severity:
        """The severity of `kind` for `asset` by the most specific matching rule, else `default`."""
        best: tuple[int, Severity] | None = None
        for prefix, rule_kind, severity in self.rules:
            if rule_kind != kind:
                continue
            if prefix and asset != prefix and not asset.startswith(prefix + "/"):
                continue
            depth = len(prefix.split("/")) if prefix else 0
            if best is None or depth >= best[0]:
                best = (depth, severity)
        return best[1] if best else default
