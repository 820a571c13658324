"""A site file loaded off the GUI thread, and watched while broken.

The load runs on a helper thread, so a big file (20,000 devices parse in
seconds), or a file that blocks (a FIFO), never holds back the first frame or
freezes the window. The console loads once; the wall, when the file cannot
be loaded, keeps checking: every CHECK_S it compares the file's signature
(and its `profiles/` folder's) with the one of the failed load, and loads
again only when something changed."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from opsconsole.core.errors import ConfigError
from opsconsole.core.site import Site

log = logging.getLogger(__name__)

CHECK_S = 2.0
Signature = tuple[tuple[str, int, int, int, int], ...]


def _stat(path: Path) -> tuple[str, int, int, int, int]:
    """Enough to see an edit, a replacement (new inode) or a deletion, without
    opening the file (a FIFO would block an open)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return (str(path), -1, exc.errno or 0, 0, 0)
    return (str(path), st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns)


def signature(path: Path) -> Signature:
    """The site file and the profiles beside it (a fixed profile fixes a site)."""
    parts = [_stat(path)]
    profiles = path.parent / "profiles"
    parts.append(_stat(profiles))
    try:
        names = sorted(os.listdir(profiles)) if profiles.is_dir() else []
    except OSError:
        names = []
    parts += [_stat(profiles / n) for n in names if n.endswith(".toml")]
    return tuple(parts)


def load_problems(path: Path, load: Callable[[Path], Site]) -> Site | list[str]:
    """The site, or the loader's one-line problems (file, key path, problem)."""
    try:
        return load(path)
    except ConfigError as exc:
        return list(exc.errors) or [f"{path}: invalid site file"]
    except OSError as exc:
        return [f"{path}: {exc.strerror or exc}"]
    except Exception as exc:  # a loader bug must not take the wall down with it
        log.exception("loading %s failed", path)
        return [f"{path}: internal error while loading ({type(exc).__name__})"]


class SiteFileWatch(QObject):
    """Loads `path` on a helper thread now, and again whenever its signature
    changes while `watching`. Emits `loaded(Site)` or `problems(list[str])`
    on the GUI thread."""

    loaded = Signal(object)  # Site
    problems = Signal(list)  # one line each
    _done = Signal(object, object)  # (signature, Site | list[str]) from the helper thread

    def __init__(self, path: Path, load: Callable[[Path], Site],
                 check_s: float = CHECK_S, parent: QObject | None = None):
        super().__init__(parent)
        self.path = path
        self._load = load
        self.loading = False
        self.watching = False
        self.checked_at: float | None = None
        self.checks = 0  # signature comparisons: tests count them, never time them
        self._last: Signature | None = None
        self._closed = False
        self._done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._timer = QTimer(self)
        self._timer.setInterval(round(check_s * 1000))
        self._timer.timeout.connect(self.check)

    def load_now(self) -> None:
        """Load whatever the file holds now (a first start, or a restart)."""
        if self.loading or self._closed:
            return
        self.loading = True
        sig = signature(self.path)
        threading.Thread(target=self._run, args=(sig,), name="site-load", daemon=True).start()

    def _run(self, sig: Signature) -> None:  # helper thread
        result = load_problems(self.path, self._load)
        if not self._closed:
            with contextlib.suppress(RuntimeError):  # this QObject is already gone
                self._done.emit(sig, result)

    def _on_done(self, sig: Signature, result: Site | list[str]) -> None:
        self.loading = False
        if self._closed:
            return
        self._last = sig
        self.checked_at = time.time()
        if isinstance(result, list):
            self.watching = True
            self._timer.start()
            self.problems.emit(result)
        else:
            self.watching = False
            self._timer.stop()
            self.loaded.emit(result)

    def check(self) -> None:
        """While broken: load again only when the file (or a profile) changed."""
        if not self.watching or self.loading or self._closed:
            return
        self.checks += 1
        self.checked_at = time.time()
        if signature(self.path) != self._last:
            log.info("%s changed; loading it again", self.path)
            self.load_now()

    def close(self) -> None:
        self._closed = True
        self._timer.stop()
