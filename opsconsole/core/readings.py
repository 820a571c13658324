"""What one poll of one device produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# A metric value: numbers for gauges, str for states, list for per-outlet
# columns (index order). Absent or None means "could not be read".
MetricValue = float | int | str | list | None


class Status(StrEnum):
    OK = "ok"
    PARTIAL = "partial"  # answered, some metrics missing
    UNREACHABLE = "unreachable"  # no answer in time
    ERROR = "error"  # answered, but wrong: auth, decode, lost GPU


@dataclass(slots=True)
class Reading:
    device: str
    ts: float  # unix seconds when the poll finished
    status: Status
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    error: str | None = None  # one line, never a secret
    duration_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)  # what the device says it is (model, UUID)
    # Readings of devices behind this one, from the same poll (a gpu-host's
    # GPUs): the poller hands them out beside it, as readings of their own.
    parts: list[Reading] = field(default_factory=list)


def flatten(readings: list[Reading]) -> list[Reading]:
    """Each reading followed by its parts."""
    return [x for r in readings for x in (r, *r.parts)]
