"""OPSCONSOLE_REQUIRE_AGENTS=1 turns a missing integration agent into a failure."""

import pytest

from tests.fixtures.require import REQUIRE_AGENTS_ENV, agent_missing


def test_missing_agent_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_AGENTS_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="snmpd not installed"):
        agent_missing("snmpd not installed")


def test_missing_agent_skips_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_AGENTS_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="snmpd not installed"):
        agent_missing("snmpd not installed")
