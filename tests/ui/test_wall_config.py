"""The `[wall]` table of the site file: defaults, values, and errors named
like every other key's."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.core.errors import ConfigError
from opsconsole.core.siteload import load_site
from opsconsole.core.wallconfig import WALL_PAGES, WallConfig
from tests.ui.wall_support import one_miner_site

SITE = one_miner_site("Wall test")


def load(tmp_path: Path, extra: str = ""):
    path = tmp_path / "site.toml"
    path.write_text(SITE + extra)
    return load_site(path)


def errors(tmp_path: Path, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, extra)
    return exc.value.errors


def test_wall_defaults(tmp_path):
    assert load(tmp_path).wall == WallConfig(rotate_s=15.0, pages=WALL_PAGES)


def test_wall_values(tmp_path):
    site = load(tmp_path, '[wall]\nrotate_s = 30\npages = ["alarms", "totals"]\n')
    assert site.wall == WallConfig(rotate_s=30.0, pages=("alarms", "totals"))


@pytest.mark.parametrize(("extra", "where", "says"), [
    ("[wall]\nrotate_s = 1\n", "wall.rotate_s", "out of range"),
    ("[wall]\nrotate_s = 7200\n", "wall.rotate_s", "out of range"),
    ('[wall]\nrotate_s = "fast"\n', "wall.rotate_s", "expected a number"),
    ("[wall]\nrotat_s = 20\n", "wall.rotat_s", 'did you mean "rotate_s"'),
    ('[wall]\npages = ["totals", "rackmapp"]\n', "wall.pages[1]", 'did you mean "rackmap"'),
    ('[wall]\npages = ["totals", "totals"]\n', "wall.pages[1]", "listed twice"),
    ("[wall]\npages = []\n", "wall.pages", "non-empty list"),
    ('[wall]\npages = "totals"\n', "wall.pages", "non-empty list"),
])
def test_wall_errors_name_the_key(tmp_path, extra, where, says):
    lines = errors(tmp_path, extra)
    assert len(lines) == 1, lines
    assert where in lines[0] and says in lines[0], lines[0]


def test_every_wall_page_has_a_widget():
    """The schema (core/wallconfig.py) and the wall's pages name the same pages."""
    from opsconsole.ui.wall.window import PAGE_TYPES

    assert tuple(PAGE_TYPES) == WALL_PAGES
