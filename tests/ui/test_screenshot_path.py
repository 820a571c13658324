"""`--screenshot PNG` on a path that cannot be written: exit 2 at once with
one line naming the path, no traceback, for the console and the wall."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsconsole.ui.screenshot import unwritable


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may write into, root included (root ignores mode
    bits, so as root the folder is made immutable)."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(d)], check=True)
        yield d
        subprocess.run(["chattr", "-i", str(d)], check=True)
    else:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)


def bad_paths(tmp_path: Path, read_only_dir: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "a-dir.png").mkdir()
    (tmp_path / "plain-file").write_text("x")
    return {
        "missing folder": (tmp_path / "nope" / "shot.png", "does not exist"),
        "a directory": (tmp_path / "a-dir.png", "is a directory"),
        "parent is a file": (tmp_path / "plain-file" / "shot.png", "is not a folder"),
        "read-only folder": (read_only_dir / "shot.png", "cannot be written"),
    }


def test_unwritable_names_the_problem(tmp_path, read_only_dir):
    for label, (path, says) in bad_paths(tmp_path, read_only_dir).items():
        problem = unwritable(path)
        assert problem is not None and str(path) in problem and says in problem, label
    good = tmp_path / "fine.png"
    assert unwritable(good) is None
    assert not good.exists(), "the check must not leave an empty file behind"
    (tmp_path / "old.png").write_bytes(b"keep")
    assert unwritable(tmp_path / "old.png") is None
    assert (tmp_path / "old.png").read_bytes() == b"keep", "an existing file is not truncated"


@pytest.mark.parametrize("mode", [["--demo"], ["--wall", "--demo"]])
def test_screenshot_to_an_unwritable_path_exits_2_at_once(tmp_path, read_only_dir, mode):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "XDG_DATA_HOME": str(tmp_path / "d")}
    for label, (path, says) in bad_paths(tmp_path, read_only_dir).items():
        proc = subprocess.run([sys.executable, "-m", "opsconsole", *mode, "--screenshot",
                               str(path)], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (label, proc.stderr[-1000:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and says in lines[0], (label, lines)
        assert "Traceback" not in proc.stderr
