"""The `[alarms]` table of a site file: the built-in alarm thresholds, their
allowed ranges and the `[[alarms.rules]]`, validated here once.

Each threshold is a field of `AlarmThresholds`; its upper bound lives beside
it (field metadata `hi`), so a new threshold is one field here and nothing
in the site loader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from opsconsole.core.alarmload import parse_rules
from opsconsole.core.alarmrules import AlarmRule
from opsconsole.core.profileload import Problems, check_keys, want_number


def _limit(default: float, hi: float) -> Any:
    """A threshold field: its default and its allowed range 0..hi."""
    return field(default=default, metadata={"hi": hi})


@dataclass(frozen=True, slots=True)
class AlarmThresholds:
    miner_temp_c: float = _limit(85.0, 150)  # hottest board/chip above this
    gpu_temp_c: float = _limit(83.0, 150)
    hashrate_min_pct: float = _limit(80.0, 100)  # hashrate below this % of the nominal
    unreachable_intervals: float = _limit(2.0, 1000)  # no answer for more than N intervals
    hold_s: float = _limit(0.0, 86400)  # built-in value alarms: the condition must hold this long
    temp_clear_c: float = _limit(3.0, 50)  # a temperature alarm clears this far below its limit
    hashrate_clear_pct: float = _limit(5.0, 100)  # a hashrate alarm clears this far above it
    group_power_over_pct: float = _limit(10.0, 1000)  # group power above expected_kw[duty]
    group_power_clear_pct: float = _limit(5.0, 1000)  # ... clears under expected + this much
    group_power_hold_s: float = _limit(60.0, 86400)  # a duty switch's ramp must not raise it
    duty_check_hold_s: float = _limit(120.0, 86400)  # a duty contradiction must hold this long
    idle_hashrate_ths: float = _limit(1.0, 1e6)  # an idle group hashing more contradicts its duty
    inference_util_min_pct: float = _limit(5.0, 100)  # inference with mean GPU util below this
    rules: tuple[AlarmRule, ...] = ()  # [[alarms.rules]]

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The numeric keys of `[alarms]` (`rules` is the array of tables)."""
        return tuple(f.name for f in fields(cls) if f.name != "rules")

    @classmethod
    def parse(cls, table: dict[str, Any], probs: Problems, path: str = "alarms") -> AlarmThresholds:
        """From an `[alarms]` table: every problem goes to `probs` (one line
        each) and the bad key keeps its default."""
        check_keys(table, (*cls.keys(), "rules"), path, probs)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "rules":
                continue
            v = want_number(table, f.name, path, probs, lo=0, hi=f.metadata["hi"])
            if v is not None:
                values[f.name] = float(v)
        return cls(**values, rules=parse_rules(table, probs))

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any] | None) -> AlarmThresholds:
        """From an `[alarms]` table built by hand; raises ValueError naming
        the bad key (the same checks as a site file's)."""
        probs = Problems("alarms")
        th = cls.parse(dict(table or {}), probs, "")
        if probs:
            raise ValueError("; ".join(probs.lines))
        return th
