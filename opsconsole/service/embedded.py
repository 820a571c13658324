"""The service as a GUI's child (`opsconsole serve --session-token-stdin`):
what `opsconsole --config FILE` and `--demo` start on loopback.

- The one-time token arrives as the first line of stdin, never in argv
  (which `ps` shows) or the environment; it is kept in memory, hashed.
- stdin stays open for as long as the GUI lives. Its end (the GUI exited,
  or crashed, or was killed) stops the service, unless other windows of
  the site joined it meanwhile (their push streams are open): then it goes
  on for them, says so on stdout (`{"detached": true}`, so the starter does
  not wait for it), writes its log to `service.log` in the data dir from
  then on, and stops once no window has been connected for LINGER_S. A
  joined window thus keeps its site when the one that started it closes.
- A discovery file, `service.json` in the site's data dir (mode 0600, created
  exclusively: the data dir belongs to the user), says where it listens, its
  pid and the token, so a second window of the same user on the same site
  connects instead of polling the site twice. It is removed on a clean stop;
  a stale one (its pid gone) is replaced.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

DISCOVERY = "service.json"
LOG_NAME = "service.log"  # the log of a service that outlives its starter
TOKEN_MAX = 512
PARENT_GRACE_S = 3.0  # the starter's own stream closes with it: wait that long for it
LINGER_S = 10.0  # no window connected this long (not even reconnecting): stop


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


async def outlive_parent(clients: Callable[[], int], data_dir: Path,
                         out: TextIO | None = None) -> None:
    """Returns when the service should stop, the starter being gone: at once
    if no other window is connected, else when the last one has gone for
    LINGER_S."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + PARENT_GRACE_S
    while clients() > 0 and loop.time() < deadline:
        await asyncio.sleep(0.1)
    if clients() == 0:
        return
    log = logging.getLogger(__name__)
    log.info("the window that started this service closed; %d other window(s) use it: "
             "going on for them (log: %s)", clients(), Path(data_dir) / LOG_NAME)
    with contextlib.suppress(OSError, ValueError):
        print(json.dumps({"detached": True, "pid": os.getpid()}), file=out or sys.stdout,
              flush=True)
    _log_to_file(Path(data_dir) / LOG_NAME)
    idle_since: float | None = None
    while True:
        await asyncio.sleep(0.5)
        if clients() > 0:
            idle_since = None
        elif idle_since is None:
            idle_since = loop.time()
        elif loop.time() - idle_since >= LINGER_S:
            log.info("no window has used this service for %.0f s: stopping", LINGER_S)
            return


def _log_to_file(path: Path) -> None:
    """stderr (the starter's terminal, gone with it) becomes the data dir's
    service.log: what the service says later is kept, and never hits a
    closed pipe."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        sys.stderr.flush()
        os.dup2(fd, 2)
        os.close(fd)

