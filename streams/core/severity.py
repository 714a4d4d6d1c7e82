"""Vibration severity zones after ISO 10816-3 (and 20816-3): A newly commissioned, B fit for
long-term operation, C fit only for a limited period, D severe enough to cause damage; and a
tracker that changes zone only after the velocity has held there, with hysteresis on the way
back (pure)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from schemas.vibration import Foundation, MachineGroup, VibrationSpec

ZONES = ("A", "B", "C", "D")
# velocity RMS boundaries A/B, B/C, C/D in mm/s over 10-1000 Hz, ISO 10816-3 table A.1/A.2
ISO_10816_3: dict[tuple[int, str], tuple[float, float, float]] = {
    (1, "rigid"): (2.3, 4.5, 7.1),
    (1, "flexible"): (3.5, 7.1, 11.0),
    (2, "rigid"): (1.4, 2.8, 4.5),
    (2, "flexible"): (2.3, 4.5, 7.1),
    (3, "rigid"): (2.3, 4.5, 7.1),
    (3, "flexible"): (3.5, 7.1, 11.0),
    (4, "rigid"): (1.4, 2.8, 4.5),
    (4, "flexible"): (2.3, 4.5, 7.1),
}


def standard_boundaries(group: MachineGroup, foundation: Foundation) -> tuple[float, float, float]:
    """The standard's zone boundaries for a machine group and foundation."""
    return ISO_10816_3[(group, foundation)]


def boundaries_of(spec: VibrationSpec) -> tuple[float, float, float]:
    """The boundaries a tag declares, else the standard's for its group and foundation."""
    return spec.zone_boundaries_mm_s or standard_boundaries(spec.machine_group, spec.foundation)


def zone_of(velocity_mm_s: float, boundaries: tuple[float, float, float]) -> str:
    """The zone of one velocity (a value on a boundary belongs to the zone above it)."""
    return ZONES[bisect.bisect_right(boundaries, velocity_mm_s)]


@dataclass(frozen=True)
class ZoneRules:
    """`hold_s`: how long a velocity must stay in another zone before the zone changes;
    `hysteresis`: how far below a boundary (as a share of it) it must fall to go back down."""

    hold_s: float = 10.0
    hysteresis: float = 0.1


@dataclass
class ZoneTracker:
    """The held zone of one sensor; `observe` each velocity in time order."""

    boundaries: tuple[float, float, float]
    rules: ZoneRules = ZoneRules()
    zone: str | None = None
    pending: str | None = None  # the zone being moved towards, sustained so far
    pending_since: int = 0

    def observe(self, time_ms: int, velocity_mm_s: float) -> str | None:
        """Take one velocity; the new held zone when it changed with it, else None. The first
        velocity sets the zone at once."""
        raw = zone_of(velocity_mm_s, self.boundaries)
        if self.zone is None:
            self.zone = raw
            return raw
        held = ZONES.index(self.zone)
        if ZONES.index(raw) > held:
            target = raw
        else:
            lowered = zone_of(velocity_mm_s / (1 - self.rules.hysteresis), self.boundaries)
            target = lowered if ZONES.index(lowered) < held else self.zone
        return self._move(time_ms, target)

    def _move(self, time_ms: int, target: str) -> str | None:
        if target == self.zone:
            self.pending = None
            return None
        rising = ZONES.index(target) > ZONES.index(self.zone or "A")
        if self.pending is None or (ZONES.index(self.pending) > ZONES.index(self.zone or "A")) != (
            rising
        ):
            self.pending, self.pending_since = target, time_ms
        else:  # the zone reached is the one sustained all along: the least far from the held one
            closer = min if rising else max
            self.pending = ZONES[closer(ZONES.index(self.pending), ZONES.index(target))]
        if time_ms - self.pending_since < self.rules.hold_s * 1000:
            return None
        self.zone, self.pending = self.pending, None
        return self.zone

    def to_dict(self) -> dict[str, Any]:
        """Plain data for snapshots."""
        return {"zone": self.zone, "pending": self.pending, "pending_since": self.pending_since}

    def restore(self, data: dict[str, Any]) -> None:
        """Take up `to_dict`'s data."""
        self.zone, self.pending = data["zone"], data["pending"]
        self.pending_since = data["pending_since"]
