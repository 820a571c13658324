"""GUI benchmark: the main window on simulated sites of 5,000 / 10,000 /
20,000 miners (+ their PDUs, + 8 GPUs) polled every 30 s, measuring what an
operator feels, each size in its own GUI process, one table at the end.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_bench.py \
        [--sizes 5000,10000,20000] [--interval 30] [--duration 90]

Per size:
- event-loop stalls: a 5 ms precise QTimer's lateness (p50, p99, max), from
  the first data to the end;
- time to first frame (window painted) and to first data shown, from the GUI
  process's start (before Qt is imported);
- peak RSS of the GUI process (GUI + collector thread, with the live store's
  hour of history allocated); the SNMP agents run in `opsconsole simulate`
  subprocesses, as they would on a site.

The simulator needs one UDP socket per device, and the open-files limit here
is 20,000, so a big site is served by several `opsconsole simulate` processes
(at most SIM_MAX_MINERS miners each, `--row-offset` keeping their rows
disjoint), whose site files are merged into one (`sim.site.merge_site_files`).

`--modes local,connected` runs each size twice against the same simulators:
`local`, the window polling in its own process (CollectorRuntime); then
`connected`, the window as `opsconsole --connect URL --token-file F` runs it
(MainWindow.open_remote, the RemoteRuntime and its client thread), against an
`opsconsole serve` process over the same site on loopback, started before the
window and measured once its first pass is done. The connected window's RSS is
the console process alone (the service is another process).

Goals (issue 6): p99 < 16 ms, max < 100 ms, first frame < 3 s, RSS < 1 GB;
connected (issue 10): the same stalls and first frame, first data < 5 s,
console RSS < 600 MB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()  # before Qt is imported: the start of "time to first frame"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {"p99_ms": 16.0, "max_ms": 100.0, "first_frame_s": 3.0, "rss_mb": 1024.0}
CONNECTED_GOALS = {**GOALS, "first_data_s": 5.0, "rss_mb": 600.0}
SERVICE_START_S = 600.0  # a service's first pass over 20,000 devices, on a loaded machine
SIM_MAX_MINERS = 12000  # per simulator: 12,000 miners + 600 PDUs sockets, under 20,000 fds
ROW = 40  # miners per row in the simulator: split on row boundaries


def start_simulators(miners: int, gpus: int, interval: float,
                     workdir: Path) -> tuple[list[subprocess.Popen], Path]:
    """Enough `opsconsole simulate` processes for `miners`, rows split between
    them, and their site files merged into workdir/site.toml."""
    from opsconsole.sim.site import merge_site_files

    k = max(1, math.ceil(miners / SIM_MAX_MINERS))
    per = math.ceil(miners / k / ROW) * ROW
    parts, procs, files = [], [], []
    left, row = miners, 0
    while left > 0 or not parts:
        n = min(per, left)
        parts.append((n, row))
        left -= n
        row += math.ceil(n / ROW)
    try:
        for j, (n, row) in enumerate(parts):
            cfg = workdir / f"sim-{j}.toml"
            last = j == len(parts) - 1
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "opsconsole", "simulate", "--miners", str(n),
                 "--gpus", str(gpus if last else 0), "--seed", str(j + 1),
                 "--row-offset", str(row), "--write-config", str(cfg)],
                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT))
            files.append(cfg)
        deadline = time.monotonic() + 300
        for proc, cfg in zip(procs, files, strict=True):
            while not cfg.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
                    raise SystemExit(f"simulator did not start: {err.strip()[-400:]}")
                time.sleep(0.1)
        time.sleep(0.5)  # the file is written after the agents listen; let it be complete
    except BaseException:
        stop_simulators(procs)
        raise
    config = workdir / "site.toml"
    config.write_text(merge_site_files([f.read_text(encoding="utf-8") for f in files],
                                       poll_interval_s=interval), encoding="utf-8")
    return procs, config


def stop_simulators(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="5000,10000,20000",
                    help="miner counts, comma-separated: one GUI process each, in turn")
    ap.add_argument("--miners", type=int, default=None, help="one size (same as --sizes N)")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--interval", type=float, default=30.0, help="poll interval, seconds")
    ap.add_argument("--duration", type=float, default=90.0, help="seconds after first data")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--screenshot", type=Path, help="save the window at the end (one size)")
    ap.add_argument("--stall-stacks", type=float, default=None, metavar="MS",
                    help="sample the GUI thread's stack during stalls longer than MS")
    ap.add_argument("--profile", type=Path, default=None, metavar="FILE",
                    help="cProfile the GUI thread into FILE (one size)")
    ap.add_argument("--timings", action="store_true",
                    help="time the GUI's main handlers (ingest slice, view refresh, paints)")
    ap.add_argument("--no-history", action="store_true",
                    help="diagnostic: do not write history (to see what the writer costs)")
    ap.add_argument("--switch-interval-ms", type=float, default=None,
                    help="override the GIL switch interval the GUI sets")
    ap.add_argument("--modes", default="local",
                    help="local (the window polls), connected (the window on an `opsconsole "
                         "serve` process), or both: local,connected")
    ap.add_argument("--config", type=Path, help=argparse.SUPPRESS)  # child: the site file
    ap.add_argument("--url", help=argparse.SUPPRESS)  # child: the service to connect to
    ap.add_argument("--token-file", type=Path, help=argparse.SUPPRESS)  # child: its token
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)  # child: JSON out
    return ap.parse_args(argv)


def main() -> int:
    args = parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.config is not None or args.url is not None:  # a child: one GUI
        work = Path(tempfile.mkdtemp(prefix="opsconsole-gui-"))
        return run(args, args.config, work, T0)
    sizes = [args.miners] if args.miners else [int(v) for v in args.sizes.split(",") if v]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in ("local", "connected") for m in modes):
        raise SystemExit(f"--modes {args.modes!r}: use local, connected or local,connected")
    results: list[dict] = []
    columns: list[str] = []
    for miners in sizes:
        for res in run_size(args, miners, modes):
            results.append(res)
            columns.append(f"{miners:,} {res['mode']}" if len(modes) > 1 else f"{miners:,}")
    print_table(args, columns, results)
    return 0 if all(r.get("ok") for r in results) else 1


def _child_argv(args: argparse.Namespace, target: list[str], result: Path,
                miners: int) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), *target,
            "--result", str(result), "--miners", str(miners), "--gpus", str(args.gpus),
            "--interval", str(args.interval), "--duration", str(args.duration),
            "--size", args.size]
    for opt in ("screenshot", "stall_stacks", "profile", "switch_interval_ms"):
        v = getattr(args, opt)
        if v is not None:
            argv += ["--" + opt.replace("_", "-"), str(v)]
    argv += [f for f, on in (("--timings", args.timings), ("--no-history", args.no_history))
             if on]
    return argv


def start_service(config: Path, work: Path) -> tuple[subprocess.Popen, str, Path]:
    """`opsconsole serve` over the site file on a free loopback port, a viewer
    token for the console; returns once its first pass is done."""
    import urllib.request

    from opsconsole.service.tokens import TokenBook
    from tests.fixtures.ports import free_tcp_port

    data = work / "service-data"
    token_file = work / "viewer.token"
    token_file.write_text(TokenBook(data).create("bench", "viewer") + "\n", encoding="utf-8")
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "serve", "--config",
                             str(config), "--data-dir", str(data), "--listen",
                             f"127.0.0.1:{port}"], cwd=ROOT, stdout=log, stderr=log)
    deadline = time.monotonic() + SERVICE_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"opsconsole serve exited {proc.returncode}: "
                             f"{(work / 'serve.log').read_text()[-400:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
                if json.loads(r.read()).get("polled"):
                    return proc, url, token_file
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"opsconsole serve: no first pass in {SERVICE_START_S:.0f} s")


def run_size(args: argparse.Namespace, miners: int, modes: list[str]) -> list[dict]:
    """Every mode's GUI process in turn, against the same simulators."""
    import psutil

    work = Path(tempfile.mkdtemp(prefix="opsconsole-bench-"))
    print(f"\n== {miners} miners: starting simulators (load {os.getloadavg()[0]:.2f})",
          flush=True)
    sims, config = start_simulators(miners, args.gpus, args.interval, work)
    sim_ps = [psutil.Process(p.pid) for p in sims]
    out: list[dict] = []
    try:
        for mode in modes:
            service = None
            if mode == "connected":
                service, url, token_file = start_service(config, work)
                target = ["--url", url, "--token-file", str(token_file)]
                print(f"   service up at {url} (first pass done)", flush=True)
            else:
                target = ["--config", str(config)]
            load = os.getloadavg()[0]
            print(f"   {mode}: GUI process (load {load:.2f})", flush=True)
            result = work / f"result-{mode}.json"
            procs = sim_ps + ([psutil.Process(service.pid)] if service is not None else [])
            cpu0 = [sum(p.cpu_times()[:2]) for p in procs]
            t0 = time.monotonic()
            try:
                child = subprocess.run(_child_argv(args, target, result, miners), cwd=ROOT)
                cpu1 = [sum(p.cpu_times()[:2]) for p in procs]
            finally:
                if service is not None:
                    service.terminate()
                    try:
                        service.wait(30)
                    except subprocess.TimeoutExpired:
                        service.kill()
            if not result.exists():
                print(f"GUI process failed (exit {child.returncode})", flush=True)
                out.append({"miners": miners, "mode": mode, "ok": False})
                continue
            res = json.loads(result.read_text())
            span = max(1e-9, time.monotonic() - t0)
            res["sim_cpu_pct"] = 100.0 * sum(cpu1[:len(sims)][i] - cpu0[i]
                                             for i in range(len(sims))) / span
            if service is not None:
                res["service_cpu_pct"] = 100.0 * (cpu1[-1] - cpu0[-1]) / span
            res["simulators"] = len(sims)
            res["load_before"] = load
            res["mode"] = mode
            out.append(res)
    finally:
        stop_simulators(sims)
        shutil.rmtree(work, ignore_errors=True)
    return out


