"""The typed site model (what a validated site.toml becomes).

Loading and validation live in `siteload`; this module only holds shapes so
that every layer can import it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

from opsconsole.core.alarmthresholds import AlarmThresholds
from opsconsole.core.profiles import Profile
from opsconsole.core.wallconfig import WallConfig

DUTIES = ("mining", "inference", "idle")
DEFAULT_SNMP_PORT = 161
# auto: the lean engine, with pysnmp for SET, SNMPv3 and odd agents
SNMP_ENGINES = ("auto", "pysnmp", "lean")


@dataclass(frozen=True, slots=True)
class Credentials:
    id: str
    version: str  # "1" | "2c" | "3"
    community: str | None = None  # resolved secret (v1/v2c)
    user: str | None = None
    auth_protocol: str | None = None  # MD5 SHA SHA224 SHA256 SHA384 SHA512
    auth_key: str | None = None  # resolved secret
    priv_protocol: str | None = None  # DES AES AES192 AES256
    priv_key: str | None = None  # resolved secret
    write_community: str | None = None  # resolved secret for SETs (v1/v2c); None: use community
    password: str | None = None  # resolved secret: a miner's own API / web login (version "api")

    def __repr__(self) -> str:  # secrets must never reach logs
        return f"Credentials(id={self.id!r}, version={self.version!r})"

    __str__ = __repr__

    @property
    def security_level(self) -> str:
        if self.version != "3":
            return "community"
        if self.priv_protocol:
            return "authPriv"
        if self.auth_protocol:
            return "authNoPriv"
        return "noAuthNoPriv"


class StepParams(TypedDict, total=False):
    """A duty step's validated parameters: each action's own keys, checked by
    its schema in core/duty/steps.py (a new action adds its keys here)."""

    timeout_s: float  # every action
    control: str  # snmp-set
    state: str  # pdu-outlet: on | off | cycle; miner-power: sleep | wake
    watts: float  # nvml-power-limit
    argv: tuple[str, ...]  # command
    env: dict[str, str]  # command (values may be secrets)
    url: str  # http (may carry a token)
    method: str
    expect_status: int
    metric: str  # wait-metric
    op: str
    value: float | int | str


@dataclass(frozen=True, slots=True)
class DutyStep:
    action: str  # a name in core/duty/steps.py ACTIONS
    targets: str | tuple[str, ...] = "all"  # miners | gpus | pdus | all | device ids
    params: StepParams = field(default_factory=lambda: StepParams())


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    kind: str  # miner | pdu | gpu | host
    group: str
    host: str | None = None  # SNMP devices
    port: int = DEFAULT_SNMP_PORT
    profile: str | None = None
    credentials: str | None = None
    nvml_index: int | None = None  # gpu devices
    uuid: str | None = None
    rack: str | None = None
    position: int | None = None
    pdu: str | None = None
    outlet: int | None = None
    timeout_s: float | None = None  # None: the site default
    retries: int | None = None
    api: str | None = None  # "cgminer": read over the miner's JSON API (TCP 4028), no profile
    firmware: str | None = None  # api miners: auto | antminer | braiins | whatsminer | ...
    web_port: int | None = None  # api miners: the vendor HTTP port (default 80), for control
    # gpu-host (exporter) and inference (endpoint) devices: the scraped URL;
    # a GPU behind a gpu-host carries its host's URL, its `parent` and `slot`.
    url: str | None = None
    server: str | None = None  # inference: auto | vllm | tgi | triton
    gpus: int | None = None  # gpu-host: GPU slots kept for it
    parent: str | None = None
    slot: int | None = None

    @property
    def address(self) -> str:
        if self.url is not None:
            where = shown_url(self.url)
            return where if self.slot is None else f"{where} gpu {self.slot}"
        if self.kind == "gpu":
            return f"nvml:{self.uuid or self.nvml_index}"
        if self.host and ":" in self.host:  # IPv6 literal
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def shown_url(url: str) -> str:
    """A URL fit for screens and logs: no user, password or query (they may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    name: str
    duty: str
    devices: tuple[Device, ...]
    expected_kw: dict[str, float] = field(default_factory=dict)
    duties: dict[str, tuple[DutyStep, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    path: Path | None  # the site file; profiles/ beside it
    poll_interval_s: float = 10.0
    power_budget_kw: float | None = None
    snmp_timeout_s: float = 2.0
    snmp_retries: int = 1
    # polls in flight at once: dead devices hold a slot for timeout x tries on
    # first contact, so the bound must cover them (10 % of 20,000 dead ~ 270 slots)
    max_concurrency: int = 1024
    nvml: str = "auto"  # auto | real | simulated
    snmp_engine: str = "auto"  # one of SNMP_ENGINES
    credentials: dict[str, Credentials] = field(default_factory=dict)
    groups: tuple[Group, ...] = ()
    profiles: dict[str, Profile] = field(default_factory=dict)  # by name
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)  # [alarms]
    wall: WallConfig = field(default_factory=WallConfig)  # [wall]
    economics: dict[str, float] = field(default_factory=dict)  # [economics] (core.economics)
    data_dir: Path | None = None  # [site] data_dir, absolute (core.datadir decides the default)
    # two-person rule: a switch changing power by more than this (kW) waits for a second user
    approval_kw: float | None = None
    approval_ttl_s: float = 900.0  # a pending request expires after this
    # id -> device, built once: lookups per reading or per device must not scan
    # the site (quadratic at 20,000 devices); derived, so no part of equality
    _by_id: dict[str, Device] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # frozen: set through object; the groups and devices are immutable
        by_id: dict[str, Device] = {}
        for g in self.groups:
            for d in g.devices:
                by_id.setdefault(d.id, d)  # the first, as a scan would find
        object.__setattr__(self, "_by_id", by_id)

    def devices(self) -> list[Device]:
        return [d for g in self.groups for d in g.devices]

    def polled_devices(self) -> list[Device]:
        """The devices the poller asks: a GPU behind a gpu-host comes with its host's scrape."""
        return [d for g in self.groups for d in g.devices if d.parent is None]

    def device(self, device_id: str) -> Device | None:
        return self._by_id.get(device_id)

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)
