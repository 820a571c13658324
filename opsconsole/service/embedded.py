"""The service as a GUI's child (`opsconsole serve --session-token-stdin`):
what `opsconsole --config FILE` and `--demo` start on loopback.

- The one-time token arrives as the first line of stdin, never in argv
  (which `ps` shows) or the environment; it is kept in memory, hashed.
- stdin stays open for as long as the GUI lives: its end (the GUI exited,
  or crashed, or was killed) stops the service, so no child outlives it.
- A discovery file, `service.json` in the site's data dir (mode 0600, created
  exclusively: the data dir belongs to the user), says where it listens, its
  pid and the token, so a second window of the same user on the same site
  connects instead of polling the site twice. It is removed on a clean stop;
  a stale one (its pid gone) is replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

DISCOVERY = "service.json"
TOKEN_MAX = 512


class EmbeddedError(Exception):
    """No token on stdin, or a discovery file another live service holds (one line)."""


def read_session_token(stream: TextIO | None = None) -> str:
    stream = stream or sys.stdin
    line = stream.readline(TOKEN_MAX + 2).strip()
    if not line or len(line) > TOKEN_MAX:
        raise EmbeddedError("--session-token-stdin: no token on the first line of stdin")
    return line


def watch_stdin(on_end: Callable[[], None], stream: TextIO | None = None) -> threading.Thread:
    """Call on_end (from a thread) when stdin ends: the parent is gone."""
    stream = stream or sys.stdin

    def run() -> None:
        with contextlib.suppress(OSError, ValueError):
            while stream.readline():
                pass
        on_end()

    t = threading.Thread(target=run, name="parent-watch", daemon=True)
    t.start()
    return t


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def read_discovery(data_dir: Path) -> dict[str, Any] | None:
    """The running service of this data dir, if its file is ours, private and its pid alive."""
    path = Path(data_dir) / DISCOVERY
    try:
        st = path.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None  # not written by this user's service: never trust its token
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("pid"), int):
        return None
    if not pid_alive(doc["pid"]) or not all(isinstance(doc.get(k), str)
                                            for k in ("url", "token")):
        return None
    return doc


def write_discovery(data_dir: Path, url: str, token: str, site: str) -> Path:
    path = Path(data_dir) / DISCOVERY
    if read_discovery(data_dir) is not None:
        raise EmbeddedError(f"{path}: another service of this site runs "
                            f"(pid {read_discovery(data_dir)['pid']})")  # type: ignore[index]
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # stale: its service is gone
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"url": url, "pid": os.getpid(), "token": token, "site": site}, f)
    return path


def remove_discovery(path: Path) -> None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
