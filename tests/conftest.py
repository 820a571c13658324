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