def print_table(args: argparse.Namespace, columns: list[str], results: list[dict]) -> None:
    print(f"\nopsconsole GUI bench: miners (+ 1 PDU per 20 miners, + {args.gpus} GPUs), "
          f"{args.interval:g} s interval, {args.duration:.0f} s measured after first data, "
          f"window {args.size}, {os.cpu_count()} CPUs")
    width = max(12, *(len(c) + 2 for c in columns))
    head = f"{'measure':<22}" + "".join(f"{c:>{width}}" for c in columns) + f"{'goal':>12}"
    print(head)
    print("-" * len(head))
    rows = [("devices", "devices", "", None, "{:,.0f}"),
            ("stall p50", "p50_ms", "ms", None, "{:.1f}"),
            ("stall p99", "p99_ms", "ms", GOALS["p99_ms"], "{:.1f}"),
            ("stall max", "max_ms", "ms", GOALS["max_ms"], "{:.1f}"),
            ("first frame", "first_frame_s", "s", GOALS["first_frame_s"], "{:.2f}"),
            ("site known", "site_s", "s", None, "{:.2f}"),
            ("first data", "first_data_s", "s", CONNECTED_GOALS["first_data_s"], "{:.2f}"),
            ("startup stall (max)", "startup_stall_ms", "ms", None, "{:.0f}"),
            ("peak RSS (console)", "rss_mb", "MB", CONNECTED_GOALS["rss_mb"], "{:.0f}"),
            ("live store", "store_mb", "MB", None, "{:.0f}"),
            ("readings ingested", "readings", "", None, "{:,.0f}"),
            ("GUI process CPU", "gui_cpu_pct", "%", None, "{:.0f}"),
            ("longest GC pause", "gc_max_ms", "ms", None, "{:.1f}"),
            ("simulators CPU", "sim_cpu_pct", "%", None, "{:.0f}"),
            ("service CPU", "service_cpu_pct", "%", None, "{:.0f}"),
            ("load avg before", "load_before", "", None, "{:.2f}")]
    for name, key, unit, goal, fmt in rows:
        cells = ""
        for r in results:
            v = r.get(key)
            if v is None:
                cells += f"{'-':>{width}}"
                continue
            mark = "" if goal is None else (" " if v < goal else "!")
            cells += f"{fmt.format(v) + mark:>{width}}"
        goal_s = f"< {goal:g} {unit}" if goal is not None else ""
        print(f"{name + (f' ({unit})' if unit else ''):<22}{cells}{goal_s:>12}")
    print("(! = misses the goal; first data < 5 s and RSS < 600 MB are the connected "
          "console's goals)")


