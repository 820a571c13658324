"""Simulators side by side: `row_offset` names disjoint rows, PDUs and miners,
and `merge_site_files` joins their site files into one valid site (how the GUI
bench serves 20,000 miners under a 20,000 open-files limit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from opsconsole.cli.main import build_parser
from opsconsole.core.siteload import load_site
from opsconsole.sim.site import SimSite, merge_site_files, row_letters


def test_row_offset_names_rows_from_the_offset() -> None:
    a = SimSite(miners=90, gpus=0, miners_per_row=40)
    b = SimSite(miners=50, gpus=0, miners_per_row=40, row_offset=3, seed=2)
    assert [r.id for r in a.rows] == ["row-a", "row-b", "row-c"]
    assert [r.id for r in b.rows] == ["row-d", "row-e"]
    assert [len(r.miners) for r in b.rows] == [40, 10]
    assert b.rows[0].miners[0].id == "d-01" and b.rows[0].pdus[0].id == "pdu-d1"
    assert b.rows[0].miners[0].rack == "D1"
    ids_a = {d.id for d in a.devices()}
    ids_b = {d.id for d in b.devices()}
    assert not ids_a & ids_b
    assert len(ids_b) == 50 + 3  # 40 + 10 miners, PDUs of 20: 2 + 1


def test_row_offset_past_z() -> None:
    s = SimSite(miners=10, gpus=0, row_offset=26)
    assert s.rows[0].id == f"row-{row_letters(26)}" == "row-aa"


def test_negative_row_offset_is_refused() -> None:
    with pytest.raises(ValueError):
        SimSite(miners=1, gpus=0, row_offset=-1)


def test_merged_site_files_load_as_one_site(tmp_path: Path) -> None:
    async def texts() -> tuple[list[str], list[float]]:
        first = SimSite(miners=60, gpus=0, seed=1)
        second = SimSite(miners=45, gpus=2, seed=2, row_offset=2)
        await first.start()
        await second.start()
        try:
            return [first.site_toml(), second.site_toml()], [
                first.power_budget_kw(), second.power_budget_kw()]
        finally:
            await first.stop()
            await second.stop()

    (t1, t2), budgets = asyncio.run(texts())
    path = tmp_path / "site.toml"
    path.write_text(merge_site_files([t1, t2], poll_interval_s=30), encoding="utf-8")
    site = load_site(path)
    assert site.poll_interval_s == 30
    assert [g.id for g in site.groups] == ["row-a", "row-b", "row-c", "row-d", "gpu-a"]
    devs = site.devices()
    assert len(devs) == len({d.id for d in devs}) == 60 + 3 + 45 + 3 + 2
    assert site.power_budget_kw == pytest.approx(sum(budgets))


def test_merging_one_file_keeps_it_valid(tmp_path: Path) -> None:
    async def text() -> str:
        s = SimSite(miners=5, gpus=1)
        await s.start()
        try:
            return s.site_toml()
        finally:
            await s.stop()

    path = tmp_path / "one.toml"
    path.write_text(merge_site_files([asyncio.run(text())]), encoding="utf-8")
    assert len(load_site(path).devices()) == 5 + 1 + 1


def test_simulate_accepts_row_offset() -> None:
    args = build_parser().parse_args(["simulate", "--miners", "10", "--row-offset", "4"])
    assert args.row_offset == 4
    assert build_parser().parse_args(["simulate"]).row_offset == 0
