"""Shared test set-up. Fixtures that start real agents live in tests/fixtures/."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SNMPSIM_ALLOW_ROOT", "true")

pytest_plugins = [
    "tests.fixtures.snmpd",
    "tests.fixtures.snmpsim_agent",
    "tests.fixtures.sim",
    "tests.fixtures.hostile",
]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_root(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Default data dirs (core.datadir) of a test, and of the commands it
    starts, live in a fresh folder: never the user's real one. XDG_DATA_HOME
    too: the data-dir check looks for a site's older folders under the user's
    data dir, and a developer who ran the demo has one there."""
    monkeypatch.setenv("OPSCONSOLE_DATA_ROOT", str(tmp_path_factory.mktemp("data-root")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
