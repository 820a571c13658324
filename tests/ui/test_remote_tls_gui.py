"""The console and the wall against a real TLS site service on 127.0.0.1
with a self-signed certificate made in the test: `--ca-file` is what they
trust. The wall's token file may be missing at start (a kiosk set up before
its token): the banner says so in one line and the wall starts once it exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsconsole.sim.site import SimSite
from opsconsole.ui.main_window import MainWindow
from opsconsole.ui.settings import Settings
from opsconsole.ui.wall.window import WallWindow
from tests.fixtures.tls import self_signed
from tests.service.support import Service, interval


@pytest.fixture
def tls_svc(sim_site: SimSite, tmp_path: Path) -> Iterator[Service]:
    cert, key = self_signed(tmp_path / "tls")
    cfg = interval(sim_site.config_path, tmp_path / "site.toml", 1)
    s = Service(cfg, tmp_path / "data", "--tls-cert", str(cert), "--tls-key", str(key),
                scheme="https")
    s.cert = cert  # type: ignore[attr-defined]
    s.viewer = s.token("wall", "viewer", tmp_path)  # type: ignore[attr-defined]
    s.start()
    try:
        yield s
    finally:
        s.stop()


def test_console_connects_with_ca_file(qtbot, tls_svc: Service) -> None:
    win = MainWindow(Settings())
    qtbot.addWidget(win)
    token = tls_svc.viewer.read_text().strip()  # type: ignore[attr-defined]
    win.open_remote(tls_svc.url, token, tls_svc.cert)  # type: ignore[attr-defined]
    with qtbot.waitSignal(win.first_data, timeout=120_000):
        pass
    assert win.session is not None and win.session.replica
    assert win.session.site.name == "Simulated site"
    win.close_site()


def test_wall_waits_for_its_token_file_then_draws(qtbot, tls_svc: Service,
                                                  tmp_path: Path) -> None:
    token_file = tmp_path / "kiosk" / "wall.token"
    win = WallWindow(rotate_s=3600)
    qtbot.addWidget(win)
    win.open_remote(tls_svc.url, "", tls_svc.cert, token_file=token_file)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "cannot read the token file" in win.source_state(), timeout=30_000)
    assert str(token_file) in win.source_state() and win.session is None
    shown = win.waiting.text().replace("\u200b", "")  # (zero-width breaks after "/")
    assert f"{token_file}: cannot read the token file" in shown and "retrying" in shown
    token_file.parent.mkdir()
    token_file.write_text(tls_svc.viewer.read_text())  # type: ignore[attr-defined]
    # the watchdog's next retry reads it (back-off: a generous wait, not a speed check)
    with qtbot.waitSignal(win.first_data, timeout=180_000):
        pass
    assert win.session is not None and win.session.replica
    assert "token" not in win.source_state()
    win.close_site()
