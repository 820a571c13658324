"""The one place packaging reads the application's identity from: pyproject.toml.

`[project]` gives name, version, description and license; `[tool.opsconsole]`
gives what only installers need (display name, icon, bundle id, maintainer).
Every build script asks this file instead of repeating a value:

    python packaging/meta.py --shell        # APP_NAME=... lines for `eval` (sh)
    python packaging/meta.py --get version  # one value
    python packaging/meta.py --json         # all of them (PowerShell: ConvertFrom-Json)

The PyInstaller spec imports it. Standard library only (tomllib: Python >= 3.11).
"""

from __future__ import annotations

import json
import shlex
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(root: Path = ROOT) -> dict[str, str]:
    with open(root / "pyproject.toml", "rb") as f:
        data = tomllib.load(f)
    project = data["project"]
    tool = data.get("tool", {}).get("opsconsole", {})
    name = project["name"]
    return {
        "name": name,
        "version": project["version"],
        "description": project.get("description", ""),
        "license": project.get("license", ""),
        "display_name": tool.get("display-name", name),
        "icon": str(root / tool.get("icon", f"resources/icons/{name}.svg")),
        "bundle_id": tool.get("bundle-id", f"org.{name}.{name}"),
        "maintainer": tool.get("maintainer", f"{name} maintainers"),
        "homepage": tool.get("homepage", ""),
        "root": str(root),
    }


def main(argv: list[str]) -> int:
    meta = load()
    if argv[:1] == ["--shell"]:
        for key, value in meta.items():
            print(f"APP_{key.upper()}={shlex.quote(value)}")
    elif argv[:1] == ["--json"]:
        print(json.dumps(meta, indent=2))
    elif len(argv) == 2 and argv[0] == "--get" and argv[1] in meta:
        print(meta[argv[1]])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
