"""Load and validate device profiles (TOML) into `profiles.Profile`.

Shipped profiles live in `resources/profiles/`; a `profiles/` folder beside a
site file adds profiles or overrides shipped ones by name. Every problem is
reported at once, one line each: `FILE: KEY.PATH: problem`.

The small validation helpers here (`Problems`, `check_keys`, `read_toml`, ...)
are shared with `siteload`.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import UnionType
from typing import Any

from opsconsole.core.errors import ConfigError
from opsconsole.core.kinds import PROFILE_KINDS
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.paths import profiles_dir
from opsconsole.core.profiles import CONTROL_TYPES, REDUCERS, ControlSpec, MetricSpec, Profile

__all__ = ["ProfileSet", "collect_profiles", "load_profile_file", "load_profiles"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_OID = re.compile(r"^\d+(\.\d+)+$")
_SYNTAX_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_SYNTAX_END = re.compile(r"\s*\(at end of document\)\s*$")
_PROFILE_KEYS = ("name", "kind", "description", "metrics", "controls")
_METRIC_KEYS = ("oid", "walk", "reduce", "scale", "offset", "map", "sentinels")
MAX_SENTINELS = 16
_CONTROL_KEYS = ("oid", "type", "value", "index")
_CONTROL_INDEXES = ("outlet",)


# --------------------------------------------------------------------------- helpers


def key_part(key: str) -> str:
    """A key as it appears in a dotted key path (quoted when not bare)."""
    return key if _BARE_KEY.match(key) else '"' + key.replace('"', '\\"') + '"'


def join(path: str, key: str) -> str:
    return f"{path}.{key_part(key)}" if path else key_part(key)


_TYPE_NAMES: tuple[tuple[type | UnionType, str], ...] = (
    (bool, "a boolean"),  # before int: a bool is an int to Python, not to TOML
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    (datetime | date | time, "a date/time"),
)


def type_name(value: object) -> str:
    """The TOML name of a value's type, with an article."""
    return next((name for t, name in _TYPE_NAMES if isinstance(value, t)), type(value).__name__)


def quoted(choices: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in choices)


