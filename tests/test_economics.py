"""What each duty earns per MWh: exact numbers, measured and estimated from a
real history database written by the real writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from opsconsole.core.economics import (
    EarningsBook,
    Prices,
    estimate,
    fmt_usd,
    measured,
    revenue_per_mwh,
)
from opsconsole.core.errors import ConfigError
from opsconsole.core.history import HistoryReader, HistoryWriter
from opsconsole.core.readings import Reading, Status
from opsconsole.core.siteload import load_site
from opsconsole.core.store import ScopeSummary
from tests.gpu_host_support import device, site_file

PRICES = Prices(hashprice_usd_per_ph_day=52.0, token_price_usd_per_mtok=0.20,
                power_price_usd_per_mwh=45.0)
NOW = 1_800_000_000.0


def test_revenue_per_mwh_exact() -> None:
    # 100 TH/s = 0.1 PH/s earns 0.1 x 52 = 5.2 USD a day = 0.21667 USD/h on 3.25 kW
    assert revenue_per_mwh("mining", 100.0, 3250.0, PRICES) == pytest.approx(
        5.2 / 24 / 0.00325)  # 66.667 USD/MWh
    # 1,000 tokens/s = 3.6 M tokens/h = 0.72 USD/h on 3 kW = 240 USD/MWh
    assert revenue_per_mwh("inference", 1000.0, 3000.0, PRICES) == pytest.approx(240.0)
    assert revenue_per_mwh("inference", 1000.0, 0.0, PRICES) is None


def test_measured_rows() -> None:
    m = measured("mining", 100.0, 3250.0, PRICES)
    assert m.revenue_usd_per_mwh == pytest.approx(66.6667, abs=1e-4)
    assert m.margin_usd_per_mwh == pytest.approx(21.6667, abs=1e-4)
    assert (m.estimated, m.label) == (False, "measured")
    assert m.basis == "measured now: 100.0 TH/s at 3.25 kW"
    none = measured("inference", None, 3000.0, PRICES)
    assert none.revenue_usd_per_mwh is None
    assert none.basis == "no live tokens_per_s and power_w to measure"
    no_price = measured("mining", 100.0, 3250.0, Prices(token_price_usd_per_mtok=1.0))
    assert no_price.basis == "no hashprice_usd_per_ph_day in [economics]"
    no_power_price = measured("inference", 1000.0, 3000.0, Prices(token_price_usd_per_mtok=0.2))
    assert no_power_price.revenue_usd_per_mwh == pytest.approx(240.0)
    assert no_power_price.margin_usd_per_mwh is None


def test_estimate_is_energy_weighted_over_producing_buckets() -> None:
    out = np.array([1000.0, 2000.0, 0.0, np.nan, 500.0])
    pw = np.array([3000.0, 5000.0, 2000.0, 3000.0, 0.0])
    e = estimate("inference", out, pw, 60.0, PRICES)
    # kept: buckets 0 and 1: 3000 tokens/s over 8 kW: 0.00072 x 3000 / 0.008 = 270 USD/MWh
    assert e.revenue_usd_per_mwh == pytest.approx(270.0)
    assert e.margin_usd_per_mwh == pytest.approx(225.0)
    assert (e.estimated, e.label) == (True, "estimate")
    assert e.basis == "estimate from 0.0 h of this group's history in inference"
    empty = estimate("mining", np.array([0.0]), np.array([100.0]), 60.0, PRICES)
    assert empty.revenue_usd_per_mwh is None
    assert empty.basis == "cannot be estimated: no history of this group in mining"


def _history(tmp_path: Path) -> Path:
    """Two hours of group gpu-a in inference (1,200 tokens/s at 4 kW), an hour
    earlier in mining (400 TH/s at 12 kW), through the real writer."""
    db = tmp_path / "history.sqlite"
    w = HistoryWriter(db, commit_every_s=0.05, clock=lambda: NOW)
    batch = []
    for k in range(180):
        ts = NOW - 3 * 3600 + k * 60
        if k < 60:
            m = {"hashrate_ths": 400.0, "power_w": 12000.0, "tokens_per_s": 0.0}
        else:
            m = {"hashrate_ths": 0.0, "power_w": 4000.0, "tokens_per_s": 1200.0}
        batch.append(Reading("@gpu-a", ts, Status.OK, m))
    w.ingest(batch)
    assert w.flush()
    w.close()
    return db


def test_book_group_and_site(tmp_path: Path) -> None:
    reader = HistoryReader(_history(tmp_path))
    book = EarningsBook(PRICES, reader, clock=lambda: NOW)
    now_inference = ScopeSummary("gpu-a", 8, power_w=4000.0, tokens_per_s=1100.0)
    g = book.group("gpu-a", "inference", now_inference)
    mining, inference = g.rows
    # inference measured now: 1,100 tokens/s on 4 kW = 0.792 USD/h / 0.004 MW = 198 USD/MWh
    assert inference.revenue_usd_per_mwh == pytest.approx(198.0)
    assert inference.margin_usd_per_mwh == pytest.approx(153.0)
    assert not inference.estimated
    # mining from history: 400 TH/s on 12 kW: 400 x 52/1000/24 / 0.012 = 72.222 USD/MWh
    assert mining.estimated
    assert mining.revenue_usd_per_mwh == pytest.approx(400 * 52 / 1000 / 24 / 0.012)
    assert mining.margin_usd_per_mwh == pytest.approx(400 * 52 / 1000 / 24 / 0.012 - 45)
    assert mining.basis == "estimate from 1.0 h of this group's history in mining"

    # a group with no history in the other duty says so
    other = book.group("row-b", "mining", ScopeSummary("row-b", 10, hashrate_ths=1000.0,
                                                      power_w=30000.0))
    assert other.rows[1].revenue_usd_per_mwh is None
    assert other.rows[1].basis == "cannot be estimated: no history of this group in inference"

    site = book.site([(g, 4000.0), (other, 30000.0)])
    s_mining, s_inference = site.rows
    want = (mining.revenue_usd_per_mwh * 4000 + other.rows[0].revenue_usd_per_mwh * 30000) / 34000
    assert s_mining.revenue_usd_per_mwh == pytest.approx(want)
    assert s_mining.estimated
    assert s_mining.basis == "2 groups, weighted by power (includes estimates)"
    assert s_inference.revenue_usd_per_mwh == pytest.approx(198.0)
    assert not s_inference.estimated and s_inference.basis == "1 group, weighted by power"
    reader.close()


def test_estimates_are_cached(tmp_path: Path) -> None:
    class Counting:
        def __init__(self, inner: HistoryReader):
            self.inner, self.calls = inner, 0

        def series(self, *a, **kw):
            self.calls += 1
            return self.inner.series(*a, **kw)

    inner = HistoryReader(_history(tmp_path))
    counting = Counting(inner)
    t = [NOW]
    book = EarningsBook(PRICES, counting, clock=lambda: t[0])
    s = ScopeSummary("gpu-a", 8, power_w=4000.0, tokens_per_s=1100.0)
    book.group("gpu-a", "inference", s)
    book.group("gpu-a", "inference", s)
    assert counting.calls == 2  # output and power, once
    t[0] += 301
    book.group("gpu-a", "inference", s)
    assert counting.calls == 4
    inner.close()


def test_estimates_read_on_the_books_own_thread(tmp_path: Path) -> None:
    """A view on an event loop: the history is opened and read on the
    `history-read` thread; the caller gets "reading history..." at once and
    `on_read` says when the estimate is in."""
    import threading

    from opsconsole.core.economics import READING

    db = _history(tmp_path)
    readers: list[str] = []
    arrived = threading.Event()

    def on_read() -> None:
        readers.append(threading.current_thread().name)
        arrived.set()

    book = EarningsBook(PRICES, clock=lambda: NOW, on_read=on_read)
    book.set_source(db)
    s = ScopeSummary("gpu-a", 8, power_w=4000.0, tokens_per_s=1100.0)
    try:
        first = book.group("gpu-a", "inference", s).rows[0]
        assert arrived.wait(60), "the history read never came back"
        assert first.basis == READING and first.revenue_usd_per_mwh is None
        mining = book.group("gpu-a", "inference", s).rows[0]
        assert mining.revenue_usd_per_mwh == pytest.approx(400 * 52 / 1000 / 24 / 0.012)
        assert readers and readers[0].startswith("history-read")
        assert threading.current_thread().name not in readers
    finally:
        book.close()


def test_fmt_usd() -> None:
    assert (fmt_usd(1234.4), fmt_usd(-12.6), fmt_usd(None)) == ("$1,234", "-$13", "—")


def test_economics_table_in_the_site_file(tmp_path: Path) -> None:
    extra = ('[economics]\nhashprice_usd_per_ph_day = 52.5\ntoken_price_usd_per_mtok = 0.2\n'
             'power_price_usd_per_mwh = 45\n')
    site = load_site(site_file(tmp_path, device("v", "inference", endpoint="http://x:1/m"),
                               extra=extra))
    assert site.economics == {"hashprice_usd_per_ph_day": 52.5, "token_price_usd_per_mtok": 0.2,
                              "power_price_usd_per_mwh": 45.0}
    assert Prices.from_site(site.economics) == Prices(52.5, 0.2, 45.0)
    bad = '[economics]\nhashprice_usd_per_ph_dy = 52\ntoken_price_usd_per_mtok = -1\n'
    with pytest.raises(ConfigError) as err:
        load_site(site_file(tmp_path, device("v", "inference", endpoint="http://x:1/m"),
                            extra=bad))
    text = "\n".join(err.value.errors)
    assert 'economics.hashprice_usd_per_ph_dy: unknown key "hashprice_usd_per_ph_dy"' in text
    assert "economics.token_price_usd_per_mtok: -1 is out of range" in text
