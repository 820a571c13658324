"""Site file loading: the example loads; every malformed file gives the exact
lines expected, all at once, never a traceback and never a secret."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from opsconsole.core.errors import ConfigError
from opsconsole.core.paths import profiles_dir, resources_dir
from opsconsole.core.site import Site
from opsconsole.core.siteload import load_site, parse_address

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad_sites"
GOOD = DATA / "sites"
TEST_PROFILES = GOOD / "profiles"
EXAMPLE = resources_dir() / "examples" / "site.toml"

ENV = {
    "OPS_AUTH": "auth-key-from-env",
    "OPS_PRIV": "priv-key-from-env",
    "PDU_COMMUNITY": "pdu-community-from-env",
    "PDU_WRITE_COMMUNITY": "pdu-write-community-from-env",
    "LAN_COMMUNITY": "lan-community-from-env",
}
# Every secret any test file or environment holds: none may appear in a message.
SECRETS = [*ENV.values(), "s3cr3t-community", "short12", "sekrit-token"]

# file -> substrings that must each appear in some error line (key path: problem)
EXPECTED: dict[str, list[str]] = {
    "toml_syntax.toml": ["line 3, column 15: TOML syntax error"],
    "unknown_top_key.toml": ['sites: unknown key "sites" (did you mean "site"?)'],
    "typo_site_key.toml": [
        'site.poll_intervall_s: unknown key "poll_intervall_s" (did you mean "poll_interval_s"?)'
    ],
    "missing_name.toml": ["site.name: missing required key"],
    "interval_type.toml": ["site.poll_interval_s: expected a number, got a string"],
    "bool_as_int.toml": ["site.snmp_retries: expected an integer, got a boolean"],
    "duplicate_device_id.toml": [
        'groups[1].devices[0].id: duplicate device id "m-1" (also groups[0].devices[0])'
    ],
    "duplicate_group_id.toml": ['groups[1].id: duplicate group id "row-a" (also groups[0])'],
    "unknown_profile.toml": ['groups[0].devices[0].profile: unknown profile "s19x"'],
    "profile_kind_mismatch.toml": [
        'groups[0].devices[0].profile: profile "net-snmp-host" is for host devices, not miner'
    ],
    "unknown_credentials.toml": [
        'groups[0].devices[0].credentials: unknown credentials "lan-v2" (did you mean "lan-v2c"?)'
    ],
    "bad_address.toml": [
        'groups[0].devices[0].address: "10.0.1.300" is not a valid IPv4 address',
        'groups[0].devices[1].address: "miner_2.example" is not a valid host name',
    ],
    "bad_port.toml": [
        "groups[0].devices[0].address: port 70000 is out of range (must be 1..65535)",
        'groups[0].devices[1].address: "[::1:1161": missing "]"',
    ],
    "missing_env.toml": [
        'credentials.ops-v3.auth_key_env: environment variable "OPSCONSOLE_TEST_UNSET" is not set'
    ],
    "v3_priv_without_auth.toml": [
        "credentials.ops-v3.priv_protocol: privacy needs authentication: set auth_protocol too"
    ],
    "unknown_auth_protocol.toml": ['credentials.ops-v3.auth_protocol: unknown protocol "SHA3"'],
    "short_v3_key.toml": [
        "credentials.ops-v3.auth_key: too short: SNMPv3 keys need at least 8 characters"
    ],
    "gpu_index_and_uuid.toml": [
        "groups[0].devices[0].nvml_index: set either nvml_index or uuid, not both"
    ],
    "dangling_pdu.toml": ['groups[0].devices[0].pdu: unknown device "pdu-zz"'],
    "pdu_ref_miner.toml": ['groups[0].devices[1].pdu: device "m-1" is a miner, not a pdu'],
    "outlet_without_pdu.toml": ["groups[0].devices[0].outlet: outlet needs pdu"],
    "unknown_duty.toml": ['groups[0].duties.sleeping: unknown duty "sleeping"'],
    "unknown_action.toml": ['groups[0].duties.idle[0].action: unknown action "reboot"'],
    "snmp_set_unknown_control.toml": [
        'groups[0].duties.idle[0].control: control "hibernate" is not defined in profile '
        '"test-miner" (used by m-1)'
    ],
    "target_not_in_group.toml": [
        'groups[0].duties.idle[0].targets[1]: device "b-1" is in group "row-b", '
        'not in group "row-a"',
        'groups[0].duties.idle[0].targets[2]: unknown device "zz-9"',
    ],
    "wait_metric_unknown.toml": [
        'groups[0].duties.idle[0].metric: unknown metric "hashrate_th" '
        '(did you mean "hashrate_ths"?)'
    ],
    "many_errors.toml": [
        "site.name: must not be empty",
        "site.poll_interval_s: 0 is out of range (must be 0.5..3600)",
        'site.nvml: unknown nvml mode "fake"',
        "credentials.lan.community: set either community or community_env, not both",
        'credentials.v3.version: expected a string ("1", "2c" or "3"), got a number',
        'groups[0].id: invalid group id "row a"',
        'groups[0].duty: unknown duty "sleep"',
        'groups[0].expected_kw.gaming: unknown key "gaming"',
        "groups[0].expected_kw.mining: -1 is out of range (must be 0..1000000)",
        'groups[0].devices[0].kind: unknown kind "asic"',
        "groups[0].devices[1].address: not used by gpu devices",
        "groups[0].devices[1].nvml_index: -1 is out of range (must be 0..255)",
        'groups[0].duties.idle[0].volts: unknown key "volts"',
        "groups[0].duties.idle[0].watts: 0 is out of range",
    ],
    "duplicate_nvml_index.toml": [
        'groups[0].devices[1].nvml_index: GPU index 0 is already used by device "gpu-0"'
    ],
    "groups_not_array.toml": ["groups: expected an array of tables ([[groups]]), got a table"],
    "community_both.toml": [
        "credentials.lan.community: set either community or community_env, not both"
    ],
    "unknown_step_key.toml": [
        'groups[0].duties.idle[0].contol: unknown key "contol" (did you mean "control"?)',
        'groups[0].duties.idle[0].watts: unknown key "watts"',
        "groups[0].duties.idle[0].control: missing required key",
    ],
    "pdu_outlet_unfed.toml": [
        "groups[0].duties.idle[0].targets: pdu-outlet needs targets with pdu and outlet; "
        "these have none: a-1",
        'groups[0].duties.idle[0].state: profile "test-pdu-meter" (of pdu "p-1") has no control '
        '"outlet_on"',
    ],
    "gpu_with_snmp_keys.toml": [
        "groups[0].devices[0].address: not used by gpu devices",
        "groups[0].devices[0].profile: not used by gpu devices",
        "groups[0].devices[0].credentials: not used by gpu devices",
        "groups[0].devices[0].nvml_index: missing: gpu devices need nvml_index or uuid",
    ],
    "http_bad_url.toml": [
        "groups[0].duties.inference[0].url: must be an http:// or https:// URL",
        'groups[0].duties.inference[0].method: unknown method "PUT"',
        "groups[0].duties.inference[0].expect_status: expected an integer, got a string",
    ],
    "command_bad.toml": [
        "groups[0].duties.inference[0].argv: expected a non-empty list of strings",
        "groups[0].duties.inference[0].env.TOKEN: expected a string, got an integer",
        "groups[0].duties.inference[0].timeout_s: -5 is out of range",
    ],
    "nonfinite.toml": [
        "site.poll_interval_s: must be a finite number",
        "site.power_budget_kw: must be a finite number",
        "site.snmp_timeout_s: 0 is out of range",
        "site.max_concurrency: 0 is out of range",
    ],
    "write_community_v3.toml": [
        "credentials.ops-v3.write_community: not used by SNMP version 3",
        "credentials.lan.user: not used by SNMP version 2c (only by version 3)",
    ],
    "duty_value_types.toml": [
        'groups[0].duties.idle[0].op: unknown operator "=<"',
        "groups[0].duties.idle[0].value: expected a number, got a string",
        "groups[0].duties.idle[1].op: this metric is a state: compare it with == or !=",
        'groups[0].duties.idle[2].metric: no target reports "util_pct"',
    ],
}


def _with_test_profiles(src: Path, dest_dir: Path) -> Path:
    """Copy a site file beside a copy of the test-only profiles/ folder."""
    shutil.copytree(TEST_PROFILES, dest_dir / "profiles", dirs_exist_ok=True)
    dest = dest_dir / src.name
    shutil.copyfile(src, dest)
    return dest


def _errors(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_site(path, env=ENV if env is None else env)
    return info.value.errors


# --------------------------------------------------------------------------- bad files


def test_every_bad_file_has_expectations() -> None:
    files = {p.name for p in BAD.glob("*.toml")}
    assert files == set(EXPECTED)
    assert len(files) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_site(name: str, tmp_path: Path) -> None:
    path = _with_test_profiles(BAD / name, tmp_path)
    errors = _errors(path)
    prefix = f"{path}: "
    for line in errors:
        assert line.startswith(prefix), line
        assert "\n" not in line
        assert "internal error" not in line
        for secret in SECRETS:
            assert secret not in line, f"secret leaked: {line}"
    bodies = [line[len(prefix) :] for line in errors]
    for want in EXPECTED[name]:
        assert any(want in body for body in bodies), f"{want!r} not in:\n" + "\n".join(bodies)


def test_many_errors_reported_at_once(tmp_path: Path) -> None:
    path = _with_test_profiles(BAD / "many_errors.toml", tmp_path)
    assert len(_errors(path)) >= len(EXPECTED["many_errors.toml"])


def test_path_as_given_by_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_test_profiles(BAD / "unknown_profile.toml", tmp_path)
    monkeypatch.chdir(tmp_path)
    errors = _errors(Path("unknown_profile.toml"))
    assert errors == ['unknown_profile.toml: groups[0].devices[0].profile: unknown profile "s19x"']


def test_missing_file(tmp_path: Path) -> None:
    errors = _errors(tmp_path / "nope.toml")
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'nope.toml'}: cannot read file")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[site]\nname = "Caf\xe9"\n')
    assert "not UTF-8" in _errors(path)[0]


def test_short_key_from_env_not_printed(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        '[site]\nname = "X"\n[credentials.v3]\nversion = "3"\nuser = "u"\n'
        'auth_protocol = "SHA"\nauth_key_env = "K"\n'
    )
    errors = _errors(path, env={"K": "tiny7ch"})
    assert errors == [
        f'{path}: credentials.v3.auth_key_env: the value of environment variable "K" is too '
        "short: SNMPv3 keys need at least 8 characters"
    ]


def test_broken_profile_reported_without_cascade(tmp_path: Path) -> None:
    path = _with_test_profiles(GOOD / "minimal.toml", tmp_path)
    (tmp_path / "profiles" / "test-miner.toml").write_text(
        'name = "test-miner"\nkind = "miner"\n[metrics.hashrate_ths]\noid = "not.an.oid"\n'
    )
    errors = _errors(path)
    prof = tmp_path / "profiles" / "test-miner.toml"
    assert errors == [
        f'{prof}: metrics.hashrate_ths.oid: "not.an.oid" is not a dotted numeric OID '
        '(like "1.3.6.1.2.1.1.3.0")'
    ]


# --------------------------------------------------------------------------- good files


@pytest.fixture
def example_path(tmp_path: Path) -> Path:
    """The shipped example; if a profile it names is not shipped yet, a copy
    with a stand-in beside it (tests depend on names only)."""
    shipped = profiles_dir()
    missing = [n for n in ("sim-miner", "apc-rpdu2") if not (shipped / f"{n}.toml").exists()]
    if not missing:
        return EXAMPLE
    (tmp_path / "profiles").mkdir()
    stand_in = {"sim-miner": "test-miner", "apc-rpdu2": "test-pdu"}
    for name in missing:
        text = (TEST_PROFILES / f"{stand_in[name]}.toml").read_text()
        (tmp_path / "profiles" / f"{name}.toml").write_text(text.replace(stand_in[name], name))
    dest = tmp_path / "site.toml"
    shutil.copyfile(EXAMPLE, dest)
    return dest


def test_example_loads(example_path: Path) -> None:
    site = load_site(example_path, env=ENV)
    assert isinstance(site, Site)
    assert site.name == "Example hybrid site"
    assert site.path == example_path
    assert site.power_budget_kw == 900
    assert [g.id for g in site.groups] == ["row-a", "row-g"]
    assert {"sim-miner", "apc-rpdu2", "net-snmp-host"} <= set(site.profiles)
    a02 = site.device("a-02")
    assert a02 is not None and (a02.host, a02.port) == ("miner-a02.site.example", 1161)
    a03 = site.device("a-03")
    assert a03 is not None and (a03.host, a03.port) == ("2001:db8::13", 161)
    pdu = site.device("pdu-a1")
    assert pdu is not None and (pdu.timeout_s, pdu.retries) == (3.0, 2)
    gpu1 = site.device("gpu-1")
    assert gpu1 is not None and gpu1.uuid is not None and gpu1.nvml_index is None
    creds = site.credentials
    assert creds["ops-v3"].auth_key == ENV["OPS_AUTH"]
    assert creds["ops-v3"].priv_key == ENV["OPS_PRIV"]
    assert creds["ops-v3"].auth_protocol == "SHA256"
    assert creds["ops-v3"].security_level == "authPriv"
    assert creds["monitor-v3"].security_level == "noAuthNoPriv"
    assert creds["pdu-v2c"].community == ENV["PDU_COMMUNITY"]
    assert creds["pdu-v2c"].write_community == ENV["PDU_WRITE_COMMUNITY"]
    assert (creds["lan-v2c"].community, creds["lan-v2c"].write_community) == ("public", "private")
    assert creds["legacy-v1"].write_community is None
    assert ENV["OPS_AUTH"] not in repr(site)


def test_example_duties(example_path: Path) -> None:
    site = load_site(example_path, env=ENV)
    row_a, row_g = site.groups
    assert row_a.expected_kw == {"mining": 10.0, "inference": 0.3, "idle": 0.3}
    mining = row_a.duties["mining"]
    assert [s.action for s in mining] == ["pdu-outlet", "snmp-set", "wait-metric"]
    assert mining[0].params == {"state": "on"}
    assert mining[1].params == {"control": "wake", "timeout_s": 30.0}
    assert mining[2].params == {"metric": "hashrate_ths", "op": ">=", "value": 50, "timeout_s": 600}
    assert row_a.duties["idle"][0].targets == ("a-01", "a-02", "a-03")
    inference = row_g.duties["inference"]
    actions = [s.action for s in inference]
    assert actions == ["nvml-power-limit", "command", "http", "wait-metric"]
    assert inference[0].targets == "gpus" and inference[0].params["watts"] == 350
    assert inference[1].params["argv"] == ("systemctl", "start", "inference@row-g")
    assert inference[1].params["env"] == {"INFERENCE_PROFILE": "default"}
    assert inference[2].params == {
        "url": "http://127.0.0.1:8000/health",
        "method": "GET",
        "expect_status": 200,
        "timeout_s": 120.0,
    }
    assert inference[1].targets == "all"


def test_example_env_from_os_environ(example_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    site = load_site(example_path)
    assert site.credentials["ops-v3"].auth_key == ENV["OPS_AUTH"]


def test_example_without_env_names_every_variable(example_path: Path) -> None:
    errors = _errors(example_path, env={})
    assert sorted(re.findall(r'variable "(\w+)"', "\n".join(errors))) == [
        "OPS_AUTH",
        "OPS_PRIV",
        "PDU_COMMUNITY",
        "PDU_WRITE_COMMUNITY",
    ]


def test_minimal_defaults(tmp_path: Path) -> None:
    site = load_site(_with_test_profiles(GOOD / "minimal.toml", tmp_path), env={})
    assert (site.poll_interval_s, site.snmp_timeout_s, site.snmp_retries) == (10.0, 2.0, 1)
    assert (site.max_concurrency, site.nvml, site.power_budget_kw) == (1024, "auto", None)
    (group,) = site.groups
    assert (group.name, group.duty, group.duties, group.expected_kw) == ("row-a", "mining", {}, {})
    (dev,) = group.devices
    assert (dev.host, dev.port, dev.profile, dev.credentials) == (
        "127.0.0.1",
        16100,
        "test-miner",
        "lan",
    )
    assert dev.group == "row-a" and dev.timeout_s is None and dev.retries is None
    assert site.credentials["lan"].community == "public"
    assert site.profiles["test-miner"].controls["sleep"].value == 0


def test_empty_site(tmp_path: Path) -> None:
    site = load_site(_with_test_profiles(GOOD / "empty.toml", tmp_path), env={})
    assert site.name == "Empty" and site.groups == ()


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("10.0.1.11", ("10.0.1.11", 161)),
        ("10.0.1.11:1161", ("10.0.1.11", 1161)),
        ("miner-01.row-a.site.example", ("miner-01.row-a.site.example", 161)),
        ("localhost:16100", ("localhost", 16100)),
        ("host.example.", ("host.example.", 161)),
        ("[::1]:1161", ("::1", 1161)),
        ("[::1]", ("::1", 161)),
        ("2001:db8::1", ("2001:db8::1", 161)),
        ("fe80::1%eth0", ("fe80::1%eth0", 161)),
    ],
)
def test_parse_address_ok(text: str, want: tuple[str, int]) -> None:
    assert parse_address(text) == want


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("10.0.0.256", "not a valid IPv4"),
        ("1.2.3", "not a valid IPv4"),
        ("host:0", "out of range"),
        ("host:65536", "out of range"),
        ("host:abc", "is not a number"),
        ("host:", "is not a number"),
        (":161", "host is empty"),
        ("-bad.example", "not a valid host name"),
        ("bad-.example", "not a valid host name"),
        ("a..b", "not a valid host name"),
        ("x" * 64 + ".example", "not a valid host name"),
        ("under_score", "not a valid host name"),
        ("[::1]1161", 'expected ":PORT"'),
        ("[zz::1]:161", "not a valid IPv6"),
        ("2001:db8::1:161:x", "not a valid IPv6"),
        ("::1:1161:", "not a valid IPv6"),
    ],
)
def test_parse_address_bad(text: str, problem: str) -> None:
    result = parse_address(text)
    assert isinstance(result, str) and problem in result


# --------------------------------------------------------------------------- robustness


_JUNK = ["true", "-1", "0", '""', "[]", "{}", '"zz"', "1.5", "[1, 2]", '["x"]']


def _mutations(text: str) -> list[str]:
    """The example with one value replaced by junk, or one line dropped."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*[\w.-]+\s*=\s*)", line)
        if not m:
            continue
        out.append("\n".join(lines[:i] + lines[i + 1 :]))
        for junk in _JUNK[i % 3 :: 3]:
            out.append("\n".join([*lines[:i], m.group(1) + junk, *lines[i + 1 :]]))
    return out


