"""An asset's observations gathered into rounds of event time, whatever order they arrive in.

A round is a slice of event time (`round_ms`). It closes once every sensor of the asset has
reported past its end, so that which observations make up a round depends on their timestamps
only, not on how the topics of the asset's sensors happen to interleave on delivery. A sensor
that falls silent (`stall_ms` behind the newest observation) is no longer waited for; what it
sends later goes into the earliest round still open.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Round:
    """One closed round: when it starts, and each feature's values in it (key `sensor|name`)."""

    start_ms: int
    values: dict[str, list[float]]


@dataclass
class AssetRounds:
    """Open rounds of one asset, closed in time order as the asset's sensors move past them."""

    round_ms: int = 1000
    stall_ms: int = 60_000
    latest: dict[str, int] = field(default_factory=dict)  # sensor -> its newest event time
    open: dict[int, dict[str, list[float]]] = field(default_factory=dict)  # index -> values
    closed_through: int | None = None  # the index of the last round closed

    def add(self, sensor: str, time_ms: int, features: dict[str, float]) -> list[Round]:
        """Put one observation into its round; the rounds this closes, oldest first."""
        index = time_ms // self.round_ms
        if self.closed_through is not None:
            index = max(index, self.closed_through + 1)
        values = self.open.setdefault(index, {})
        for name, value in features.items():
            values.setdefault(f"{sensor}|{name}", []).append(value)
        self.latest[sensor] = max(time_ms, self.latest.get(sensor, time_ms))
        return self._close()

    def _close(self) -> list[Round]:
        newest = max(self.latest.values())
        waited_for = [t for t in self.latest.values() if newest - t <= self.stall_ms]
        reached = min(waited_for)  # every sensor still reporting has reported up to here
        closed = []
        for index in sorted(self.open):
            if (index + 1) * self.round_ms > reached:
                break
            closed.append(Round(index * self.round_ms, self.open.pop(index)))
            self.closed_through = index
        return closed
