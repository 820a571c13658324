"""Raw agent values to metric values: scale, offset, maps, numeric strings, reduce."""

import pytest

from opsconsole.collectors.snmp_collector import convert, reduce_column
from opsconsole.core.profiles import MetricSpec


def spec(**kw):
    return MetricSpec("x", "1.2.3", **kw)


@pytest.mark.parametrize(
    ("s", "raw", "want"),
    [
        (spec(scale=0.001), 98_200, 98.2),  # GH/s -> TH/s
        (spec(scale=10.0), 325, 3250.0),  # APC 0.01 kW -> W
        (spec(scale=0.01), 123_456, 1234.56),  # TimeTicks -> s
        (spec(offset=-273.15), 300, 26.85),
        (spec(), 5400, 5400),  # unscaled integers stay integers
        (spec(scale=0.01), b"2.50", 0.025),  # numeric OctetString (UCD laLoad)
        (spec(), b" 17 ", 17),
        (spec(map={1: "off", 2: "on"}), 2, "on"),
        (spec(map={1: "off", 2: "on"}), 9, "9"),  # unknown code shown, not hidden
        (spec(), None, None),  # missing object stays missing
        (spec(map={1: "off"}), b"not a number", None),
    ],
)
def test_convert(s, raw, want):
    got = convert(s, raw)
    if isinstance(want, float):
        assert got == pytest.approx(want)
    else:
        assert got == want and type(got) is type(want)


def test_non_numeric_string_is_kept_as_text():
    assert convert(spec(), b"Linux host 6.1") == "Linux host 6.1"


@pytest.mark.parametrize(
    ("how", "want"), [("max", 80), ("min", 60), ("sum", 210), ("mean", 70), ("list", [70, 60, 80])]
)
def test_reduce(how, want):
    assert reduce_column(spec(walk=True, reduce=how), [70, 60, 80]) == want


def test_reduce_empty_column_is_missing():
    assert reduce_column(spec(walk=True, reduce="max"), []) is None
