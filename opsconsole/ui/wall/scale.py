"""Sizes for the wall, derived from the screen, never fixed pixels.

One base unit is the screen height / 54 (20 px at 1080 lines, 40 px at
2160): every font and margin is a multiple of it, so a 4K wall shows the same
layout at twice the pixels instead of a small island of text."""

from __future__ import annotations

from dataclasses import dataclass

ROWS_PER_SCREEN = 54
MIN_UNIT = 10  # a small test window stays legible rather than collapsing


@dataclass(frozen=True, slots=True)
class WallScale:
    unit: int  # px

    @classmethod
    def for_height(cls, height_px: int) -> WallScale:
        return cls(max(MIN_UNIT, round(height_px / ROWS_PER_SCREEN)))

    def px(self, units: float) -> int:
        return max(1, round(self.unit * units))

    # Type ramp, in units: at 1080p 1 unit is ~13 mm on a 55" panel; values
    # read from five metres need several times that.
    @property
    def body(self) -> int:
        return self.px(1.1)

    @property
    def caption(self) -> int:
        return self.px(0.9)

    @property
    def value(self) -> int:
        return self.px(2.6)

    @property
    def hero(self) -> int:
        return self.px(3.0)

    @property
    def clock(self) -> int:
        return self.px(2.0)

    @property
    def pen(self) -> int:
        return self.px(0.16)  # chart line width: 3 px at 1080p, 6 px at 4K