def hint(value: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """` (did you mean "X"?)` for the closest choice, or ""."""
    found = difflib.get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return f' (did you mean "{found[0]}"?)' if found else ""


class Problems:
    """Collects error lines for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: list[str] = []

    def add(self, key_path: str, problem: str) -> None:
        where = f"{key_path}: " if key_path else ""
        self.lines.append(f"{self.file}: {where}{problem}")

    def __bool__(self) -> bool:
        return bool(self.lines)


def check_keys(table: dict[str, Any], allowed: Iterable[str], path: str, probs: Problems) -> None:
    """Report every key of `table` not in `allowed`, with a did-you-mean hint."""
    allowed = list(allowed)
    for key in table:
        if key in allowed:
            continue
        probs.add(join(path, key), f'unknown key "{key}"{hint(key, allowed, 0.7)}')


MAX_FILE_BYTES = 4 * 1024 * 1024  # a site file of 20,000 devices is about 2 MiB
MAX_PROFILE_FILES = 1000  # per profiles/ folder
MAX_OCTETS = 1024  # a string control's value: one SNMP OctetString SET


def read_bounded(path: Path, cap: int = MAX_FILE_BYTES) -> bytes | str:
    """The bytes of a regular file of at most `cap` bytes, or why not. Never
    blocks on a FIFO and never reads a device (/dev/zero) or a huge file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        what = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a file")
        return f"not a regular file ({what})"
    if st.st_size > cap:
        return f"too large: {st.st_size:,} bytes (at most {cap:,})"
    try:  # O_NONBLOCK: the file may have been swapped for a FIFO since the stat
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            raw = f.read(cap + 1)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    if len(raw) > cap:
        return f"too large: more than {cap:,} bytes"
    return raw


def read_toml(path: Path, probs: Problems) -> dict[str, Any] | None:
    """Parse a TOML file; on failure add one line (file, line, column) and return None."""
    raw = read_bounded(path)
    if isinstance(raw, str):
        probs.add("", raw)
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        probs.add("", f"not UTF-8 text (byte {exc.start})")
        return None
    try:
        return tomllib.loads(text)
    except RecursionError:
        probs.add("", "TOML nested too deeply")
        return None
    except ValueError as exc:
        if not isinstance(exc, tomllib.TOMLDecodeError):  # e.g. an integer of 5,000 digits
            what = "an integer too long to read" if "digits" in str(exc) else str(exc)[:120]
            probs.add("", f"TOML value out of range: {what}")
            return None
        msg = str(exc)
        m = _SYNTAX_POS.search(msg)
        if m:
            where = f"line {m.group(1)}, column {m.group(2)}"
            msg = msg[: m.start()]
        else:
            lines = text.count("\n") + 1
            where = f"line {lines}, end of file" if _SYNTAX_END.search(msg) else "line ?"
            msg = _SYNTAX_END.sub("", msg)
        probs.add(where, f"TOML syntax error: {msg}")
        return None


_ABSENT: Any = object()  # a key not in its table, or a value already reported


def _lookup(table: dict[str, Any], key: str, path: str, probs: Problems, required: bool,
            accepts: Callable[[object], bool], expected: str,
            missing: str = "missing required key") -> Any:
    """table[key] when it is of the expected type, else _ABSENT (a missing
    required key and a wrong type are reported): the opening every want_* shares."""
    if key not in table:
        if required:
            probs.add(join(path, key), missing)
        return _ABSENT
    value = table[key]
    if not accepts(value):
        probs.add(join(path, key), f"expected {expected}, got {type_name(value)}")
        return _ABSENT
    return value


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _within(value: float, lo: float | None, hi: float | None, lo_open: bool,
            where: str, probs: Problems) -> bool:
    """Whether lo <= value <= hi (lo exclusive if lo_open); reported when not."""
    if _in_range(value, lo, hi, lo_open):
        return True
    probs.add(where, f"{value} is out of range ({_range_text(lo, hi, lo_open)})")
    return False


MAX_STR = 1024  # names, ids, hosts, controls: longer is a mistake (or an attack)
MAX_INT = 2**63 - 1  # beyond 64 bits no device, index or count makes sense
MAX_ABS_NUMBER = 1e15


def want_str(
    table: dict[str, Any], key: str, path: str, probs: Problems, *, required: bool = False,
    max_len: int = MAX_STR,
) -> str | None:
    """A string value of at most `max_len` characters (or None when absent /
    wrong; problems are reported)."""
    value = _lookup(table, key, path, probs, required, lambda v: isinstance(v, str), "a string")
    if value is _ABSENT:
        return None
    if not value.strip():
        probs.add(join(path, key), "must not be empty")
        return None
    if len(value) > max_len or "\0" in value:
        probs.add(join(path, key), f"too long ({len(value):,} characters, at most {max_len:,})"
                  if len(value) > max_len else "must not contain a NUL character")
        return None
    return value


def want_choice(
    table: dict[str, Any],
    key: str,
    choices: Iterable[str],
    path: str,
    probs: Problems,
    *,
    required: bool = False,
    what: str = "value",
) -> str | None:
    value = want_str(table, key, path, probs, required=required)
    if value is None:
        return None
    choices = list(choices)
    if value in choices:
        return value
    probs.add(join(path, key),
              f'unknown {what} "{value}": expected one of {quoted(choices)}{hint(value, choices)}')
    return None


def want_number(
    table: dict[str, Any], key: str, path: str, probs: Problems, *, required: bool = False,
    lo: float | None = None, hi: float | None = None, lo_open: bool = False,
) -> float | None:
    """An int or float (not a bool), finite, within [lo, hi] (lo exclusive if lo_open)."""
    value = _lookup(table, key, path, probs, required, is_number, "a number")
    if value is _ABSENT:
        return None
    if not math.isfinite(value):
        probs.add(join(path, key), "must be a finite number")
        return None
    if not _within(value, lo, hi, lo_open, join(path, key), probs):
        return None
    if abs(value) > MAX_ABS_NUMBER:  # no key has a use for more; 1e300 would overflow later
        probs.add(join(path, key), f"{value} is out of range (at most {MAX_ABS_NUMBER:g} in size)")
        return None
    return float(value)


def want_int(
    table: dict[str, Any], key: str, path: str, probs: Problems, *, required: bool = False,
    lo: int | None = None, hi: int | None = None,
) -> int | None:
    """An integer (not a bool, not a float) within [lo, hi]."""
    value = _lookup(table, key, path, probs, required, _is_int, "an integer")
    if value is _ABSENT or not _within(value, lo, hi, False, join(path, key), probs):
        return None
    if not -MAX_INT - 1 <= value <= MAX_INT:
        probs.add(join(path, key), f"{str(value)[:30]}... is out of range (64 bits)")
        return None
    return value


def want_bool(table: dict[str, Any], key: str, path: str, probs: Problems) -> bool | None:
    value = _lookup(table, key, path, probs, False, lambda v: isinstance(v, bool),
                    "a boolean (true/false)")
    return None if value is _ABSENT else value


def want_table(
    table: dict[str, Any], key: str, path: str, probs: Problems, *, required: bool = False
) -> dict[str, Any] | None:
    value = _lookup(table, key, path, probs, required, lambda v: isinstance(v, dict),
                    "a table", "missing required table")
    return None if value is _ABSENT else value


def _in_range(value: float, lo: float | None, hi: float | None, lo_open: bool) -> bool:
    if lo is not None and (value <= lo if lo_open else value < lo):
        return False
    return hi is None or value <= hi


def _range_text(lo: float | None, hi: float | None, lo_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"must be > {lo} and <= {hi}" if lo_open else f"must be {lo}..{hi}"
    if lo is not None:
        return f"must be > {lo}" if lo_open else f"must be >= {lo}"
    return f"must be <= {hi}"


# --------------------------------------------------------------------------- profiles


def parse_oid(table: dict[str, Any], path: str, probs: Problems) -> str | None:
    oid = want_str(table, "oid", path, probs, required=True)
    if oid is None:
        return None
    oid = oid.strip().removeprefix(".")
    if not _OID.match(oid):
        probs.add(
            join(path, "oid"), f'"{oid}" is not a dotted numeric OID (like "1.3.6.1.2.1.1.3.0")'
        )
        return None
    problem = oid_problem(oid)
    if problem:
        probs.add(join(path, "oid"), problem)
        return None
    return oid


MAX_OID_ARCS = 128  # RFC 2578: an OID has at most 128 sub-identifiers


def oid_problem(oid: str) -> str | None:
    """What makes a dotted numeric OID unusable on the wire, or None (X.690:
    first arc 0..2, second < 40 under 0 and 1; SNMP: every arc < 2^32, at most
    128 arcs)."""
    arcs = oid.split(".")
    if len(arcs) > MAX_OID_ARCS:
        return f"has {len(arcs)} arcs (at most {MAX_OID_ARCS})"
    first, second = int(arcs[0]), int(arcs[1])
    if first > 2:
        return f"first arc {first} is out of range (0, 1 or 2)"
    if first < 2 and second >= 40:
        return f"second arc {second} is out of range under {first} (0..39)"
    big = next((a for a in arcs if len(a) > 10 or int(a) >= 2**32), None)
    if big is not None:
        return f"arc {big[:20]}{'...' if len(big) > 20 else ''} is out of range (0..4294967295)"
    return None


def _parse_map(table: dict[str, Any], path: str, probs: Problems) -> dict[int, str] | None:
    raw = want_table(table, "map", path, probs)
    if raw is None:
        return None
    mpath = join(path, "map")
    out: dict[int, str] = {}
    for key, value in raw.items():
        try:
            code = int(key.strip()) if len(key) <= 20 else None
        except ValueError:
            code = None
        if code is None or not -(2**63) <= code < 2**64:
            probs.add(join(mpath, key), f'key "{key[:40]}" is not an integer code (64 bits)')
            continue
        if not isinstance(value, str) or not value:
            probs.add(join(mpath, key), f"expected a non-empty string, got {type_name(value)}")
            continue
        if len(value) > MAX_STR:
            probs.add(join(mpath, key),
                      f"too long ({len(value):,} characters, at most {MAX_STR:,})")
            continue
        out[code] = value
    if not raw:
        probs.add(mpath, "must not be empty")
    return out


def _parse_sentinels(table: dict[str, Any], path: str, probs: Problems) -> frozenset[float]:
    """`sentinels = [-1, 2147483647]`: raw values meaning "not available"."""
    if "sentinels" not in table:
        return frozenset()
    value = table["sentinels"]
    kpath = join(path, "sentinels")
    if not isinstance(value, list) or not value or len(value) > MAX_SENTINELS:
        probs.add(kpath, f"expected a list of 1 to {MAX_SENTINELS} numbers (raw values "
                  f'meaning "not available"), got {type_name(value)}')
        return frozenset()
    bad = [v for v in value if not is_number(v) or not math.isfinite(v)]
    if bad:
        probs.add(kpath, f"every sentinel must be a finite number, got {type_name(bad[0])}")
        return frozenset()
    return frozenset(value)


def _parse_metric(
    name: str, table: object, kind: str | None, path: str, probs: Problems
) -> MetricSpec | None:
    if not isinstance(table, dict):
        probs.add(path, f"expected a table, got {type_name(table)}")
        return None
    info = CATALOGUE.get(name)
    if info is None:
        probs.add(path, f'unknown metric "{name}": not in the metric catalogue'
                        f"{hint(name, CATALOGUE)}")
    elif kind is not None and kind not in info.kinds:
        probs.add(
            path,
            f'metric "{name}" is not reported by {kind} devices (only {", ".join(info.kinds)})',
        )
    check_keys(table, _METRIC_KEYS, path, probs)
    before = len(probs.lines)
    oid = parse_oid(table, path, probs)
    walk = want_bool(table, "walk", path, probs)
    reduce = want_choice(table, "reduce", REDUCERS, path, probs, what="reducer")
    scale = want_number(table, "scale", path, probs)
    offset = want_number(table, "offset", path, probs)
    mapping = _parse_map(table, path, probs)
    sentinels = _parse_sentinels(table, path, probs)
    if len(probs.lines) > before or info is None or oid is None:
        return None
    return MetricSpec(
        name=name,
        oid=oid,
        walk=bool(walk),
        reduce=reduce or "max",
        scale=1.0 if scale is None else scale,
        offset=0.0 if offset is None else offset,
        map=mapping,
        sentinels=sentinels,
    )


def _control_value(
    ctype: str, table: dict[str, Any], path: str, probs: Problems
) -> int | str | None:
    if "value" not in table:
        probs.add(join(path, "value"), "missing required key")
        return None
    value = table["value"]
    vpath = join(path, "value")
    if ctype == "string":
        if not isinstance(value, str):
            probs.add(vpath, f'expected a string for type "string", got {type_name(value)}')
            return None
        if len(value.encode()) > MAX_OCTETS:
            probs.add(vpath, f"too long for one SNMP value ({len(value.encode()):,} bytes, "
                      f"at most {MAX_OCTETS:,})")
            return None
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        probs.add(vpath, f'expected an integer for type "{ctype}", got {type_name(value)}')
        return None
    if ctype == "integer" and not -(2**31) <= value < 2**31:
        probs.add(vpath, f"{value} is out of range for an SNMP Integer32")
        return None
    if ctype == "unsigned" and not 0 <= value < 2**32:
        probs.add(vpath, f"{value} is out of range for an SNMP Unsigned32 (0..4294967295)")
        return None
    return value


def _parse_control(name: str, table: object, path: str, probs: Problems) -> ControlSpec | None:
    if not isinstance(table, dict):
        probs.add(path, f"expected a table, got {type_name(table)}")
        return None
    check_keys(table, _CONTROL_KEYS, path, probs)
    before = len(probs.lines)
    oid = parse_oid(table, path, probs)
    ctype = want_choice(table, "type", CONTROL_TYPES, path, probs, required=True, what="type")
    value = _control_value(ctype, table, path, probs) if ctype else None
    index = want_choice(table, "index", _CONTROL_INDEXES, path, probs, what="index")
    if len(probs.lines) > before or oid is None or ctype is None or value is None:
        return None
    return ControlSpec(name=name, oid=oid, type=ctype, value=value, index=index)


def _parse_section(
    data: dict[str, Any], key: str, probs: Problems
) -> Iterable[tuple[str, object, str]]:
    section = want_table(data, key, "", probs)
    for name, table in (section or {}).items():
        yield name, table, join(key, name)


def parse_profile(data: dict[str, Any], source: str, probs: Problems) -> Profile | None:
    """Validate one parsed profile file; None when it has problems."""
    before = len(probs.lines)
    check_keys(data, _PROFILE_KEYS, "", probs)
    name = want_str(data, "name", "", probs, required=True)
    kind = want_choice(data, "kind", PROFILE_KINDS, "", probs, required=True, what="kind")
    description = data.get("description", "")
    if not isinstance(description, str):
        probs.add("description", f"expected a string, got {type_name(description)}")
    elif len(description) > MAX_STR:
        probs.add("description", f"too long ({len(description):,} characters, at most "
                  f"{MAX_STR:,})")
        description = ""
    metrics: dict[str, MetricSpec] = {}
    for mname, table, path in _parse_section(data, "metrics", probs):
        spec = _parse_metric(mname, table, kind, path, probs)
        if spec is not None:
            metrics[mname] = spec
    controls: dict[str, ControlSpec] = {}
    for cname, table, path in _parse_section(data, "controls", probs):
        cspec = _parse_control(cname, table, path, probs)
        if cspec is not None:
            controls[cname] = cspec
    if len(probs.lines) > before or name is None or kind is None:
        return None
    return Profile(
        name=name,
        kind=kind,
        description=description if isinstance(description, str) else "",
        metrics=metrics,
        controls=controls,
        source=source,
    )


def load_profile_file(path: Path) -> tuple[Profile | None, list[str], str | None]:
    """Load one profile file: (profile or None, error lines, the name it declares)."""
    probs = Problems(str(path))
    data = read_toml(path, probs)
    if data is None:
        return None, probs.lines, None
    declared = data.get("name") if isinstance(data.get("name"), str) else None
    profile = parse_profile(data, str(path), probs)
    return profile, probs.lines, declared


@dataclass
class ProfileSet:
    """The outcome of loading profile folders, errors included (never raises)."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # names declared by files that failed


def _load_dir(folder: Path, result: ProfileSet) -> None:
    seen: dict[str, Path] = {}
    try:
        files = sorted(p for p in folder.glob("*.toml") if p.is_file())
    except OSError as exc:
        result.errors.append(f"{folder}: cannot list folder: {exc.strerror or exc}")
        return
    if len(files) > MAX_PROFILE_FILES:
        result.errors.append(f"{folder}: {len(files):,} profile files (at most "
                             f"{MAX_PROFILE_FILES:,})")
        return
    for file in files:
        profile, errors, declared = load_profile_file(file)
        result.errors.extend(errors)
        if profile is None:
            if declared:
                result.broken.add(declared)
            continue
        if profile.name in seen:
            result.errors.append(
                f'{file}: name: profile "{profile.name}" is also defined in {seen[profile.name]}'
            )
            continue
        seen[profile.name] = file
        result.profiles[profile.name] = profile
        result.broken.discard(profile.name)


def collect_profiles(extra_dir: Path | None = None) -> ProfileSet:
    """Load shipped profiles, then `extra_dir` (adds or overrides by name)."""
    result = ProfileSet()
    shipped = profiles_dir()
    if shipped.is_dir():
        _load_dir(shipped, result)
    if extra_dir is not None:
        if extra_dir.is_dir():
            _load_dir(extra_dir, result)
        elif extra_dir.exists():
            result.errors.append(f"{extra_dir}: expected a folder of profile files")
    return result


def load_profiles(extra_dir: Path | None = None) -> dict[str, Profile]:
    """Every profile by name; raises ConfigError listing every problem."""
    result = collect_profiles(extra_dir)
    if result.errors:
        raise ConfigError(result.errors)
    return result.profiles
