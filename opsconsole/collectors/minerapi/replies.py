"""Decoding 4028 replies: the few invalid-JSON faults real firmware sends,
repaired exactly, and the STATUS block in both of its shapes.

Repairs (docs/miner-api.md "Firmware in practice"), applied only after a strict
parse failed, and nothing beyond them:
- `}{` with no comma between objects (Antminer / VNish `stats`);
- a bare `nan` as a value;
- `\\'` escapes (Whatsminer version strings);
STATUS given as a bare string (Whatsminer `status`) is valid JSON and is
read by `status_of`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """The miner answered, but wrongly (bad framing, invalid JSON, an error STATUS)."""


class ApiUnreachable(ApiError):
    """No answer at all: refused, reset before a byte, or silence until the deadline."""


_BARE_NAN = re.compile(rb"(?<=[:\[,])(\s*)-?nan(?=\s*[,\]}])", re.IGNORECASE)
_SQUOTE_ESCAPE = re.compile(rb"\\'")
_NO_COMMA = re.compile(rb"}(\s*){")


def _reject_constant(name: str) -> None:
    # NaN / Infinity from a miner are not readings: absent, never a number
    return None


def _loads(raw: bytes) -> Any:
    return json.loads(raw, parse_constant=_reject_constant)


def decode(raw: bytes) -> dict[str, Any]:
    """One reply (without its NUL terminator) -> a dict, or ApiError."""
    body = raw.strip(b"\x00 \t\r\n")
    if not body:
        raise ApiError("empty reply")
    try:
        data = _loads(body)
    except (ValueError, UnicodeDecodeError):
        fixed = _NO_COMMA.sub(rb"},\1{", body)
        fixed = _BARE_NAN.sub(rb"\1null", fixed)
        fixed = _SQUOTE_ESCAPE.sub(b"'", fixed)
        try:
            data = _loads(fixed)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(f"invalid JSON ({_why(exc)})") from None
    if not isinstance(data, dict):
        raise ApiError(f"unexpected reply: a JSON {type(data).__name__}, not an object")
    return data


def _why(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at byte {exc.pos}"
    return type(exc).__name__


@dataclass(frozen=True, slots=True)
class ApiStatus:
    ok: bool
    code: int | None
    msg: str
    description: str


def status_of(reply: dict[str, Any]) -> ApiStatus | None:
    """The reply's STATUS, whether a list of one object (cgminer) or a bare
    string beside Code/Msg at the top level (Whatsminer `status`, `get_*`)."""
    st = reply.get("STATUS")
    if isinstance(st, list) and st and isinstance(st[0], dict):
        head = st[0]
        flag = head.get("STATUS")
        code, msg, desc = head.get("Code"), head.get("Msg"), head.get("Description")
    elif isinstance(st, str):
        flag, code, msg, desc = st, reply.get("Code"), reply.get("Msg"), reply.get("Description")
    else:
        return None
    return ApiStatus(
        ok=flag in ("S", "I", "W"),  # cgminer: Success, Info, Warning; E/F are errors
        code=code if isinstance(code, int) else None,
        msg=msg if isinstance(msg, str) else "",
        description=desc if isinstance(desc, str) else "",
    )


def check(reply: dict[str, Any], command: str) -> dict[str, Any]:
    """The reply if its STATUS says success, else ApiError naming the command."""
    st = status_of(reply)
    if st is not None and not st.ok:
        code = f" (code {st.code})" if st.code is not None else ""
        raise ApiError(f"{command}: {st.msg or 'error'}{code}")
    return reply
