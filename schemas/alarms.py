"""The alarm lifecycle's contracts: the states of an alarm after ISA-18.2 and the actions
operators (or other systems) take on one."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.base import Event, Name

AlarmState = Literal[
    "unacknowledged",  # ISA-18.2 B: the condition is active, nobody has acknowledged it
    "acknowledged",  # C: active and acknowledged
    "returned_unacknowledged",  # D: back to normal before anybody acknowledged it
    "normal",  # A: back to normal and acknowledged: the alarm is closed
    "shelved",  # E: hidden by an operator until `shelved_until`
    "suppressed",  # F: hidden by design while its machine is in a planned stop
    "out_of_service",  # G: taken out of service (e.g. a sensor under maintenance)
]
ActionKind = Literal[
    "acknowledge",
    "shelve",
    "unshelve",
    "assign",
    "comment",
    "remove_from_service",
    "return_to_service",
]
MAX_SHELVE_MINUTES = 7 * 24 * 60


class AlarmAction(Event):
    """What somebody does to an alarm: `asset` is the alarm's (it keys the action to the
    partition that holds the alarm), `actor` who acts, `time` when."""

    kind: Literal["alarm_action"] = "alarm_action"
    alert_id: Name
    action: ActionKind
    actor: Name
    minutes: Annotated[float, Field(gt=0, le=MAX_SHELVE_MINUTES)] | None = Field(
        None, description="shelve: for how long"
    )
    assignee: Name | None = Field(None, description="assign: the person or team")
    comment: Annotated[str, Field(max_length=2000)] | None = Field(
        None, description="comment: the text; any other action: an optional note"
    )

    @model_validator(mode="after")
    def _complete(self) -> AlarmAction:
        needed = {"shelve": "minutes", "assign": "assignee", "comment": "comment"}.get(self.action)
        if needed is not None and getattr(self, needed) is None:
            msg = f"action {self.action} needs {needed}"
            raise ValueError(msg)
        return self
