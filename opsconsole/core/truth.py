"""The words for a number built on partial data, shared by the CLI, the
console and the wall: a sum over devices of which some are silent is a lower
bound, and says how many are missing."""

from __future__ import annotations


def not_answering(n: int) -> str:
    """ "210 devices not answering", "1 device not answering"."""
    return f"{n:,} device{'' if n == 1 else 's'} not answering"


def at_least(text: str, missing: int) -> str:
    """ ">= 2.3 kW, 210 devices not answering" for a sum missing some devices;
    `text` unchanged when nothing is missing."""
    if missing <= 0:
        return text
    return f">= {text}, {not_answering(missing)}"