def watch_stalls(state: dict, threshold_ms: float, out: list[str]) -> None:
    """A watchdog thread: when the GUI tick is late by more than threshold_ms,
    record where the GUI thread is (once per stall). Finds what blocks it."""
    import threading
    import traceback

    main = threading.main_thread().ident

    def loop() -> None:
        seen = 0.0
        while True:
            time.sleep(0.005)
            last = state["last"]
            if state["measuring"] and last != seen and \
                    (time.perf_counter() - last) * 1000 > threshold_ms:
                seen = last
                frame = sys._current_frames().get(main)
                if frame is not None:
                    out.append("".join(traceback.format_stack(frame)[-12:]))

    threading.Thread(target=loop, daemon=True, name="stall-watch").start()


def time_handlers(state: dict) -> dict[str, list[float]]:
    """Wrap the GUI's main handlers (before any widget exists, so Qt's
    virtual overrides resolve to the wrappers); durations in ms while measuring."""
    import functools

    import pyqtgraph as pg

    from opsconsole.ui.console import ConsoleView
    from opsconsole.ui.replica import ReplicaFeed
    from opsconsole.ui.session import SiteSession
    from opsconsole.ui.views.charts import ChartsPanel
    from opsconsole.ui.views.rackmap import RackMap

    out: dict[str, list[float]] = {}
    targets = {"ingest slice": (SiteSession, "_take_slice"),
               "alarm tick (1 Hz)": (SiteSession, "_on_tick"),
               "replica feed (alarms etc.)": (ReplicaFeed, "_apply"),
               "views refresh (a step)": (ConsoleView, "_next_step"),
               "charts refresh (a plot)": (ChartsPanel, "_next_step"),
               "chart paint": (pg.GraphicsView, "paintEvent"),
               "rack map paint": (RackMap, "paintEvent")}
    for name, (cls, attr) in targets.items():
        fn = getattr(cls, attr)
        durations = out.setdefault(name, [])

        def wrapper(*a, _fn=fn, _d=durations, **kw):
            t = time.perf_counter()
            try:
                return _fn(*a, **kw)
            finally:
                if state["measuring"]:
                    _d.append((time.perf_counter() - t) * 1000.0)

        setattr(cls, attr, functools.wraps(fn)(wrapper))
    return out


