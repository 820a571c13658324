"""Is the wall's data current? The newest answered reading against three
poll intervals. Pure functions over the store's numbers and a clock, so the
stale banner is tested with a fake clock."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STALE_INTERVALS = 3.0


@dataclass(frozen=True, slots=True)
class Freshness:
    newest_ts: float | None  # the newest ok/partial reading, any device
    age_s: float | None
    stale: bool
    limit_s: float


def newest_answer(last_answer_ts: np.ndarray) -> float | None:
    """Unreachable devices keep "reporting" timeouts: only an answer counts."""
    if last_answer_ts.size == 0 or bool(np.isnan(last_answer_ts).all()):
        return None
    return float(np.nanmax(last_answer_ts))


def assess(newest_ts: float | None, now: float, poll_interval_s: float,
           started_at: float) -> Freshness:
    """Stale when the newest answer is older than STALE_INTERVALS intervals, or
    when none came within that long of the wall starting."""
    limit = STALE_INTERVALS * poll_interval_s
    if newest_ts is None or not math.isfinite(newest_ts):
        return Freshness(None, None, now - started_at > limit, limit)
    age = max(0.0, now - newest_ts)
    return Freshness(newest_ts, age, age > limit, limit)
