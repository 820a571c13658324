"""Every path from site file to screen costs time linear in the number of devices.

No clocks: the work of each stage is counted as lines of opsconsole's own code
executed (a trace function), at N and at 4N devices. Linear work grows about
4x; a scan of the site per reading or per group (as `report` once did through
`Site.device`) grows about 16x and fails the bound below.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import opsconsole
from opsconsole.core.readings import Reading, Status
from opsconsole.core.report import format_table, poll_doc
from opsconsole.core.site import Site
from opsconsole.core.siteload import load_site
from opsconsole.core.sitestate import SiteState
from opsconsole.core.wire import site_from_doc, site_to_doc

PROFILES = Path(__file__).parent / "data" / "sites" / "profiles"
PACKAGE = str(Path(opsconsole.__file__).parent)
PER_GROUP = 10  # more devices also means more groups: per-group scans count too
N = 100
MAX_GROWTH = 6.0  # at 4x the devices; linear is <= 4, a per-device scan ~16
ALSO_TRACED: set[Any] = set()  # code objects outside the package counted too


def count_lines(fn: Callable[[], Any]) -> tuple[int, Any]:
    """(lines of opsconsole code executed by fn(), its result)."""
    lines = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        return local if code.co_filename.startswith(PACKAGE) or code in ALSO_TRACED else None

    old = sys.gettrace()
    sys.settrace(calls)
    try:
        out = fn()
    finally:
        sys.settrace(old)
    return lines, out


def write_fleet(folder: Path, n: int) -> Path:
    """n devices in groups of PER_GROUP: a PDU feeding the group's miners."""
    folder.mkdir()
    shutil.copytree(PROFILES, folder / "profiles")
    out = ['[site]', 'name = "Linear"', "",
           "[credentials.lan]", 'version = "2c"', 'community = "public"']
    for i in range(n):
        g = i // PER_GROUP
        if i % PER_GROUP == 0:
            out += ["", "[[groups]]", f'id = "g{g:05d}"', 'duty = "mining"',
                    "[[groups.devices]]", f'id = "pdu{g:05d}"', 'kind = "pdu"',
                    f'address = "127.3.{g // 250}.{g % 250 + 1}:161"',
                    'profile = "test-pdu"', 'credentials = "lan"']
            continue
        out += ["[[groups.devices]]", f'id = "m{i:05d}"', 'kind = "miner"',
                f'address = "127.4.{i // 250}.{i % 250 + 1}:161"', 'profile = "test-miner"',
                'credentials = "lan"', f'pdu = "pdu{g:05d}"', f"outlet = {i % PER_GROUP}"]
    path = folder / "site.toml"
    path.write_text("\n".join(out) + "\n")
    return path


def readings(site: Site) -> list[Reading]:
    out = []
    for k, d in enumerate(reversed(site.devices())):  # not in site order: sorted by report
        if d.kind == "pdu":
            out.append(Reading(d.id, 1000.0, Status.OK, {"power_w": 3000.0 + k}))
        elif k % 7 == 0:
            out.append(Reading(d.id, 1000.0, Status.UNREACHABLE, {}, "no answer"))
        else:
            out.append(Reading(d.id, 1000.0, Status.OK,
                               {"hashrate_ths": 100.0 + k % 5, "temp_c": 60.0 + k % 9,
                                "state": "mining"}))
    return out


def stage_costs(folder: Path, n: int) -> dict[str, int]:
    """Lines executed per stage of `poll --once` (and the service's copies) at n devices."""
    cost: dict[str, int] = {}
    cost["load the site file"], site = count_lines(lambda: load_site(write_fleet(folder, n)))
    rs = readings(site)
    cost["look every device up"], found = count_lines(
        lambda: [site.device(r.device) for r in rs])
    assert all(d is not None for d in found)
    cost["build the state"], state = count_lines(lambda: SiteState(site))
    cost["ingest (store and alarms)"], _ = count_lines(lambda: state.ingest(rs, now=1000.0))
    cost["build the report"], doc = count_lines(
        lambda: poll_doc(site, state.store, rs, 1.0, {}))
    assert len(doc["devices"]) == n
    cost["print json and table"], _ = count_lines(lambda: (json.dumps(doc), format_table(doc)))
    cost["site model to a client"], back = count_lines(
        lambda: site_from_doc(json.loads(json.dumps(site_to_doc(site)))))
    assert back.device(rs[0].device) is not None
    return cost


