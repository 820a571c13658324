"""Size on disk of the history database per device per day.

Writes one synthetic day (every poll, every numeric metric a miner reports,
plus the group and site aggregates) for N devices through the real
HistoryWriter into a fresh database, then reports:

- bytes written per device per day, split by table (raw, 1-minute, 1-hour);
- the steady-state footprint per device: raw kept 1 day, 1-minute buckets
  30 days, 1-hour buckets 2 years (per-day figures x retention);
- the writer's throughput (samples/s) and whether it dropped anything.

    .venv/bin/python bench/history_size.py [--devices 20] [--interval 10]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from opsconsole.core.history import LEVELS, HistoryWriter
from opsconsole.core.history.writer import _Aggs

DAY = 86400
MINER = ("hashrate_ths", "hashrate_nominal_ths", "power_w", "temp_c", "temp_inlet_c",
         "fan_rpm", "uptime_s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--interval", type=float, default=10.0, help="poll interval, s")
    ap.add_argument("--groups", type=int, default=2)
    a = ap.parse_args()
    from opsconsole.core.readings import Reading, Status

    t0 = 1_790_000_000 - 1_790_000_000 % DAY
    slots = int(DAY / a.interval)
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite"
        w = HistoryWriter(path, queue_size=100_000, clock=lambda: t0 + DAY,
                          retention_every_s=1e9)
        start = time.perf_counter()
        for k in range(slots):
            ts = t0 + k * a.interval
            batch = []
            for d in range(a.devices):
                temp = 70 + 5 * math.sin(ts / 3000 + d) + rng.normal(0, 0.5)
                batch.append(Reading(f"m-{d:04d}", ts + d * a.interval / a.devices, Status.OK, {
                    "hashrate_ths": round(100 + rng.normal(0, 2), 2),
                    "hashrate_nominal_ths": 110.0, "power_w": round(3250 + rng.normal(0, 30), 1),
                    "temp_c": round(temp, 1), "temp_inlet_c": round(temp - 40, 1),
                    "fan_rpm": int(5400 + rng.normal(0, 50)), "uptime_s": int(ts - t0),
                    "state": "mining"}))
            w.ingest(batch)
            aggs = {f"@g{g}": {"hashrate_ths": 100.0 * a.devices, "power_w": 3250.0 * a.devices,
                               "temp_c": 75.0, "devices_ok": float(a.devices)}
                    for g in range(a.groups)} | {"@site": {"hashrate_ths": 1.0, "power_w": 1.0,
                                                           "temp_c": 1.0, "devices_ok": 1.0}}
            w._q.put(_Aggs(ts, aggs))
        assert w.flush(600)
        elapsed = time.perf_counter() - start
        rows, dropped = w.stats.rows, w.stats.dropped
        w.close()
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
        try:
            per_table = dict(con.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        except sqlite3.OperationalError:
            per_table = {}
        con.close()
        total = path.stat().st_size
    # the aggregate series (groups + site) are shared: spread over the devices
    print(f"{a.devices} devices x {len(MINER)} metrics every {a.interval:g} s for one day, "
          f"+ {a.groups} groups and the site x 4 aggregates")
    print(f"samples written: {rows:,} in {elapsed:.1f} s ({rows / elapsed:,.0f} samples/s), "
          f"dropped: {dropped}")
    print(f"database after one day: {total / 1e6:.2f} MB = "
          f"{total / a.devices / 1e6:.3f} MB per device per day (all three tables)")
    steady = 0.0
    for lv in LEVELS:
        size = per_table.get(lv.table, 0) + sum(
            v for k, v in per_table.items() if k.startswith(f"sqlite_autoindex_{lv.table}"))
        days = lv.keep_s / DAY
        per_dev = size / a.devices
        steady += per_dev * days
        print(f"  {lv.name:>3}: {per_dev / 1e3:8.1f} kB per device per day, kept "
              f"{days:g} d -> {per_dev * days / 1e6:7.2f} MB per device at steady state")
    print(f"steady-state footprint: {steady / 1e6:.1f} MB per device "
          f"({steady * 1000 / 1e9:.1f} GB for 1,000 devices)")


if __name__ == "__main__":
    main()
