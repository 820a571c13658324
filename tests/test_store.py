"""LiveStore: ring buffers, slotting, aggregates and power counted once."""

import math

import numpy as np
import pytest

from opsconsole.core.profiles import MetricSpec, Profile
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Device, Group, Site
from opsconsole.core.store import SITE, LiveStore

MINER = Profile("m", "miner", metrics={
    n: MetricSpec(n, f"1.3.6.1.4.1.32473.1.{i}.0") for i, n in
    enumerate(["hashrate_ths", "hashrate_nominal_ths", "power_w", "temp_c"], 1)})
PDU = Profile("p", "pdu", metrics={"power_w": MetricSpec("power_w", "1.2.3")})


def make_site(interval: float = 10.0) -> Site:
    a = Group("row-a", "Row A", "mining", (
        Device("pdu-a", "pdu", "row-a", "127.0.0.1", 1161, "p", "c"),
        Device("a-01", "miner", "row-a", "127.0.0.1", 1162, "m", "c", pdu="pdu-a", outlet=1),
        Device("a-02", "miner", "row-a", "127.0.0.1", 1163, "m", "c", pdu="pdu-a", outlet=2),
    ))
    b = Group("row-b", "Row B", "idle", (
        Device("b-01", "miner", "row-b", "127.0.0.1", 1164, "m", "c"),
        Device("gpu-0", "gpu", "row-b", nvml_index=0),
    ))
    return Site("T", None, poll_interval_s=interval, groups=(a, b),
                profiles={"m": MINER, "p": PDU})


def r(dev, ts, status=Status.OK, **m):
    return Reading(dev, ts, status, m)


def test_capacity_keeps_an_hour():
    s = LiveStore(make_site(10.0))
    assert s.capacity * s.interval >= 3600
    # rings exist only where a profile (or the GPU catalogue) can fill them
    assert "util_pct" in s.rings and s.rings["util_pct"].shape[0] == 1
    assert s.rings["hashrate_ths"].shape[0] == 3


def test_aggregates_and_power_counted_once():
    s = LiveStore(make_site())
    t = 1_000_000.0
    changed = s.ingest([
        r("pdu-a", t, power_w=6500.0),
        r("a-01", t, hashrate_ths=100.0, power_w=3200.0, temp_c=70.0, hashrate_nominal_ths=110),
        r("a-02", t, hashrate_ths=90.0, power_w=3100.0, temp_c=75.0, hashrate_nominal_ths=110),
        r("b-01", t, hashrate_ths=50.0, power_w=1500.0, temp_c=60.0),
        r("gpu-0", t, util_pct=40.0, power_w=300.0, temp_c=65.0),
    ])
    assert sorted(changed) == [0, 1, 2, 3, 4]
    site = s.summary(SITE, now=t)
    assert site.hashrate_ths == pytest.approx(240.0)
    # PDU measures row A at the wall; its miners are not added again
    assert site.power_w == pytest.approx(6500 + 1500 + 300)
    assert site.temp_c == 75.0 and site.util_pct == 40.0
    assert site.devices_ok == 5 and site.devices_total == 5 and site.stale == 0
    a = s.summary("row-a", now=t)
    assert a.power_w == pytest.approx(6500) and a.hashrate_ths == pytest.approx(190)
    assert a.hashrate_nominal_ths == pytest.approx(220)
    _ts, v = s.agg_series("row-b", "power_w")
    assert v[-1] == pytest.approx(1800)


def test_pdu_lost_falls_back_to_device_power():
    s = LiveStore(make_site())
    t = 2_000_000.0
    s.ingest([r("pdu-a", t, Status.UNREACHABLE),
              r("a-01", t, power_w=3200.0), r("a-02", t, power_w=3100.0)])
    assert s.summary("row-a", now=t).power_w == pytest.approx(6300)


def test_unreachable_device_is_not_counted_and_goes_stale():
    s = LiveStore(make_site())
    t = 3_000_000.0
    s.ingest([r("b-01", t, hashrate_ths=50.0)])
    s.ingest([r("b-01", t + 10, Status.UNREACHABLE)])
    b = s.summary("row-b", now=t + 10)
    assert b.hashrate_ths is None and b.devices_ok == 0
    assert b.by_status == {"unreachable": 1, "pending": 1}
    assert s.summary("row-b", now=t + 45).stale == 2


def test_series_in_time_order_with_gaps():
    s = LiveStore(make_site(10.0))
    t0 = 4_000_000.0
    for k in range(5):
        if k == 2:
            continue  # a missed slot stays NaN, never a made-up number
        s.ingest([r("a-01", t0 + 10 * k, hashrate_ths=float(k))])
    ts, v = s.series("a-01", "hashrate_ths")
    assert list(np.diff(ts)) == [10.0] * 4
    assert v[0] == 0 and v[1] == 1 and math.isnan(v[2]) and v[3] == 3 and v[4] == 4
    ts, v = s.series("a-01", "hashrate_ths", window_s=20)
    assert len(v) == 3 and v[-1] == 4


