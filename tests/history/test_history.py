"""History: downsampling, restarts, stitched queries, retention, kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from opsconsole.core.history import HistoryReader, HistoryWriter, retention_pass
from opsconsole.core.history.schema import connect
from opsconsole.core.readings import Reading, Status

ROOT = Path(__file__).resolve().parents[2]
DAY0 = 1_780_000_000 - 1_780_000_000 % 86400  # a UTC midnight (2026)


def at(t: float):
    """A fixed clock for the writer's retention: the synthetic data is "now"."""
    return lambda: float(t)


def day_values(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(70.0, 8.0, n), 3)


def feed(w: HistoryWriter, dev: str, ts: np.ndarray, temp: np.ndarray,
         chunk: int = 500) -> None:
    for k in range(0, len(ts), chunk):
        w.ingest([Reading(dev, float(t), Status.OK, {"temp_c": float(v), "state": "mining",
                                                      "hashrate_ths": 100.0})
                  for t, v in zip(ts[k:k + chunk], temp[k:k + chunk], strict=True)])
    assert w.flush()


def expected(ts: np.ndarray, v: np.ndarray, width: int):
    buckets = (ts // width * width).astype(np.int64)
    keys = np.unique(buckets)
    mins = np.array([v[buckets == k].min() for k in keys])
    maxs = np.array([v[buckets == k].max() for k in keys])
    means = np.array([v[buckets == k].mean() for k in keys])
    return keys.astype(float), mins, means, maxs


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite"


def test_downsampling_a_synthetic_day_is_exact(db: Path) -> None:
    ts = DAY0 + np.arange(0, 86400, 10.0)  # one device polled every 10 s
    temp = day_values(len(ts))
    w = HistoryWriter(db, commit_every_s=0.05, clock=at(DAY0 + 86400))
    feed(w, "a-01", ts, temp)
    w.close()
    r = HistoryReader(db)
    raw = r.series("a-01", "temp_c", DAY0, DAY0 + 86399, resolution="raw")
    assert len(raw) == 8640 and np.array_equal(raw.mean, temp)
    for res, width in (("1m", 60), ("1h", 3600)):
        got = r.series("a-01", "temp_c", DAY0, DAY0 + 86399, resolution=res)
        keys, mins, means, maxs = expected(ts, temp, width)
        assert np.array_equal(got.ts, keys)
        assert np.array_equal(got.min, mins) and np.array_equal(got.max, maxs)
        assert np.allclose(got.mean, means, rtol=0, atol=1e-9)
        assert set(got.level) == {res}
    # strings and non-catalogue values are not history
    assert r.keys() == {"a-01": ["hashrate_ths", "temp_c"]}
    r.close()


def test_history_across_a_restart_merges_the_open_minute(db: Path) -> None:
    ts = DAY0 + np.arange(0, 600, 10.0)
    temp = day_values(len(ts), seed=3)
    cut = 33  # the restart falls inside a minute (330 s)
    w = HistoryWriter(db, commit_every_s=0.05, clock=at(DAY0 + 600))
    feed(w, "a-01", ts[:cut], temp[:cut])
    w.close()
    w = HistoryWriter(db, commit_every_s=0.05, clock=at(DAY0 + 600))  # a new process, the same file
    feed(w, "a-01", ts[cut - 2:], temp[cut - 2:])  # two readings seen again: counted once
    w.close()
    r = HistoryReader(db)
    got = r.series("a-01", "temp_c", DAY0, DAY0 + 600, resolution="1m")
    keys, _mins, means, maxs = expected(ts, temp, 60)
    assert np.array_equal(got.ts, keys) and np.array_equal(got.max, maxs)
    assert np.allclose(got.mean, means, atol=1e-9)
    assert len(r.series("a-01", "temp_c", DAY0, DAY0 + 600, resolution="raw")) == len(ts)


def test_a_query_spanning_resolutions_is_stitched(db: Path) -> None:
    ts = DAY0 + np.arange(0, 3 * 86400, 30.0)  # three days, every 30 s
    temp = day_values(len(ts), seed=5)
    end = float(ts[-1])
    w = HistoryWriter(db, commit_every_s=0.05, retention_every_s=1e9, clock=at(DAY0 + 3 * 86400))
    feed(w, "a-01", ts, temp, chunk=2000)
    w.close()
    con = connect(db)
    now = end + 2 * 3600 + 17  # raw now holds the last 22 h only
    assert sum(retention_pass(con, now)) > 0
    # and 1-minute buckets older than two days are gone too (as if 30 d had passed)
    con.execute("DELETE FROM m1 WHERE ts < ?", (DAY0 + 86400 + 1800,))
    con.close()
    r = HistoryReader(db)
    s = r.series("a-01", "temp_c", end - 86400, end)  # 24 h: raw, its start from 1m
    assert s.resolution == "raw" and s.level[0] == "1m" and s.level[-1] == "raw"
    seam = s.ts[s.level.index("raw")]
    assert seam % 60 == 0 and seam >= now - 86400
    assert np.all(np.diff(s.ts) > 0)
    k1 = np.array([lv == "1m" for lv in s.level])
    keys, mins, means, _maxs = expected(ts, temp, 60)
    pos = np.searchsorted(keys, s.ts[k1])
    assert np.array_equal(mins[pos], s.min[k1]) and np.allclose(means[pos], s.mean[k1])
    raw_part = s.mean[~k1]
    assert np.array_equal(raw_part, temp[(ts >= seam) & (ts <= end)])

    # three levels: 60 h asks for 1-minute buckets, whose oldest part is gone
    s = r.series("a-01", "temp_c", end - 60 * 3600, end, resolution="raw")
    assert s.level[0] == "1h" and "1m" in s.level and s.level[-1] == "raw"
    assert np.all(np.diff(s.ts) > 0)
    # every sample of the range counted exactly once across the seams
    hours = np.array([lv == "1h" for lv in s.level])
    assert s.ts[hours][-1] + 3600 == s.ts[~hours][0]
    # the span picks the level: up to 24 h raw, up to 7 d 1-minute, beyond 1-hour
    assert r.series("a-01", "temp_c", end - 3 * 86400, end).resolution == "1m"
    assert r.series("a-01", "temp_c", end - 8 * 86400, end).resolution == "1h"


def test_retention_keeps_each_level_its_time(db: Path) -> None:
    ts = DAY0 + np.arange(0, 7200, 60.0)
    w = HistoryWriter(db, commit_every_s=0.05, clock=at(DAY0 + 7200))
    feed(w, "a-01", ts, day_values(len(ts)))
    w.close()
    con = connect(db)
    sum(retention_pass(con, float(ts[-1]) + 86400 - 3600))  # raw: the last hour left
    n_raw = con.execute("SELECT count(*) FROM raw WHERE sid=(SELECT sid FROM series "
                        "WHERE metric='temp_c')").fetchone()[0]
    n_m1 = con.execute("SELECT count(*) FROM m1").fetchone()[0]
    assert n_raw == 61 and n_m1 == 2 * 120
    con.close()


def test_ingest_never_blocks_and_counts_drops(db: Path) -> None:
    """A disk that stalls until released: every ingest returns while the
    writer is stuck in its commit (no clock involved), and the overflow is
    counted."""
    w = HistoryWriter(db, queue_size=2, clock=at(DAY0))
    slow = w._commit
    stuck, release = threading.Event(), threading.Event()

    def commit(items):
        stuck.set()
        release.wait()
        slow(items)

    w._commit = commit  # type: ignore[method-assign]
    w.ingest([Reading("a-01", DAY0 + 99, Status.OK, {"temp_c": 1.0})])
    assert stuck.wait(60), "the writer never committed"

    def feed() -> None:
        for k in range(50):
            w.ingest([Reading("a-01", DAY0 + 100 + k, Status.OK, {"temp_c": 1.0})])

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    feeder.join(60)  # a hang guard only: ingest must not wait for the stalled disk
    blocked = feeder.is_alive()
    release.set()
    assert not blocked, "ingest waited for a stalled commit"
    assert w.stats.dropped > 0 and w.stats.queued >= 2
    w.close()


WRITER = textwrap.dedent("""
    import sys, time
    from opsconsole.core.history import HistoryWriter
    from opsconsole.core.readings import Reading, Status
    w = HistoryWriter(sys.argv[1], commit_every_s=0.01)
    t = time.time() - 3600
    while True:
        t += 10
        w.ingest([Reading(f"d-{k:03d}", t, Status.OK, {"temp_c": 60 + k % 7, "power_w": 3000.5,
                                                      "fan_rpm": 5000}) for k in range(300)])
        time.sleep(0.002)
""")


@pytest.mark.slow
def test_kill_9_mid_write_leaves_a_consistent_database(db: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.3)
            wal = db.with_name(db.name + "-wal")
            if wal.exists() and wal.stat().st_size > 2_000_000:
                break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n_raw = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    assert n_raw > 0
    # raw rows and their buckets were committed together, or not at all
    assert con.execute("SELECT sum(n) FROM m1").fetchone()[0] == n_raw
    assert con.execute("SELECT sum(n) FROM h1").fetchone()[0] == n_raw
    con.close()


def test_a_new_database_answers_from_the_level_picked(db: Path) -> None:
    ts = DAY0 + np.arange(0, 95, 10.0)  # ten samples: younger than any bucket
    w = HistoryWriter(db, commit_every_s=0.05, clock=at(DAY0 + 100))
    feed(w, "a-01", ts, day_values(len(ts)))
    w.close()
    s = HistoryReader(db).series("a-01", "temp_c", DAY0 + 100 - 3600, DAY0 + 100)
    assert s.resolution == "raw" and s.level == ["raw"] * 10