def run(args: argparse.Namespace, config: Path | None, work: Path, t_start: float) -> int:
    """The child: one GUI on one site file (or connected to args.url); results
    as JSON to args.result."""
    import numpy as np
    from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer

    from opsconsole.ui import app as gui
    from opsconsole.ui import theme
    from opsconsole.ui.main_window import MainWindow
    from opsconsole.ui.settings import Settings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(work))
    app = gui._app()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000.0)
    settings = Settings()
    theme.apply(app, theme.get("dark"))
    win = MainWindow(settings, data_dir=work / "data")  # history etc. not in the user's dir
    w, h = (int(v) for v in args.size.split("x"))
    win.resize(w, h)

    marks: dict[str, float] = {}

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
            if ev.type() == QEvent.Type.Paint and "first_frame" not in marks:
                marks["first_frame"] = time.perf_counter()
            return False

    late: list[float] = []
    state = {"last": 0.0, "measuring": False}
    tick = QTimer()
    tick.setTimerType(Qt.TimerType.PreciseTimer)
    tick.setInterval(5)

    handler_ms = time_handlers(state) if args.timings else {}
    if args.no_history:
        from opsconsole.core.history import HistoryWriter

        HistoryWriter.ingest = lambda self, batch, store=None: None  # type: ignore[method-assign]
    spy = FirstPaint()
    win.installEventFilter(spy)
    win.stack.installEventFilter(spy)
    win.show()
    tick.start()  # from here: stalls while the site opens count as "startup stall"
    state["last"] = time.perf_counter()
    if args.url is not None:  # what `opsconsole --connect URL --token-file F` does
        from opsconsole.client import read_token

        win.open_remote(args.url, read_token(args.token_file))
    else:
        assert config is not None
        win.open_file(config)
    if win.bridge is not None:  # the site is known (connected: the site model is in)
        win.bridge.started.connect(lambda _site: marks.setdefault("site", time.perf_counter()))

    late_start: list[float] = []  # before first data: opening the site, building views

    def on_tick() -> None:
        now = time.perf_counter()
        if state["last"]:
            (late if state["measuring"] else late_start).append(
                max(0.0, (now - state["last"]) * 1000.0 - 5.0))
        state["last"] = now

    tick.timeout.connect(on_tick)
    stacks: list[str] = []
    if args.stall_stacks:
        watch_stalls(state, args.stall_stacks, stacks)
    prof = None
    cpu0 = [0.0, 0.0]
    gc_ms: list[float] = []  # collections while measuring (any thread: they hold the GIL)
    gc_gen: list[int] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            state["gc0"] = time.perf_counter()
        elif state["measuring"] and "gc0" in state:
            gc_ms.append((time.perf_counter() - state["gc0"]) * 1000.0)
            gc_gen.append(info.get("generation", -1))

    import gc

    gc.callbacks.append(on_gc)

    def on_first_data() -> None:
        nonlocal prof
        marks["first_data"] = time.perf_counter()
        cpu0[:] = [time.process_time(), time.monotonic()]
        state["last"] = time.perf_counter()
        state["measuring"] = True
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()  # this (the GUI) thread only
        QTimer.singleShot(int(args.duration * 1000), finish)

    def finish() -> None:
        if prof is not None:
            prof.disable()
            prof.dump_stats(str(args.profile))
        tick.stop()
        if cpu0[1]:
            marks["cpu_pct"] = 100.0 * (time.process_time() - cpu0[0]) / (
                time.monotonic() - cpu0[1])
        if win.session is not None:
            marks["readings"] = win.session.readings_in
            marks["devices"] = len(win.session.devices)
            marks["store_mb"] = win.session.store.nbytes() / 2**20
        marks["gc_tracked"] = len(gc.get_objects())  # before close: it unfreezes
        marks["gc_frozen"] = gc.get_freeze_count()
        if args.screenshot:
            win.grab().save(str(args.screenshot))
        marks["end"] = time.perf_counter()
        win.close()
        app.quit()

    win.first_data.connect(on_first_data)
    QTimer.singleShot(int((args.duration + 180) * 1000), finish)  # no data at all: give up
    app.exec()

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    arr = np.array(late) if late else np.array([np.nan])
    res = {
        "miners": args.miners,
        "devices": marks.get("devices"),
        "ticks": len(late),
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "max_ms": float(np.max(arr)),
        "first_frame_s": marks.get("first_frame", np.nan) - t_start,
        "site_s": marks.get("site", np.nan) - t_start,
        "first_data_s": marks.get("first_data", np.nan) - t_start,
        "startup_stall_ms": max(late_start, default=np.nan),
        "rss_mb": rss_mb,
        "store_mb": marks.get("store_mb"),
        "readings": marks.get("readings", 0),
        "gui_cpu_pct": marks.get("cpu_pct"),
        "switch_interval_ms": sys.getswitchinterval() * 1000,
        "gc_count": len(gc_ms),
        "gc_max_ms": max(gc_ms, default=0.0),
        "gc_max_by_gen": {g: round(max((m for m, k in zip(gc_ms, gc_gen, strict=True)
                                        if k == g), default=0.0), 1) for g in (0, 1, 2)},
        "gc_tracked": marks.get("gc_tracked"),
        "gc_frozen": marks.get("gc_frozen"),
    }
    goals = CONNECTED_GOALS if args.url is not None else GOALS
    res["ok"] = all(res[k] < g for k, g in goals.items())
    print(f"{args.miners} miners: " + ", ".join(
        f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in res.items()),
        flush=True)
    for name, d in handler_ms.items():
        if d:
            a = np.array(d)
            print(f"  {name:<20} n {len(a):>5}  mean {a.mean():6.1f}  p99 "
                  f"{np.percentile(a, 99):6.1f}  max {a.max():6.1f} ms  "
                  f"total {a.sum() / 1000:5.1f} s")
    if stacks:
        print(f"\n{len(stacks)} stalls over {args.stall_stacks:g} ms; where the GUI thread was:")
        for st in stacks:
            print("----\n" + st)
    if args.result:
        args.result.write_text(json.dumps(res))
    shutil.rmtree(work, ignore_errors=True)  # this GUI's settings and data dir
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
