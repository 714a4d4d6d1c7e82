"""Machine state codes, compatible with the United Manufacturing Hub's state model.

A code's family is the code rounded down to 10000 (180123 is an equipment failure with a
plant-specific sub-reason). Families map to OEE categories through `StateCategories`.
"""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    """The state families, by their code."""

    PRODUCING = 10000
    REDUCED_SPEED = 20000
    UNKNOWN = 30000
    UNSPECIFIED_STOP = 40000
    MICROSTOP = 50000
    INLET_JAM = 60000
    OUTLET_JAM = 70000
    CONGESTION_BYPASS = 80000
    MATERIAL_ISSUE = 90000
    CHANGEOVER = 100000
    CLEANING = 110000
    EMPTYING = 120000
    SETTING_UP = 130000
    OPERATOR_NOT_AT_MACHINE = 140000
    OPERATOR_BREAK = 150000
    NO_SHIFT = 160000
    NO_ORDER = 170000
    EQUIPMENT_FAILURE = 180000
    EXTERNAL_FAILURE = 190000
    EXTERNAL_INTERFERENCE = 200000
    PREVENTIVE_MAINTENANCE = 210000
    TECHNICAL_OTHER = 220000


def state_family(code: int) -> State:
    """The family of a (possibly sub-coded) state, e.g. 180123 -> EQUIPMENT_FAILURE."""
    return State(code - code % 10000)


def is_known_state(code: int) -> bool:
    """True if `code` lies in a known state family."""
    return 10000 <= code < 230000


def state_name(code: int) -> str:
    """The lower-case name of the code's family, e.g. "equipment_failure"."""
    return state_family(code).name.lower()
