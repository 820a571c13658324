"""`firmware = "auto"`: the family from the API's own replies (`version`,
`devdetails`, STATUS descriptions), never from a web page. The caller
caches the answer per miner."""

from __future__ import annotations

import json
from typing import Any

from opsconsole.collectors.minerapi.replies import ApiError, status_of

# Marker -> family, in order: the first match wins. Forks keep their parent's
# markers (LuxOS and VNish run on Antminers and say "Antminer" too), so the
# forks come first.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("luxminer", "luxos"),
    ("bosminer", "braiins"),
    ("boser", "braiins"),
    ("braiins", "braiins"),
    ("vnish", "vnish"),
    ("whatsminer", "whatsminer"),
    ("btminer", "whatsminer"),
    ("avalon", "avalon"),
    ("antminer", "antminer"),
    ("bmminer", "antminer"),
)
# Fields only one family's summary carries (version replies can be bare cgminer)
_SUMMARY_KEYS: tuple[tuple[str, str], ...] = (
    ("Factory GHS", "whatsminer"),
    ("Power_RT", "whatsminer"),
    ("Chip Temp Max", "whatsminer"),
)
DETECT_COMMANDS = ("version", "devdetails")


def _text(reply: dict[str, Any] | ApiError | None) -> str:
    if not isinstance(reply, dict):
        return ""
    return json.dumps(reply).lower()


def detect(replies: dict[str, dict[str, Any] | ApiError]) -> str | None:
    """The family named by the replies to DETECT_COMMANDS (and `summary` if
    given), or None when nothing identifies it."""
    for cmd in ("version", "devdetails"):
        text = _text(replies.get(cmd))
        for marker, family in _MARKERS:
            if marker in text:
                return family
    summary = replies.get("summary")
    if isinstance(summary, dict):
        row = (summary.get("SUMMARY") or [{}])[0]
        for key, family in _SUMMARY_KEYS:
            if isinstance(row, dict) and key in row:
                return family
        st = status_of(summary)
        desc = st.description.lower() if st else ""
        for marker, family in _MARKERS:
            if marker in desc:
                return family
    return None
