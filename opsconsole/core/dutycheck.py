"""Duty against telemetry: a group whose readings contradict its duty.

- idle, yet its miners hash (more than `idle_hashrate_ths` in total);
- mining, yet every answering miner reports 0 TH/s;
- inference, yet its answering GPUs are idle (mean utilisation below
  `inference_util_min_pct`).

Only answering devices count: a silent group is flagged as silent, not as a
contradiction. Pure numpy over the live store; AlarmTracker turns the result
into held group alarms (`AlarmKind.DUTY_MISMATCH`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

IDLE_HASHING, MINING_ZERO, INFERENCE_NO_LOAD = "idle_hashing", "mining_zero", "inference_no_load"
ZERO_THS = 0.001  # 1 GH/s: below this a group is not hashing at all


@dataclass(frozen=True, slots=True)
class Contradiction:
    group: str
    kind: str  # IDLE_HASHING | MINING_ZERO | INFERENCE_NO_LOAD
    message: str


def _per_group(store: Any, kinds: tuple[str, ...], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per scope (site first): sum of `metric` over answering devices of `kinds`
    that report it, and how many such devices there are."""
    k = len(store.scopes)
    vals = store.current.get(metric)
    if vals is None:
        return np.zeros(k), np.zeros(k, dtype=np.int64)
    have = np.isin(store.kinds, kinds) & ~np.isnan(vals)
    g = store.group_idx[have]
    total = np.bincount(g, weights=vals[have], minlength=k)
    count = np.bincount(g, minlength=k)
    return total, count


def contradictions(store: Any, duties: Mapping[str, str], thresholds: Any = None,
                   skip: Collection[str] = ()) -> dict[str, Contradiction]:
    """Groups whose telemetry now contradicts their duty (only those)."""
    idle_ths = getattr(thresholds, "idle_hashrate_ths", 1.0)
    util_min = getattr(thresholds, "inference_util_min_pct", 5.0)
    rate, miners = _per_group(store, ("miner",), "hashrate_ths")
    util, gpus = _per_group(store, ("gpu", "gpu-host"), "util_pct")  # NVML or an exporter
    out: dict[str, Contradiction] = {}
    for gid, s in ((g, store.scope_index[g]) for g in store.scopes[1:]):
        duty = duties.get(gid)
        if gid in skip or duty is None:
            continue
        if duty == "idle" and miners[s] and rate[s] > idle_ths:
            out[gid] = Contradiction(gid, IDLE_HASHING, (
                f"idle but hashing: {rate[s]:,.1f} TH/s from {miners[s]} "
                f"miner{'s' if miners[s] != 1 else ''}"))
        elif duty == "mining" and miners[s] and rate[s] < ZERO_THS:
            out[gid] = Contradiction(gid, MINING_ZERO, (
                f"mining at 0 TH/s: {miners[s]} answering "
                f"miner{'s' if miners[s] != 1 else ''} report no hashrate"))
        elif duty == "inference" and gpus[s] and util[s] / gpus[s] < util_min:
            out[gid] = Contradiction(gid, INFERENCE_NO_LOAD, (
                f"inference with no GPU load: mean utilisation {util[s] / gpus[s]:.0f} % "
                f"over {gpus[s]} GPU{'s' if gpus[s] != 1 else ''}"))
    return out
