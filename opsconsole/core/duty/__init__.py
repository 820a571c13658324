"""Duty switching: plan, execute, verify, journal and audit (docs/architecture.md
"Duty switching"). Pure Python; the GUI drives `DutyController` through
`CollectorRuntime.duty_controller(...)` and `CollectorRuntime.submit(...)`."""

from opsconsole.core.duty.controller import READ_ONLY, DutyController
from opsconsole.core.duty.journal import DB_NAME, Journal
from opsconsole.core.duty.model import (
    DEGRADED,
    DONE,
    INTERRUPTED,
    OK,
    REFUSED,
    SWITCHING,
    DeviceResult,
    DutyError,
    GroupState,
    Plan,
    PlannedStep,
    ProgressEvent,
    StepResult,
    SwitchResult,
)

__all__ = [
    "DB_NAME", "DEGRADED", "DONE", "INTERRUPTED", "OK", "READ_ONLY", "REFUSED", "SWITCHING",
    "DeviceResult", "DutyController", "DutyError", "GroupState", "Journal", "Plan",
    "PlannedStep", "ProgressEvent", "StepResult", "SwitchResult",
]
