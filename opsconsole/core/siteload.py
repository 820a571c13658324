"""Load and validate a site file (TOML) into the typed `site.Site`.

Every problem is reported at once, one line each, formatted
`{path}: {key.path}: {problem}` (the path as the caller gave it, list
indexes from 0). Secrets are resolved from the environment and never appear
in a message. Bad input raises `ConfigError`, never anything else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsconsole.core import exporterload, minerapi_config
from opsconsole.core.address import parse_address, want_address
from opsconsole.core.alarmload import check_rule_refs
from opsconsole.core.alarmthresholds import AlarmThresholds
from opsconsole.core.duty.steps import StepContext, check_step
from opsconsole.core.errors import ConfigError
from opsconsole.core.kinds import DEVICE_KINDS, KINDS, NVML, SNMP_KINDS
from opsconsole.core.profileload import (
    Problems,
    ProfileSet,
    check_keys,
    collect_profiles,
    hint,
    is_number,
    join,
    quoted,
    read_toml,
    type_name,
    want_choice,
    want_int,
    want_number,
    want_str,
    want_table,
)
from opsconsole.core.profiles import Profile
from opsconsole.core.site import (
    DUTIES,
    SNMP_ENGINES,
    Credentials,
    Device,
    Group,
    Site,
)
from opsconsole.core.wallconfig import WallConfig

__all__ = ["load_site", "parse_address"]

NVML_MODES = ("auto", "real", "simulated")
SNMP_VERSIONS = ("1", "2c", "3")
AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("DES", "AES", "AES192", "AES256")
MIN_V3_KEY = 8  # RFC 3414: at least 8 characters
MAX_PATH = 4096  # PATH_MAX on Linux
# Ranges of numbers that would fail or hang later (an outlet index is an OID arc,
# an NVML index a device slot): refused by check-config instead.
MAX_OUTLET = 1024  # the largest rack PDUs have 48; an OID arc must stay < 2^32
MAX_POSITION = 1000  # rack units / positions in a rack or row
MAX_NVML_INDEX = 255  # NVML counts GPUs per host in the tens
MAX_KW = 1_000_000  # 1 GW: any budget or expected draw above is a typo
MAX_DEVICES = 25_000  # the console draws its first frame within 3 s up to here (bench)
MAX_GROUPS = MAX_DEVICES  # one group per device is odd, but the console starts fast on it

_TOP_KEYS = ("site", "credentials", "groups", "alarms", "wall", "economics")
_SITE_KEYS = (
    "name",
    "poll_interval_s",
    "power_budget_kw",
    "snmp_timeout_s",
    "snmp_retries",
    "max_concurrency",
    "nvml",
    "snmp_engine",
    "data_dir",
    "approval_kw",
    "approval_ttl_s",
)
_CRED_KEYS = (
    "version",
    "community",
    "community_env",
    "write_community",
    "write_community_env",
    "user",
    "auth_protocol",
    "auth_key",
    "auth_key_env",
    "priv_protocol",
    "priv_key",
    "priv_key_env",
    *minerapi_config.API_CRED_KEYS[1:],  # a miner login: user + password_env
)
_V12_KEYS = ("community", "community_env", "write_community", "write_community_env")
_V3_KEYS = _CRED_KEYS[5:12]
_GROUP_KEYS = ("id", "name", "duty", "expected_kw", "devices", "duties")
_DEVICE_KEYS = (
    "id",
    "kind",
    "address",
    "profile",
    "credentials",
    "nvml_index",
    "uuid",
    "rack",
    "position",
    "pdu",
    "outlet",
    "timeout_s",
    "retries",
    *minerapi_config.API_DEVICE_KEYS,
    *exporterload.SCRAPE_KEYS[:4],
)
_SNMP_ONLY = ("address", "profile", "credentials", "timeout_s", "retries")
_GPU_ONLY = ("nvml_index", "uuid")
_ID = re.compile(r"^[A-Za-z0-9._-]+$")
_ENV_NAME = re.compile(r"^[^=\0]+$")


def load_site(path: Path, *, env: Mapping[str, str] | None = None) -> Site:
    """Parse, validate and type a site file; raise ConfigError with every problem."""
    path = Path(path)
    probs = Problems(str(path))
    try:
        site = _load(path, probs, os.environ if env is None else env)
    except ConfigError:
        raise
    except Exception as exc:  # a validator bug must still not give a traceback
        probs.add("", f"internal error while validating ({type(exc).__name__}); please report it")
        raise ConfigError(probs.lines) from None
    return site


def _load(path: Path, probs: Problems, env: Mapping[str, str]) -> Site:
    data = read_toml(path, probs)
    if data is None:
        raise ConfigError(probs.lines)
    pdir = path.parent / "profiles"
    pset = collect_profiles(pdir if pdir.is_dir() else None)
    site = _SiteLoader(probs, env, pset).site(data, path)
    errors = probs.lines + pset.errors
    if errors or site is None:
        raise ConfigError(errors)
    return site


# --------------------------------------------------------------------------- loader


@dataclass
class _DevEntry:
    device: Device
    path: str


class _SiteLoader:
    def __init__(self, probs: Problems, env: Mapping[str, str], pset: ProfileSet) -> None:
        self.p = probs
        self.env = env
        self.pset = pset
        self.profiles: dict[str, Profile] = pset.profiles
        self.cred_ids: set[str] = set()  # declared, valid or not
        self.creds: dict[str, Credentials] = {}  # the valid ones
        self.devices: dict[str, _DevEntry] = {}

    # ---- top level

    def site(self, data: dict[str, Any], path: Path) -> Site | None:
        check_keys(data, _TOP_KEYS, "", self.p)
        settings = self._site_table(data, path)
        alarms = AlarmThresholds.parse(want_table(data, "alarms", "", self.p) or {}, self.p)
        wall = WallConfig.parse(data, self.p)
        economics = exporterload.parse_economics(data, self.p)
        creds = self._credentials(data)
        raw_groups = self._group_tables(data)
        groups = [self._group(t, f"groups[{i}]") for i, t in raw_groups]
        self._check_group_ids(raw_groups)
        self._check_devices()
        check_rule_refs(alarms.rules, {str(t.get("id")) for _i, t in raw_groups},
                        set(self.devices), self.p)
        every = {did: e.device for did, e in self.devices.items()}  # once, not per group
        built = [self._finish_group(g, every) for g in groups]
        if self.p or settings is None:
            return None
        return Site(
            path=path,
            credentials=creds,
            groups=tuple(built),
            profiles=dict(self.profiles),
            alarms=alarms,
            wall=wall,
            economics=economics,
            **settings,
        )

    def _site_table(self, data: dict[str, Any], file: Path) -> dict[str, Any] | None:
        t = want_table(data, "site", "", self.p, required=True)
        if t is None:
            return None
        p, path = self.p, "site"
        check_keys(t, _SITE_KEYS, path, p)
        name = want_str(t, "name", path, p, required=True)
        out: dict[str, Any] = {"name": name or ""}
        numbers = (
            ("poll_interval_s", want_number(t, "poll_interval_s", path, p, lo=0.5, hi=3600)),
            ("power_budget_kw", want_number(t, "power_budget_kw", path, p, lo=0, lo_open=True,
                                            hi=MAX_KW)),
            ("approval_kw", want_number(t, "approval_kw", path, p, lo=0, hi=MAX_KW)),
            ("approval_ttl_s", want_number(t, "approval_ttl_s", path, p, lo=10, hi=7 * 86400)),
            (
                "snmp_timeout_s",
                want_number(t, "snmp_timeout_s", path, p, lo=0, hi=60, lo_open=True),
            ),
            ("snmp_retries", want_int(t, "snmp_retries", path, p, lo=0, hi=10)),
            ("max_concurrency", want_int(t, "max_concurrency", path, p, lo=1, hi=100_000)),
            ("nvml", want_choice(t, "nvml", NVML_MODES, path, p, what="nvml mode")),
            (
                "snmp_engine",
                want_choice(t, "snmp_engine", SNMP_ENGINES, path, p, what="SNMP engine"),
            ),
        )
        out.update({k: v for k, v in numbers if v is not None})
        data_dir = want_str(t, "data_dir", path, p, max_len=MAX_PATH)
        if data_dir is not None:  # relative to the site file's folder: each copy agrees with itself
            out["data_dir"] = (file.parent / Path(data_dir).expanduser()).absolute()
        return out

    # ---- credentials

    def _credentials(self, data: dict[str, Any]) -> dict[str, Credentials]:
        table = want_table(data, "credentials", "", self.p) or {}
        out: dict[str, Credentials] = {}
        for cid, t in table.items():
            path = join("credentials", cid)
            self.cred_ids.add(cid)
            if not _ID.match(cid):
                self.p.add(path, f"invalid credentials id: use letters, digits, {quoted('._-')}")
            if not isinstance(t, dict):
                self.p.add(path, f"expected a table, got {type_name(t)}")
                continue
            cred = self._credential(cid, t, path)
            if cred is not None:
                out[cid] = cred
        self.creds = out
        return out

    def _credential(self, cid: str, t: dict[str, Any], path: str) -> Credentials | None:
        if minerapi_config.is_api_credential(t):
            return minerapi_config.credential(self, cid, t, path)
        check_keys(t, _CRED_KEYS, path, self.p)
        self._forbid(t, minerapi_config.API_CRED_KEYS[1:], path,
                     "a miner login key: drop version and SNMP keys for a miner login")
        if is_number(t.get("version")):
            self.p.add(join(path, "version"), 'expected a string ("1", "2c" or "3"), got a number')
            return None
        version = want_choice(
            t, "version", SNMP_VERSIONS, path, self.p, required=True, what="version"
        )
        if version is None:
            return None
        if version == "3":
            return self._v3(cid, t, path)
        self._forbid(t, _V3_KEYS, path, f"not used by SNMP version {version} (only by version 3)")
        community = self._secret(t, "community", path, needed=True, min_len=1)
        write = None  # optional: a separate community for SETs
        if "write_community" in t or "write_community_env" in t:
            write = self._secret(t, "write_community", path, needed=True, min_len=1)
        return Credentials(id=cid, version=version, community=community, write_community=write)

    def _v3(self, cid: str, t: dict[str, Any], path: str) -> Credentials:
        self._forbid(t, _V12_KEYS, path, "not used by SNMP version 3 (use user and keys)")
        user = want_str(t, "user", path, self.p, required=True)
        auth = self._protocol(t, "auth_protocol", AUTH_PROTOCOLS, path)
        priv = self._protocol(t, "priv_protocol", PRIV_PROTOCOLS, path)
        if priv and "auth_protocol" not in t:
            self.p.add(
                join(path, "priv_protocol"), "privacy needs authentication: set auth_protocol too"
            )
        auth_key = self._secret(
            t, "auth_key", path, needed="auth_protocol" in t, min_len=MIN_V3_KEY
        )
        priv_key = self._secret(
            t, "priv_key", path, needed="priv_protocol" in t, min_len=MIN_V3_KEY
        )
        return Credentials(
            id=cid,
            version="3",
            user=user,
            auth_protocol=auth,
            auth_key=auth_key,
            priv_protocol=priv,
            priv_key=priv_key,
        )

    def _protocol(
        self, t: dict[str, Any], key: str, choices: tuple[str, ...], path: str
    ) -> str | None:
        value = t.get(key)
        if isinstance(value, str) and value.upper() in choices:
            return value.upper()
        return want_choice(t, key, choices, path, self.p, what="protocol")

    def _forbid(self, t: dict[str, Any], keys: Iterable[str], path: str, why: str) -> None:
        for key in keys:
            if key in t:
                self.p.add(join(path, key), why)

    def _secret(
        self, t: dict[str, Any], key: str, path: str, *, needed: bool, min_len: int
    ) -> str | None:
        """A secret given literally (`key`) or by environment variable (`key_env`).
        Messages name keys and variables, never values."""
        env_key = f"{key}_env"
        has_lit, has_env = key in t, env_key in t
        if not needed:
            proto = key.replace("_key", "_protocol")
            for k in (key, env_key):
                if k in t:
                    self.p.add(join(path, k), f"{proto} is not set, so {k} has no use")
            return None
        if has_lit and has_env:
            self.p.add(join(path, key), f"set either {key} or {env_key}, not both")
            return None
        if not has_lit and not has_env:
            self.p.add(join(path, key), f"missing: set {key} or {env_key}")
            return None
        if has_lit:
            return self._literal_secret(t[key], join(path, key), min_len)
        return self._env_secret(t[env_key], join(path, env_key), min_len)

    def _literal_secret(self, value: object, kpath: str, min_len: int) -> str | None:
        if not isinstance(value, str):
            self.p.add(kpath, f"expected a string, got {type_name(value)}")
            return None
        if not value:
            self.p.add(kpath, "must not be empty")
            return None
        if len(value) < min_len:
            self.p.add(kpath, f"too short: SNMPv3 keys need at least {min_len} characters")
            return None
        return value

    def _env_secret(self, name: object, kpath: str, min_len: int) -> str | None:
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            self.p.add(kpath, f"expected an environment variable name, got {type_name(name)}")
            return None
        value = self.env.get(name)
        if value is None:
            self.p.add(kpath, f'environment variable "{name}" is not set')
            return None
        if not value:
            self.p.add(kpath, f'environment variable "{name}" is empty')
            return None
        if len(value) < min_len:
            self.p.add(
                kpath,
                f'the value of environment variable "{name}" is too short: '
                f"SNMPv3 keys need at least {min_len} characters",
            )
            return None
        return value

    # ---- groups and devices

    def _group_tables(self, data: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
        return self._table_list(data, "groups", "", "groups")

    def _table_list(
        self, t: dict[str, Any], key: str, path: str, header: str
    ) -> list[tuple[int, dict[str, Any]]]:
        if key not in t:
            return []
        value = t[key]
        kpath = join(path, key)
        if not isinstance(value, list):
            self.p.add(kpath, f"expected an array of tables ([[{header}]]), got {type_name(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((i, item))
            else:
                self.p.add(f"{kpath}[{i}]", f"expected a table, got {type_name(item)}")
        return out

    def _ident(self, t: dict[str, Any], path: str, what: str) -> str | None:
        value = want_str(t, "id", path, self.p, required=True)
        if value is not None and not _ID.match(value):
            self.p.add(
                join(path, "id"),
                f'invalid {what} id "{value}": use letters, digits, {quoted("._-")}',
            )
            return None
        return value

    def _group(self, t: dict[str, Any], path: str) -> _RawGroup:
        check_keys(t, _GROUP_KEYS, path, self.p)
        gid = self._ident(t, path, "group")
        name = want_str(t, "name", path, self.p)
        duty = want_choice(t, "duty", DUTIES, path, self.p, required=True, what="duty")
        expected = self._expected_kw(t, path)
        devices = [
            self._device(dt, f"{path}.devices[{j}]", gid or "")
            for j, dt in self._table_list(t, "devices", path, "groups.devices")
        ]
        duties = self._duty_tables(t, path)
        return _RawGroup(
            path, gid or "", name or gid or "", duty or "idle", expected, devices, duties
        )

    def _check_group_ids(self, raw: list[tuple[int, dict[str, Any]]]) -> None:
        if len(raw) > MAX_GROUPS:
            self.p.add("groups", f"{len(raw):,} groups: at most {MAX_GROUPS:,} per site file")
        seen: dict[str, int] = {}
        for i, t in raw:
            gid = t.get("id")
            if not isinstance(gid, str):
                continue
            if gid in seen:
                self.p.add(
                    f"groups[{i}].id", f'duplicate group id "{gid}" (also groups[{seen[gid]}])'
                )
            else:
                seen[gid] = i

    def _expected_kw(self, t: dict[str, Any], path: str) -> dict[str, float]:
        table = want_table(t, "expected_kw", path, self.p) or {}
        kpath = join(path, "expected_kw")
        check_keys(table, DUTIES, kpath, self.p)
        out = {}
        for duty in DUTIES:
            value = want_number(table, duty, kpath, self.p, lo=0, hi=MAX_KW)
            if value is not None:
                out[duty] = value
        return out

    def _device(self, t: dict[str, Any], path: str, group: str) -> _DevEntry:
        check_keys(t, _DEVICE_KEYS, path, self.p)
        did = self._ident(t, path, "device")
        kind = want_choice(t, "kind", DEVICE_KINDS, path, self.p, required=True, what="kind")
        fields: dict[str, Any] = {}
        if kind is not None and KINDS[kind].transport == NVML:
            self._forbid(
                t, _SNMP_ONLY, path, f"not used by {kind} devices (they are read through NVML)"
            )
            fields.update(self._gpu_fields(t, path))
        elif kind in exporterload.SCRAPED_KINDS:
            self._forbid(t, (*_GPU_ONLY, "address", "profile", "credentials", "retries",
                             "api", "firmware"), path,
                         f"not used by {kind} devices (they are scraped over HTTP)")
            fields.update(exporterload.scraped_fields(t, kind, path, self.p))
        elif kind is not None and "api" in t:
            self._forbid(t, _GPU_ONLY, path, f"only for gpu devices, not {kind}")
            fields.update(minerapi_config.device_fields(self, t, path, kind))
        elif kind is not None:
            self._forbid(t, _GPU_ONLY, path, f"only for gpu devices, not {kind}")
            self._forbid(t, ("firmware", "web_port"), path,
                         'only for api miners (set api = "cgminer")')
            fields.update(self._snmp_fields(t, path))
        if kind is not None and kind not in exporterload.SCRAPED_KINDS:
            exporterload.forbid_scrape_keys(t, kind, path, self.p)
        fields.update(self._placement(t, path))
        entry = _DevEntry(Device(id=did or "", kind=kind or "", group=group, **fields), path)
        if did is not None:
            self._register(entry)
        return entry

    def _register(self, entry: _DevEntry) -> None:
        did = entry.device.id
        if did in self.devices:
            self.p.add(
                join(entry.path, "id"),
                f'duplicate device id "{did}" (also {self.devices[did].path})',
            )
        else:
            self.devices[did] = entry

    def _gpu_fields(self, t: dict[str, Any], path: str) -> dict[str, Any]:
        index = want_int(t, "nvml_index", path, self.p, lo=0, hi=MAX_NVML_INDEX)
        uuid = want_str(t, "uuid", path, self.p)
        if uuid is not None and not uuid.startswith("GPU-"):
            self.p.add(join(path, "uuid"), f'"{uuid}" is not a GPU UUID (they start with "GPU-")')
            uuid = None
        if "nvml_index" in t and "uuid" in t:
            self.p.add(join(path, "nvml_index"), "set either nvml_index or uuid, not both")
        elif "nvml_index" not in t and "uuid" not in t:
            self.p.add(join(path, "nvml_index"), "missing: gpu devices need nvml_index or uuid")
        return {"nvml_index": index, "uuid": uuid}

    def _snmp_fields(self, t: dict[str, Any], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        parsed = want_address(t, path, self.p)
        if parsed is not None:
            out["host"], out["port"] = parsed
        out["profile"] = want_str(t, "profile", path, self.p, required=True)
        out["credentials"] = want_str(t, "credentials", path, self.p, required=True)
        out["timeout_s"] = want_number(t, "timeout_s", path, self.p, lo=0, hi=60, lo_open=True)
        out["retries"] = want_int(t, "retries", path, self.p, lo=0, hi=10)
        return out

    def _placement(self, t: dict[str, Any], path: str) -> dict[str, Any]:
        out = {
            "rack": want_str(t, "rack", path, self.p),
            "position": want_int(t, "position", path, self.p, lo=0, hi=MAX_POSITION),
            "pdu": want_str(t, "pdu", path, self.p),
            "outlet": want_int(t, "outlet", path, self.p, lo=1, hi=MAX_OUTLET),
        }
        if "outlet" in t and "pdu" not in t:
            self.p.add(
                join(path, "outlet"), "outlet needs pdu (the id of the PDU feeding this device)"
            )
        if "pdu" in t and "outlet" not in t:
            self.p.add(join(path, "pdu"), "pdu needs outlet (the outlet index on that PDU)")
        return out

    # ---- cross references

    def _check_devices(self) -> None:
        if len(self.devices) > MAX_DEVICES:
            self.p.add("groups", f"{len(self.devices):,} devices: at most {MAX_DEVICES:,} per site "
                       "file (split the site)")
        gpu_index: dict[int, str] = {}
        gpu_uuid: dict[str, str] = {}
        for entry in self.devices.values():
            dev, path = entry.device, entry.path
            if dev.kind in SNMP_KINDS:
                self._check_profile_ref(dev, path)
                self._check_cred_ref(dev, path)
                minerapi_config.check_cred_kind(self, dev, path, self.creds)
            if dev.pdu is not None:
                self._check_pdu_ref(dev, path)
            if dev.nvml_index is not None:
                self._unique(
                    gpu_index, dev.nvml_index, dev.id, join(path, "nvml_index"), "GPU index"
                )
            if dev.uuid is not None:
                self._unique(gpu_uuid, dev.uuid, dev.id, join(path, "uuid"), "GPU UUID")

    def _unique(self, seen: dict[Any, str], key: object, did: str, kpath: str, what: str) -> None:
        if key in seen:
            self.p.add(kpath, f'{what} {key} is already used by device "{seen[key]}"')
        else:
            seen[key] = did

    def _check_profile_ref(self, dev: Device, path: str) -> None:
        name = dev.profile
        if name is None or (name in self.pset.broken and name not in self.profiles):
            return
        prof = self.profiles.get(name)
        if prof is None:
            self.p.add(
                join(path, "profile"), f'unknown profile "{name}"{hint(name, self.profiles)}'
            )
        elif prof.kind != dev.kind:
            self.p.add(
                join(path, "profile"),
                f'profile "{name}" is for {prof.kind} devices, not {dev.kind}',
            )

    def _check_cred_ref(self, dev: Device, path: str) -> None:
        name = dev.credentials
        if name is not None and name not in self.cred_ids:
            self.p.add(
                join(path, "credentials"),
                f'unknown credentials "{name}"{hint(name, self.cred_ids)}',
            )

    def _check_pdu_ref(self, dev: Device, path: str) -> None:
        ref = dev.pdu
        kpath = join(path, "pdu")
        target = self.devices.get(ref or "")
        if ref == dev.id:
            self.p.add(kpath, "a device cannot be fed by itself")
        elif target is None:
            self.p.add(kpath, f'unknown device "{ref}"{hint(ref or "", self.devices)}')
        elif target.device.kind != "pdu":
            self.p.add(kpath, f'device "{ref}" is a {target.device.kind or "device"}, not a pdu')

    # ---- duties

    def _duty_tables(
        self, t: dict[str, Any], path: str
    ) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        table = want_table(t, "duties", path, self.p) or {}
        dpath = join(path, "duties")
        out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for duty in table:
            if duty not in DUTIES:
                self.p.add(
                    join(dpath, duty),
                    f'unknown duty "{duty}": expected one of {quoted(DUTIES)}{hint(duty, DUTIES)}',
                )
                continue
            steps = self._table_list(table, duty, dpath, f"groups.duties.{duty}")
            out[duty] = [(f"{join(dpath, duty)}[{i}]", st) for i, st in steps]
        return out

    def _finish_group(self, raw: _RawGroup, every: dict[str, Device]) -> Group:
        members = {e.device.id: e.device for e in raw.devices if e.device.id}
        ctx = StepContext(self.p, raw.id, members, every, self.profiles)
        duties = {}
        for duty, steps in raw.duties.items():
            built = [check_step(ctx, t, path) for path, t in steps]
            duties[duty] = tuple(s for s in built if s is not None)
        return Group(
            id=raw.id,
            name=raw.name,
            duty=raw.duty,
            devices=tuple(exporterload.with_gpu_slots([e.device for e in raw.devices])),
            expected_kw=raw.expected,
            duties=duties,
        )


@dataclass
class _RawGroup:
    path: str
    id: str
    name: str
    duty: str
    expected: dict[str, float]
    devices: list[_DevEntry]
    duties: dict[str, list[tuple[str, dict[str, Any]]]]
