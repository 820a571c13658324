"""Which folder holds a site's journal, audit, history and alarm log.

One site must have one data dir, whoever starts the console, the wall or a
CLI command and from whichever copy of the site file: two folders mean two
journals, two duty locks and two audits, and a wall showing duties that are
no longer true. So the folder is chosen in one place:

1. `--data-dir DIR` (the caller's override);
2. `[site] data_dir` in the site file (relative to the site file's folder);
3. the default, keyed by the site's *name* only, under one root:
   `$OPSCONSOLE_DATA_ROOT`, else `/var/lib/opsconsole` when it exists (the
   .deb creates it, shared by the `opsconsole` group), else the OS user's data
   dir (platformdirs).

Every folder used for a site is noted in the default folder's registry; when
another folder also holds this site's journal (a copy of the site file with
its own `data_dir`, an override, a folder from before this scheme), the
choice carries a one-line warning naming both paths.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from opsconsole.core.site import Site

SYSTEM_ROOT = Path("/var/lib/opsconsole")
REGISTRY = "data-dirs.json"  # in the default folder: every folder used for the site
JOURNAL = "duty.sqlite"
OVERRIDE, SITE_FILE, DEFAULT = "--data-dir", "site file", "default"


def data_root() -> Path:
    env = os.environ.get("OPSCONSOLE_DATA_ROOT")
    if env:
        return Path(env)
    if SYSTEM_ROOT.is_dir():
        return SYSTEM_ROOT
    from platformdirs import user_data_dir

    return Path(user_data_dir("opsconsole", appauthor=False)) / "sites"


def site_slug(name: str) -> str:
    """A folder name for a site: readable, and unique per name (the hash)."""
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower())[:40]
    return f"{slug}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def default_data_dir(site_name: str) -> Path:
    return data_root() / site_slug(site_name)


@dataclass(frozen=True, slots=True)
class DataDir:
    path: Path
    source: str  # OVERRIDE | SITE_FILE | DEFAULT
    others: tuple[Path, ...] = ()  # other folders holding this site's journal
    site: str = ""

    @property
    def warning(self) -> str | None:
        if not self.others:
            return None
        more = ", ".join(str(p) for p in self.others)
        return (f'site "{self.site}" has two data dirs: {self.path} (in use, from the '
                f"{self.source}) and {more}: their duty journals, switch locks and audits "
                "are not shared; keep one (set [site] data_dir in every copy of the site file)")


def resolve_data_dir(site: Site, override: Path | None = None) -> DataDir:
    """The site's data dir and any other folder that holds its journal."""
    default = default_data_dir(site.name)
    site_dir = getattr(site, "data_dir", None)
    if override is not None:
        path, source = Path(override), OVERRIDE
    elif site_dir is not None:
        path, source = Path(site_dir), SITE_FILE
    else:
        path, source = default, DEFAULT
    path = _absolute(path)
    known = _read_registry(default)
    if path != default:
        _register(default, path, known)
    candidates = {*known, default, *_legacy_dirs(site.name)}
    others = tuple(sorted(p for p in candidates if p != path and (p / JOURNAL).is_file()))
    return DataDir(path, source, others, site.name)


def _absolute(p: Path) -> Path:
    try:
        return p.expanduser().resolve()
    except OSError:
        return p.expanduser().absolute()


def _read_registry(default: Path) -> set[Path]:
    try:
        data = json.loads((default / REGISTRY).read_text(encoding="utf-8"))
        return {Path(p) for p in data.get("dirs", []) if isinstance(p, str)}
    except (OSError, ValueError, AttributeError):
        return set()


def _register(default: Path, path: Path, known: set[Path]) -> None:
    """Best effort: a registry that cannot be written only loses the warning."""
    if path in known:
        return
    with contextlib.suppress(OSError):
        default.mkdir(parents=True, exist_ok=True)
        tmp = default / f".{REGISTRY}.{os.getpid()}"
        tmp.write_text(json.dumps({"dirs": sorted(str(p) for p in {*known, path})}),
                       encoding="utf-8")
        os.replace(tmp, default / REGISTRY)


def _legacy_dirs(site_name: str) -> list[Path]:
    """Folders of the earlier scheme (keyed by the site file's absolute path):
    `<user data>/sites/<slug>-<hash of the path>`."""
    from platformdirs import user_data_dir

    root = Path(user_data_dir("opsconsole", appauthor=False)) / "sites"
    slug = site_slug(site_name).rsplit("-", 1)[0]
    try:
        return [p for p in root.glob(f"{slug}-*")
                if p.is_dir() and len(p.name) == len(slug) + 9]
    except OSError:
        return []
