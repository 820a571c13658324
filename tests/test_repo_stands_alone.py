"""Nothing in the repository points outside it: a user who clones it has no
design notes beside it, so docs and comments name files in the repo only."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLACES = ("opsconsole", "tests", "bench", "docs", "packaging", "resources", ".ci",
          "README.md", "pyproject.toml", "dev.sh")
SUFFIXES = {".py", ".md", ".toml", ".sh", ".txt", ".desktop", ".spec", ".cfg", ""}
# spelled in pieces so that this file does not match itself
OUTSIDE = ("../" + "shared", "/work/" + "shared", "DESIGN" + ".md", "FIELD-" + "NOTES")


def repo_files() -> list[Path]:
    out: list[Path] = []
    for place in PLACES:
        p = ROOT / place
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        out += [f for f in files if f.suffix in SUFFIXES and "__pycache__" not in f.parts]
    return out


def test_nothing_points_outside_the_repo() -> None:
    files = repo_files()
    assert any(f.name == "architecture.md" for f in files)
    hits = [f"{f.relative_to(ROOT)}: {ref}" for f in files
            for ref in OUTSIDE if ref in f.read_text(encoding="utf-8", errors="replace")]
    assert hits == []
