"""The `[wall]` table of a site file: which pages the read-only wall display
(opsconsole --wall, opsconsole/ui/wall/) shows, in order, and how long each
stays. No Qt here: the site loader validates it, the wall window reads it.
A new wall page is a name in WALL_PAGES plus its widget in ui/wall/window.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opsconsole.core.profileload import (
    Problems,
    check_keys,
    hint,
    quoted,
    want_number,
    want_table,
)

WALL_PAGES = ("totals", "rackmap", "charts", "alarms")
ROTATE_RANGE_S = (3, 3600)


@dataclass(frozen=True, slots=True)
class WallConfig:
    rotate_s: float = 15.0
    pages: tuple[str, ...] = WALL_PAGES

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return ("rotate_s", "pages")

    @classmethod
    def parse(cls, data: dict[str, Any], probs: Problems) -> WallConfig:
        """From the site file's top level: `[wall]` if present; a bad value
        is reported and keeps its default."""
        t = want_table(data, "wall", "", probs)
        if t is None:
            return cls()
        check_keys(t, cls.keys(), "wall", probs)
        lo, hi = ROTATE_RANGE_S
        rotate = want_number(t, "rotate_s", "wall", probs, lo=lo, hi=hi)
        pages = _pages(t["pages"], probs) if "pages" in t else None
        out = cls()
        return cls(rotate_s=out.rotate_s if rotate is None else rotate,
                   pages=pages or out.pages)


def _pages(pages: object, probs: Problems) -> tuple[str, ...] | None:
    """Page names from WALL_PAGES, no repeats; None after a problem."""
    if not isinstance(pages, list) or not pages:
        probs.add("wall.pages", f"expected a non-empty list of page names ({quoted(WALL_PAGES)})")
        return None
    names: list[str] = []
    for i, name in enumerate(pages):
        kpath = f"wall.pages[{i}]"
        if not isinstance(name, str) or name not in WALL_PAGES:
            extra = hint(name, WALL_PAGES) if isinstance(name, str) else ""
            probs.add(kpath, f"unknown page {name!r}: expected one of {quoted(WALL_PAGES)}{extra}")
        elif name in names:
            probs.add(kpath, f'page "{name}" is listed twice')
        else:
            names.append(name)
    return tuple(names) if len(names) == len(pages) else None
