"""Faults injected into the simulated plant: `kind:machine:at_s[:for_s]`, comma-separated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.exceptions import LinePulseError

FaultKind = Literal["spike", "drift", "stuck", "silent", "bearing", "bearing_inner"]
_FAULT_KINDS = ("spike", "drift", "stuck", "silent", "bearing", "bearing_inner")
BEARING_DEFECTS = {"bearing": "outer_race", "bearing_inner": "inner_race"}
_DEFAULT_FAULT_S = {
    "spike": 5.0,
    "drift": 10_000_000.0,
    "stuck": 60.0,
    "silent": 60.0,
    "bearing": 10_000_000.0,
    "bearing_inner": 10_000_000.0,
}


class FaultSpecError(LinePulseError):
    """A fault specification could not be read."""


@dataclass(frozen=True)
class Fault:
    """A fault injected into one machine's sensors from `at_s` for `for_s` seconds."""

    kind: FaultKind
    machine: str
    at_s: float
    for_s: float

    def active(self, elapsed_s: float) -> bool:
        """True while the fault is on at `elapsed_s` seconds into the run."""
        return self.at_s <= elapsed_s < self.at_s + self.for_s


def parse_faults(spec: str) -> list[Fault]:
    """'spike:m1:30,silent:m2:40:20' -> faults (kind:machine:at_s[:for_s])."""
    faults = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        parts = item.split(":")
        if len(parts) not in (3, 4) or parts[0] not in _FAULT_KINDS:
            msg = (
                f"fault {item!r} is not kind:machine:at_s[:for_s] with kind one of "
                f"{', '.join(_FAULT_KINDS)}; e.g. spike:m1:30"
            )
            raise FaultSpecError(msg)
        try:
            at_s = float(parts[2])
            for_s = float(parts[3]) if len(parts) == 4 else _DEFAULT_FAULT_S[parts[0]]
        except ValueError as exc:
            msg = f"fault {item!r}: at_s and for_s must be numbers of seconds"
            raise FaultSpecError(msg) from exc
        faults.append(Fault(parts[0], parts[1], at_s, for_s))  # type: ignore[arg-type]
    return faults
