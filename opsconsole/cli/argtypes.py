"""argparse types with ranges: a value out of range is bad usage (exit 2, one
line naming the option), never a failure later (a port that cannot bind, a
negative limit that reads as "all", a negative wait)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({lo}..{hi})")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(lo: float, hi: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range ({lo:g}..{hi:g})")
        return value

    parse.__name__ = "number"
    return parse


PORT = int_range(1, 65535)
