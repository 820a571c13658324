"""JSON decoding in small steps, for a client thread that shares the GIL
with a GUI thread.

`json.loads` holds the GIL for the whole document: a 20,000-device snapshot
(7 MB) or site model (9 MB) froze the console's window for 0.3 s on a quiet
machine and over a second on a loaded one. `loads_gently` gives the same
result, but walks the document's big containers in Python and hands the C
scanner one element at a time, so no single C call lasts longer than one
element (a device entry, a group) and the interpreter can switch threads
between elements. Small documents go to `json.loads` directly.

How it stays close to json.loads in cost: in an array, the first element is
walked; if its text was short (SMALL_CHARS), the following elements are
scanned whole by the C scanner, one call each. Objects, whose values differ
more (a snapshot's small "totals" beside its big "devices"), do it after
SAME_SMALL short container values in a row (a map keyed by device). So only
the "spine" of the document is walked in Python.
"""

from __future__ import annotations

import json
import json.decoder
from typing import Any

GENTLE_FROM_CHARS = 256 * 1024  # below this, json.loads is over in well under 5 ms
SMALL_CHARS = 32 * 1024  # an element this short is scanned in one C call
SAME_SMALL = 8

# the stdlib decoder's own parts (typeshed leaves them out; they are what
# json.loads runs, the C scanner where it is built)
_WS = json.decoder.WHITESPACE.match  # type: ignore[attr-defined]
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
_scan_once = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads_gently(text: str | bytes) -> Any:
    """`json.loads(text)`, in steps that each hold the GIL briefly."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    if len(text) < GENTLE_FROM_CHARS:
        return json.loads(text)
    try:
        value, end = _value(text, _WS(text, 0).end())
        end = _WS(text, end).end()
    except (StopIteration, IndexError) as exc:
        raise json.JSONDecodeError("Expecting value", text, getattr(exc, "value", 0)) from None
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _value(s: str, i: int) -> tuple[Any, int]:
    c = s[i]
    if c == "{":
        return _object(s, i + 1)
    if c == "[":
        return _array(s, i + 1)
    return _scan_once(s, i)


def _after_value(s: str, i: int, close: str) -> tuple[bool, int]:
    """Past a container's element: (True, index after `close`) at its end, or
    (False, index of the next element) after a comma."""
    i = _WS(s, i).end()
    c = s[i]
    j = _WS(s, i + 1).end()
    if c == close:
        return True, j
    if c != ",":
        raise json.JSONDecodeError("Expecting ',' delimiter", s, j - 1)
    return False, j


def _array(s: str, i: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    i = _WS(s, i).end()
    if s[i] == "]":
        return out, i + 1
    whole = False  # the elements are short: one C call each
    while True:
        start = i
        if whole:
            v, i = _scan_once(s, i)
        else:
            v, i = _value(s, i)
            whole = i - start < SMALL_CHARS
        out.append(v)
        closed, i = _after_value(s, i, "]")
        if closed:
            return out, i


def _object(s: str, i: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    i = _WS(s, i).end()
    if s[i] == "}":
        return out, i + 1
    small = 0  # short container values in a row
    while True:
        if s[i] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes",
                                       s, i)
        key, i = _scanstring(s, i + 1)
        i = _WS(s, i).end()
        if s[i] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", s, i)
        i = _WS(s, i + 1).end()
        start = i
        if small >= SAME_SMALL or s[i] not in "{[":
            v, i = _scan_once(s, i)
        else:
            v, i = _value(s, i)
            small = small + 1 if i - start < SMALL_CHARS else 0
        out[key] = v
        closed, i = _after_value(s, i, "}")
        if closed:
            return out, i