def test_ring_wraps_and_stays_bounded():
    s = LiveStore(make_site(10.0), history_s=100)
    before = s.nbytes()
    t0 = 5_000_000.0
    for k in range(50):
        s.ingest([r("a-01", t0 + 10 * k, hashrate_ths=float(k))])
    assert s.nbytes() == before
    _ts, v = s.series("a-01", "hashrate_ths")
    assert len(v) == s.capacity and v[-1] == 49 and v[0] == 49 - s.capacity + 1


def test_long_gap_clears_old_slots():
    s = LiveStore(make_site(10.0), history_s=100)
    t0 = 6_000_000.0
    s.ingest([r("a-01", t0, hashrate_ths=1.0)])
    s.ingest([r("a-01", t0 + 10_000, hashrate_ths=2.0)])
    _ts, v = s.series("a-01", "hashrate_ths")
    assert np.nansum(v) == 2.0


def test_vectorised_ingest_matches_reading_by_reading():
    """The batch path (per metric) leaves the store exactly as taking the same
    readings one by one does: values, rings, status, answers, aggregates."""
    rng = np.random.default_rng(7)
    fast, slow = LiveStore(make_site()), LiveStore(make_site())
    ids = ["pdu-a", "a-01", "a-02", "b-01", "gpu-0", "unknown"]
    statuses = [Status.OK, Status.OK, Status.PARTIAL, Status.UNREACHABLE, Status.ERROR]
    t = 1_000_000.0
    for step in range(40):
        t += float(rng.uniform(0, 6))
        batch = []
        for dev in rng.permutation(ids)[: int(rng.integers(1, len(ids) + 1))]:
            m = {name: float(rng.uniform(0, 100)) for name in
                 ("hashrate_ths", "hashrate_nominal_ths", "power_w", "temp_c", "util_pct")
                 if rng.random() < 0.8}
            if rng.random() < 0.2:
                m["temp_c"] = "n/a"  # not a number: stored as unknown
            ts = t - float(rng.uniform(0, 15))  # some land in an older slot
            batch.append(r(str(dev), ts, statuses[int(rng.integers(len(statuses)))], **m))
        assert sorted(fast.ingest(batch)) == sorted(
            {fast.index[x.device] for x in batch if x.device in fast.index})
        col = slow._advance(max(x.ts for x in batch))
        slow._ingest_each([x for x in batch if x.device in slow.index],
                          [slow.index[x.device] for x in batch if x.device in slow.index], col)
        slow._aggregate(col)
        for name in fast.current:
            np.testing.assert_array_equal(fast.current[name], slow.current[name], err_msg=name)
            np.testing.assert_array_equal(fast.rings[name], slow.rings[name], err_msg=name)
        for name in fast.agg:
            np.testing.assert_array_equal(fast.agg[name], slow.agg[name], err_msg=name)
        np.testing.assert_array_equal(fast.ok_mask, slow.ok_mask)
        np.testing.assert_array_equal(fast.status_code, slow.status_code)
        np.testing.assert_array_equal(fast.last_answer_ts, slow.last_answer_ts)
        assert fast.latest == slow.latest, step


def test_backfill_fills_older_empty_slots_and_keeps_live_values():
    s = LiveStore(make_site(10.0))
    assert s.backfill(SITE, "power_w", np.array([0.0]), np.array([1.0])) == 0  # no slot yet
    t = 1_000_000.0
    s.ingest([r("b-01", t - 10, power_w=1500.0)])
    s.ingest([r("b-01", t, power_w=1600.0)])
    past = np.array([t - 40, t - 30, t - 20, t - 10, t, t - 1e6])  # last two: live, too old
    filled = s.backfill(SITE, "power_w", past, np.array([1.0, 2.0, math.nan, 9.0, 9.0, 9.0]))
    assert filled == 2  # t-40 and t-30; NaN skipped; t-10 (live) and t (newest) kept
    x, y = s.agg_series(SITE, "power_w")
    got = dict(zip(x.tolist(), y.tolist(), strict=True))
    assert got[t - 40] == 1.0 and got[t - 30] == 2.0
    assert got[t - 10] == 1500.0 and got[t] == 1600.0
    assert list(x) == sorted(x)  # still in time order
    assert s.backfill(SITE, "no_such_metric", past, past) == 0
    assert s.backfill("no-such-group", "power_w", past, past) == 0
