"""Validation of `[[alarms.rules]]` for the site loader: every problem one
line, unknown keys with a did-you-mean, like the rest of the site file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opsconsole.core.alarmrules import OPS, RISING, RULE_KEYS, SEVERITIES, AlarmRule
from opsconsole.core.kinds import DEVICE_KINDS
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.profileload import (
    Problems,
    check_keys,
    join,
    quoted,
    type_name,
    want_choice,
    want_number,
    want_str,
)

NUMERIC_METRICS = tuple(m.name for m in CATALOGUE.values() if m.numeric)


def parse_rules(alarms: dict[str, Any], probs: Problems) -> tuple[AlarmRule, ...]:
    raw = alarms.get("rules")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        probs.add("alarms.rules", f"expected an array of tables ([[alarms.rules]]), "
                                  f"got {type_name(raw)}")
        return ()
    rules: list[AlarmRule] = []
    names: set[str] = set()
    for i, t in enumerate(raw):
        rule = _rule(t, f"alarms.rules[{i}]", probs)
        if rule is None:
            continue
        if rule.label in names:
            probs.add(f"alarms.rules[{i}]", f'duplicate rule "{rule.label}" (give it a name)')
            continue
        names.add(rule.label)
        rules.append(rule)
    return tuple(rules)


def _rule(t: dict[str, Any], path: str, probs: Problems) -> AlarmRule | None:
    before = len(probs.lines)
    check_keys(t, RULE_KEYS, path, probs)
    metric = want_choice(t, "metric", NUMERIC_METRICS, path, probs, what="numeric metric",
                         required=True)
    op = want_choice(t, "op", tuple(OPS), path, probs, what="operator", required=True)
    value = want_number(t, "value", path, probs, required=True)
    name = want_str(t, "name", path, probs)
    kind = want_choice(t, "kind", DEVICE_KINDS, path, probs, what="device kind")
    group = want_str(t, "group", path, probs)
    hold = want_number(t, "hold_s", path, probs, lo=0, hi=86400)
    severity = want_choice(t, "severity", SEVERITIES, path, probs, what="severity")
    devices = t.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
        probs.add(join(path, "devices"), f"expected an array of device ids, got "
                                         f"{type_name(devices)}")
        devices = []
    clear = None
    if op is not None and value is not None:
        right, wrong = ("clear_below", "clear_above") if op in RISING else (
            "clear_above", "clear_below")
        if wrong in t:
            ops = quoted(("<", "<=") if op in RISING else RISING)
            probs.add(join(path, wrong), f'goes with op {ops}; for op "{op}" use {right}')
        clear = want_number(t, right, path, probs)
        if clear is not None and (clear > value if op in RISING else clear < value):
            side = "at or below" if op in RISING else "at or above"
            probs.add(join(path, right), f"must be {side} value ({value:g}): it is where "
                                         "the alarm clears")
    if len(probs.lines) > before or metric is None or op is None or value is None:
        return None
    return AlarmRule(metric, op, value, name or "", kind, group, tuple(devices),
                     hold or 0.0, clear, severity or "warning")


def check_rule_refs(rules: Iterable[AlarmRule], groups: set[str], devices: set[str],
                    probs: Problems) -> None:
    """Groups and devices a rule names must exist."""
    import difflib

    for i, r in enumerate(rules):
        path = f"alarms.rules[{i}]"
        if r.group is not None and r.group not in groups:
            hint = difflib.get_close_matches(r.group, sorted(groups), n=1)
            probs.add(join(path, "group"), f'unknown group "{r.group}"'
                      + (f' (did you mean "{hint[0]}"?)' if hint else ""))
        for d in r.devices:
            if d not in devices:
                hint = difflib.get_close_matches(d, sorted(devices), n=1)
                probs.add(join(path, "devices"), f'unknown device "{d}"'
                          + (f' (did you mean "{hint[0]}"?)' if hint else ""))
