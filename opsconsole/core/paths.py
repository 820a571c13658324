"""Where shipped resources and per-site data live."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The shipped `resources/` folder: from the environment, a frozen bundle,
    or the source tree (editable installs)."""
    env = os.environ.get("OPSCONSOLE_RESOURCES")
    if env:
        return Path(env)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    here = Path(__file__).resolve().parent.parent  # opsconsole/
    for cand in (here.parent / "resources", here / "resources"):
        if cand.is_dir():
            return cand
    return here.parent / "resources"


def profiles_dir() -> Path:
    return resources_dir() / "profiles"


def default_data_dir(site_name: str, site_path: Path | None) -> Path:
    """A per-site folder under the user's data directory."""
    from platformdirs import user_data_dir

    key = str(site_path.resolve()) if site_path else site_name
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in site_name.lower())[:40]
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return Path(user_data_dir("opsconsole", appauthor=False)) / "sites" / f"{slug}-{digest}"
