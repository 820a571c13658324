"""Where shipped resources live (per-site data: core.datadir)."""

from __future__ import annotations

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


SYSTEM_SITE_FILE = Path("/etc/opsconsole/site.toml")


def default_site_file() -> Path:
    """The machine's site file (the kiosk wall's and the service unit's):
    `OPSCONSOLE_SITE_FILE` where set, else /etc/opsconsole/site.toml."""
    env = os.environ.get("OPSCONSOLE_SITE_FILE")
    return Path(env) if env else SYSTEM_SITE_FILE