def test_each_stage_grows_linearly(tmp_path: Path) -> None:
    small = stage_costs(tmp_path / "small", N)
    large = stage_costs(tmp_path / "large", 4 * N)
    growth = {k: large[k] / max(small[k], 1) for k in small}
    assert all(small[k] > 0 for k in small), small  # each stage ran opsconsole code
    slow = {k: round(g, 1) for k, g in growth.items() if g > MAX_GROWTH}
    assert not slow, f"grows faster than linear at 4x the devices: {slow} (all: {growth})"


def test_the_counter_catches_a_scan_per_reading(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound is not vacuous: a linear `Site.device`, as it once was, fails it."""

    def scan(self: Site, device_id: str) -> Any:
        for g in self.groups:
            for d in g.devices:
                if d.id == device_id:
                    return d
        return None

    monkeypatch.setattr(Site, "device", scan)
    monkeypatch.setattr(sys.modules[__name__], "ALSO_TRACED", {scan.__code__})
    small = stage_costs(tmp_path / "small", N)
    large = stage_costs(tmp_path / "large", 4 * N)
    assert large["look every device up"] / small["look every device up"] > 2 * MAX_GROWTH


class CountedId(str):
    """A device id that counts the comparisons made against it."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        CountedId.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_a_rule_over_many_devices_finds_each_without_a_scan() -> None:
    """AlarmRule.applies runs per reading and rule: `devices` is looked up, not scanned."""
    from opsconsole.core.alarmrules import AlarmRule
    from opsconsole.core.site import Device

    n = 2000
    rule = AlarmRule("temp_c", ">", 80.0, devices=tuple(CountedId(f"m{i}") for i in range(n)))
    CountedId.compared = 0
    hits = sum(rule.applies(Device(f"m{i}", "miner", "g")) for i in range(n + 5))
    assert hits == n  # the 5 ids not listed do not apply
    assert CountedId.compared <= 2 * n  # a scan of the tuple: ~n * n / 2


def test_duty_targets_listed_twice_each_said_once(tmp_path: Path) -> None:
    """Duplicates in a long `targets` list are found with a set, and every
    repeat (listed or unknown) is named at its own index."""
    from tests.fixtures.sites import site_problems

    shutil.copytree(PROFILES, tmp_path / "profiles")
    ids = [f"m-{i}" for i in range(300)]
    devices = "".join(f'[[groups.devices]]\nid = "{d}"\nkind = "miner"\n'
                      f'address = "127.0.0.1:{16100 + i}"\nprofile = "test-miner"\n'
                      'credentials = "lan"\n' for i, d in enumerate(ids))
    targets = ", ".join(f'"{d}"' for d in [*ids, "zz-9", "m-7", "zz-9"])
    problems = site_problems(tmp_path, f'''[site]
name = "Twice"
[credentials.lan]
version = "2c"
community = "public"
[[groups]]
id = "row-a"
duty = "mining"
{devices}
[[groups.duties.idle]]
action = "snmp-set"
control = "sleep"
targets = [{targets}]
''')
    where = f"{tmp_path / 'site.toml'}: groups[0].duties.idle[0]"
    assert problems == [
        f'{where}.targets[300]: unknown device "zz-9" (not in group "row-a")',
        f'{where}.targets[301]: device "m-7" is listed twice',
        f'{where}.targets[302]: device "zz-9" is listed twice',
    ]
