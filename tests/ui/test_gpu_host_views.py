"""The GUI over gpu-hosts and inference servers: tokens/s beside hashrate, the
inference panel, remote GPUs grouped by host, the earnings view."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from opsconsole.core.readings import Reading, Status
from opsconsole.core.siteload import load_site
from opsconsole.ui import theme as themes
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.views.earnings import EarningsPanel
from opsconsole.ui.views.gpu_panel import GpuPanel
from opsconsole.ui.views.header import SiteHeader
from opsconsole.ui.views.inference_panel import InferencePanel
from opsconsole.ui.views.tiles import GroupTiles
from opsconsole.ui.wall.totals_page import TotalsPage
from tests.gpu_host_support import device, site_file

PRICES = ('[economics]\nhashprice_usd_per_ph_day = 50\ntoken_price_usd_per_mtok = 0.2\n'
          'power_price_usd_per_mwh = 40\n')


@pytest.fixture
def session(tmp_path: Path, qtbot):
    devs = (device("node", "gpu-host", exporter="http://127.0.0.1:1/metrics", gpus=2)
            + device("vllm", "inference", endpoint="http://127.0.0.1:1/metrics")
            + device("gpu-0", "gpu", nvml_index=0))
    s = SiteSession(load_site(site_file(tmp_path, devs, extra=PRICES)))
    now = time.time()
    s.ingest([
        Reading("node", now, Status.OK, {"gpus": 2}, labels={"hostname": "hgx-7"}),
        Reading("node/0", now, Status.OK, {"util_pct": 90.0, "power_w": 600.0, "temp_c": 60.0,
                                           "power_limit_w": 700.0},
                labels={"model": "NVIDIA H100 80GB HBM3", "uuid": "GPU-a"}),
        Reading("node/1", now, Status.ERROR, {}, "GPU GPU-b (NVIDIA H100 80GB HBM3) is missing "
                                                 "from the exporter"),
        Reading("gpu-0", now, Status.OK, {"util_pct": 10.0, "power_w": 200.0}),
        Reading("vllm", now, Status.OK, {"tokens_per_s": 2500.0, "requests_running": 12.0,
                                         "requests_waiting": 3.0, "ttft_p95_s": 0.21},
                labels={"server": "vllm"}),
    ])
    qtbot.waitUntil(lambda: s.readings_in == 5, timeout=3000)
    yield s
    s.stop()


def test_tokens_beside_hashrate(session, qtbot) -> None:
    theme = themes.get("dark")
    header = SiteHeader(session, theme)
    qtbot.addWidget(header)
    header.refresh()
    assert header.tokens.value.text() == "2.5 k tok/s"
    assert header.tokens.detail.text() == "1 inference server"
    assert header.gpu.detail.text() == "mean of 3 GPUs (2 remote), 1 silent"  # node/1 is lost
    tiles = GroupTiles(session, theme)
    qtbot.addWidget(tiles)
    tiles.refresh()
    assert "<b>2.5 k tok/s</b>" in tiles.tiles["gpu-a"].hashrate.text()
    wall = TotalsPage(session, theme)
    qtbot.addWidget(wall)
    wall.refresh()
    assert wall.tokens.value.text() == "2.5 k tok/s"
    assert wall.tiles["gpu-a"].rate.detail.text() == "2.5 k tok/s"


def test_inference_panel(session, qtbot) -> None:
    panel = InferencePanel(session, themes.get("dark"))
    qtbot.addWidget(panel)
    panel.refresh()
    card = panel.cards["gpu-a"]
    assert card.tokens.text() == "2.5 k tok/s"
    assert card.queue.text() == "12 · 3"
    assert card.ttft.text() == "210 ms"
    assert "<b>vllm</b>" in card.lines.text() and "12 running · 3 waiting" in card.lines.text()
    assert panel.server_count == 1


def test_gpu_panel_groups_remote_gpus_by_host(session, qtbot) -> None:
    panel = GpuPanel(session, themes.get("dark"))
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.refresh()
    assert panel.hosts == ["node", ""] or panel.hosts == ["", "node"]
    text = panel.headings["node"].text()
    assert "<b>node</b>" in text and "hgx-7" in text and "NVIDIA H100 80GB HBM3" in text
    assert "2 GPUs on the exporter" in text and "http://127.0.0.1:1/metrics" in text
    assert "This workstation" in panel.headings[""].text()
    lost = next(c for c in panel.cards if c.device_id == "node/1")
    assert "missing from the exporter" in lost.throttle.text()
    heads = {h: panel.grid.getItemPosition(panel.grid.indexOf(lab))[0]
             for h, lab in panel.headings.items()}
    rows = {c.device_id: panel.grid.getItemPosition(panel.grid.indexOf(c))[0]
            for c in panel.cards}
    # each host's cards sit under its own heading
    _first, second = sorted(heads, key=heads.get)
    later = heads[second]
    for c in panel.cards:
        host = panel.host_of[c.device_id]
        assert (rows[c.device_id] > later) == (host == second)


def test_earnings_view(session, qtbot) -> None:
    panel = EarningsPanel(session, themes.get("dark"), duty_of=lambda g: "inference")
    qtbot.addWidget(panel)
    panel.show()
    panel.refresh(force=True)
    cells = panel.cells["gpu-a"]
    # 2,500 tokens/s on 800 W: 2500 x 3600 x 0.2 / 1e6 = 1.8 USD/h / 0.0008 MW = 2,250 USD/MWh
    assert cells[1].text() == "inference"
    assert f"{units.NA}" not in cells[4].text()
    assert "$2,250" in cells[4].text() and "measured" in cells[4].text()
    assert "$2,210" in cells[5].text()
    assert "no history database" in cells[2].text()  # mining: the session has no history
    assert "Prices typed by the operator" in panel.prices_line.text()
    assert "$50.00" in panel.prices_line.text()