def test_mutated_example_never_tracebacks(example_path: Path, tmp_path: Path) -> None:
    text = example_path.read_text()
    work = tmp_path / "mut"
    work.mkdir()
    if (example_path.parent / "profiles").is_dir():
        shutil.copytree(example_path.parent / "profiles", work / "profiles")
    path = work / "site.toml"
    variants = _mutations(text)
    assert len(variants) > 150
    for variant in variants:
        path.write_text(variant)
        try:
            load_site(path, env=ENV)
        except ConfigError as exc:
            assert exc.errors
            for line in exc.errors:
                assert line.startswith(f"{path}: ") or "/profiles/" in line, line
                assert "internal error" not in line, line
                assert not any(s in line for s in SECRETS), line


def test_alarms_table_overrides_defaults(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('[site]\nname = "x"\n[alarms]\nminer_temp_c = 80\nunreachable_intervals = 3\n')
    t = load_site(f).alarms
    assert (t.miner_temp_c, t.unreachable_intervals, t.gpu_temp_c) == (80.0, 3.0, 83.0)


def test_alarms_table_is_validated_like_the_rest(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('[site]\nname = "x"\n[alarms]\ngpu_tmp_c = 80\nhashrate_min_pct = 120\n'
                 'unreachable_intervals = "two"\n')
    with pytest.raises(ConfigError) as e:
        load_site(f)
    lines = e.value.errors
    assert any('alarms.gpu_tmp_c: unknown key "gpu_tmp_c" (did you mean "gpu_temp_c"?)' in x
               for x in lines)
    assert any("alarms.hashrate_min_pct: 120 is out of range" in x for x in lines)
    assert any("alarms.unreachable_intervals: expected a number" in x for x in lines)
    assert all(x.startswith(str(f)) for x in lines) and len(lines) == 3


def test_an_action_is_added_in_its_own_module(tmp_path: Path, monkeypatch) -> None:
    """A new duty action registers its schema in core/duty/steps.py: the
    site loader then takes its keys and reports its problems, unchanged."""
    from opsconsole.core.duty import steps

    monkeypatch.setattr(steps, "ACTIONS", dict(steps.ACTIONS))

    @steps.action("say", ("word",), timeout_s=5.0)
    def _say(ctx, t, path, targets, devices):
        return {"word": steps.want_str(t, "word", path, ctx.probs, required=True)}

    f = tmp_path / "site.toml"
    site = ('[site]\nname = "x"\n[[groups]]\nid = "g"\nduty = "idle"\n'
            '[[groups.duties.idle]]\naction = "say"\n')
    f.write_text(site + 'word = "hi"\n')
    step = load_site(f).group("g").duties["idle"][0]
    assert (step.action, step.params) == ("say", {"word": "hi"})
    f.write_text(site + 'wrd = "hi"\n')
    with pytest.raises(ConfigError) as exc:
        load_site(f)
    assert exc.value.errors == [
        f'{f}: groups[0].duties.idle[0].wrd: unknown key "wrd" (did you mean "word"?)',
        f"{f}: groups[0].duties.idle[0].word: missing required key",
    ]
