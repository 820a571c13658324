"""Time to the first frame of a GUI start, on site files `check-config`
accepts, shaped to be hard on start-up: many devices, many groups (one tile
each), many racks. No agents: nothing answers, which costs the first frame
nothing (the collector starts on its own thread). Each start is its own
process, timed from before Qt is imported.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/first_frame.py [--devices 20000]

Per shape and window (console, wall): the first painted frame, and the first
frame of the site itself (the console, or the wall's pages). Goal (issue 13):
first frame under 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()  # before Qt is imported

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.fixtures.sites import LAN, device_toml  # noqa: E402

GOAL_S = 3.0
GIVE_UP_S = 60.0


def site_file(path: Path, devices: int, per_group: int, per_rack: int) -> Path:
    """Miners on loopback ports nobody listens on, `per_group` to a group."""
    out = ['[site]', f'name = "first-frame {devices}/{per_group}"', "poll_interval_s = 30", "",
           LAN]
    for g in range((devices + per_group - 1) // per_group):
        out += ["", "[[groups]]", f'id = "g{g:05d}"', f'name = "Group {g}"', 'duty = "mining"']
        for k in range(g * per_group, min(devices, (g + 1) * per_group)):
            out.append(device_toml(f"m{k:05d}", "miner", f"127.0.0.1:{20000 + k % 40000}",
                                   "sim-miner", "lan", rack=f"R{k // per_rack}",
                                   position=k % per_rack + 1))
    path.write_text("\n".join(out) + "\n")
    return path


def child(config: Path, wall: bool, result: Path) -> int:
    """One GUI start on `config`; the marks as JSON in `result`."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    from opsconsole.ui import app as gui

    marks: dict[str, float] = {}
    make_app = gui._app

    def site_shown() -> bool:
        win = next((w for w in app.topLevelWidgets() if w.isVisible()), None)
        if win is None:
            return False
        if wall:
            return bool(getattr(win, "pages", None)) and not getattr(win, "problems", [])
        return getattr(win, "console", None) is not None

    class Frames(QObject):
        def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
            if ev.type() == QEvent.Type.Paint:
                now = time.perf_counter() - T0
                marks.setdefault("first_frame_s", now)
                if "site_frame_s" not in marks and site_shown():
                    marks["site_frame_s"] = now
                    QTimer.singleShot(0, app.quit)
            return False

    frames = Frames()

    def app_with_spy():  # type: ignore[no-untyped-def]
        a = make_app()
        a.installEventFilter(frames)
        return a

    gui._app = app_with_spy
    app = app_with_spy()
    QTimer.singleShot(int(GIVE_UP_S * 1000), app.quit)
    from opsconsole.cli.main import build_parser

    work = Path(tempfile.mkdtemp(prefix="opsconsole-ff-"))
    argv = ["--config", str(config), "--data-dir", str(work / "data")]
    args = build_parser().parse_args(argv + (["--wall"] if wall else []))
    gui.run_gui(args)
    result.write_text(json.dumps(marks))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=20000)
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--wall", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.child is not None:
        return child(args.child, args.wall, args.result)
    n = args.devices
    shapes = {  # name: (devices per group, devices per rack)
        f"{n} devices, groups of 40": (40, 20),
        f"{n} devices, one group each": (1, 20),
        f"{n} devices, one group, one rack each": (n, 1),
    }
    work = Path(tempfile.mkdtemp(prefix="opsconsole-ff-"))
    rows = []
    for k, (name, (per_group, per_rack)) in enumerate(shapes.items()):
        t = time.perf_counter()
        config = site_file(work / f"site-{k}.toml", n, per_group, per_rack)
        check = subprocess.run([sys.executable, "-m", "opsconsole", "check-config", str(config)],
                               capture_output=True, text=True)
        check_s = time.perf_counter() - t
        if check.returncode != 0:
            rows.append((name, "-", f"check-config exit {check.returncode}: "
                         f"{check.stderr.strip().splitlines()[:1]}", "", ""))
            continue
        for wall in (False, True):
            result = work / "result.json"
            result.unlink(missing_ok=True)
            argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(config),
                    "--result", str(result)] + (["--wall"] if wall else [])
            subprocess.run(argv, cwd=ROOT, timeout=GIVE_UP_S + 60)
            marks = json.loads(result.read_text()) if result.exists() else {}
            rows.append((name, "wall" if wall else "console",
                         f"{check_s:.1f} s (write + check-config)",
                         f"{marks.get('first_frame_s', float('nan')):.2f} s",
                         f"{marks.get('site_frame_s', float('nan')):.2f} s"))
    print(f"\nfirst frame (goal {GOAL_S:g} s), load {os.getloadavg()[0]:.2f}")
    print(f"{'site file':44} {'window':8} {'first frame':>12} {'site shown':>11}")
    for name, window, _check, first, shown in rows:
        print(f"{name:44} {window:8} {first:>12} {shown:>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
