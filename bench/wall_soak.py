"""Wall soak: `opsconsole --wall` on the demo site for a long run, showing
that memory stays flat. Accelerated: a 1 s poll interval and a page change
every second, so ten minutes cover 600 poll cycles and 150 full rotations;
halfway through, the collector is killed once and the wall must restart it.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/wall_soak.py [--duration 600]

Prints RSS and the number of Python objects (gc.get_objects(), after a
collection) at the start (after a warm-up) and the end, a few samples in
between, and the growth. The SNMP agents run in-process, as for --demo.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before the start figures (default: 10 %% of the run, >= 15)")
    ap.add_argument("--poll", type=float, default=1.0, help="poll interval, s (default 1)")
    ap.add_argument("--rotate", type=float, default=1.0, help="page change, s (default 1)")
    ap.add_argument("--no-outage", action="store_true", help="do not kill the collector")
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else max(15.0, 0.1 * args.duration)

    import logging

    logging.basicConfig(level=logging.INFO, format="  %(asctime)s %(message)s",
                        datefmt="%H:%M:%S")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from opsconsole.sim.site import SimSite
    from opsconsole.ui import theme as themes
    from opsconsole.ui.main_window import DEMO_GPUS, DEMO_HYBRID_MINERS, DEMO_MINERS
    from opsconsole.ui.wall.window import WallWindow

    class FastDemo(SimSite):  # the demo site, polled every args.poll seconds
        def site_toml(self, nvml_simulated: bool = True) -> str:
            return super().site_toml(nvml_simulated).replace(
                "poll_interval_s = 10", f"poll_interval_s = {args.poll:g}", 1)

    def demo() -> SimSite:
        return FastDemo(miners=DEMO_MINERS, gpus=DEMO_GPUS, seed=1,
                        hybrid_miners=DEMO_HYBRID_MINERS)

    app = QApplication(sys.argv[:1])
    themes.apply(app, themes.DARK)
    win = WallWindow(demo_factory=demo, rotate_s=args.rotate,
                     data_dir=Path(tempfile.mkdtemp(prefix="wall-soak-")) / "data")
    win.resize(1920, 1080)
    win.show()
    t0 = time.monotonic()
    state: dict = {"samples": [], "start": None, "outage": False, "stale_seen": False}

    def sample(label: str) -> tuple[float, float, int]:
        s = (time.monotonic() - t0, rss_mb(), objects())
        taken = win.session.readings_in if win.session is not None else 0
        state["samples"].append((label, *s))
        state["readings"] = taken
        print(f"{label:>8}  t={s[0]:6.0f} s  RSS {s[1]:7.1f} MB  objects {s[2]:,}  "
              f"readings {taken:,}  stale {'yes' if win.fresh.stale else 'no'}", flush=True)
        return s

    def check() -> None:
        el = time.monotonic() - t0
        state["stale_seen"] |= win.banner.isVisible() and state["outage"]
        if state["start"] is None and el >= warmup:
            state["start"] = sample("start")
        elif state["start"] is not None:
            span = args.duration - warmup
            k = len(state["samples"])
            if k < 4 and el >= warmup + span * k / 4:
                sample(f"{25 * k} %")
        if (not args.no_outage and not state["outage"] and el >= warmup + 0.5 * (
                args.duration - warmup) and win.bridge is not None):
            state["outage"] = True
            print("  outage: stopping the collector (the wall must restart it)", flush=True)
            win.bridge.runtime.stop()
        if el >= args.duration:
            sample("end")
            app.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(500)
    print(f"wall soak: {args.duration:g} s, poll every {args.poll:g} s, page change every "
          f"{args.rotate:g} s, warm-up {warmup:g} s, pid {os.getpid()}", flush=True)
    win.open_demo()
    app.exec()
    readings = state.get("readings", 0)  # quit() has closed the window by now
    restarts = win.restarts
    win.close()
    (_l, _t, rss0, obj0), (_l2, _t2, rss1, obj1) = state["samples"][0], state["samples"][-1]
    print()
    print(f"readings taken in: {readings:,}   collector restarts: {restarts}   "
          f"stale banner during the outage: {'yes' if state['stale_seen'] else 'no'}")
    print(f"RSS      start {rss0:7.1f} MB  end {rss1:7.1f} MB  growth {rss1 - rss0:+.1f} MB "
          f"({100 * (rss1 - rss0) / rss0:+.1f} %)")
    print(f"objects  start {obj0:,}  end {obj1:,}  growth {obj1 - obj0:+,} "
          f"({100 * (obj1 - obj0) / obj0:+.2f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
