"""client.gentle_json: the same values as json.loads, in steps of one element."""

from __future__ import annotations

import json

import pytest

from opsconsole.client import gentle_json
from opsconsole.client.gentle_json import loads_gently


def _site_like(n: int) -> dict:
    """A document shaped like a snapshot: big arrays of small objects under a
    few small keys, with the awkward bits JSON has (escapes, unicode, numbers)."""
    return {
        "type": "snapshot", "user": "wall \u00e9\u2603", "read_only": True, "none": None,
        "poll": {"totals": {"power_w": 1.5e6, "missing": {}}, "empty": [],
                 "devices": [{"id": f"m-{i:05d}", "status": "ok" if i % 7 else "unreachable",
                              "metrics": {"hashrate_ths": i / 3, "temp_c": -1.25e-3 * i,
                                          "fans": [i, i + 1]},
                              "note": 'quote " back \\ tab \t nl \n', "n": -i}
                             for i in range(n)]},
        "by_id": {f"g{i}": {"members": list(range(i % 5))} for i in range(40)},
        "alarms": [[], {}, [[]], 0, False],
    }


@pytest.mark.parametrize("indent", [None, 2])
def test_same_values_as_json_loads(indent: int | None) -> None:
    text = json.dumps(_site_like(3000), indent=indent)
    assert len(text) > gentle_json.GENTLE_FROM_CHARS  # the stepwise path, not json.loads
    assert loads_gently(text) == json.loads(text)
    assert loads_gently(text.encode()) == json.loads(text)  # bytes as aiohttp reads them


def test_a_big_array_is_scanned_one_element_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """No C call decodes the device list whole: each scanner call gets at most
    one element (so the GIL can change hands between elements)."""
    text = json.dumps(_site_like(3000))
    spans: list[int] = []
    real = gentle_json._scan_once

    def counting(s: str, i: int):
        value, end = real(s, i)
        spans.append(end - i)
        return value, end

    monkeypatch.setattr(gentle_json, "_scan_once", counting)
    doc = loads_gently(text)
    assert len(doc["poll"]["devices"]) == 3000
    assert len(spans) >= 3000
    assert max(spans) < gentle_json.SMALL_CHARS


@pytest.mark.parametrize("bad", ["[1, 2", '{"a" 1}', '{"a": 1,}', "[1 2]", '{"a": [1, 2]} x',
                                 "{1: 2}", ""])
def test_malformed_documents_raise_like_json_loads(bad: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gentle_json, "GENTLE_FROM_CHARS", 0)  # the stepwise path even so
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad)
    with pytest.raises(json.JSONDecodeError):
        loads_gently(bad)
