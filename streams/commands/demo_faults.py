"""The faults the demo injects into its simulated plant (light: `--help` reads them)."""

from __future__ import annotations

DEMO_FAULTS = (
    "spike:m1:50:8",
    "drift:m2:70",
    "stuck:m3:60:60",
    "silent:m4:90:40",
    "bearing:m5:20",
)


def demo_faults(machines: int) -> str:
    """The demo's faults, for the machines the plant has."""
    return ",".join(f for f in DEMO_FAULTS if int(f.split(":")[1][1:]) <= machines)
