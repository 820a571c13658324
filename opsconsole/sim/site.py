"""The simulated site: rows of SimMiners fed by SimPdus, served as real SNMP
agents on loopback, plus a site file (docs/architecture.md "Site file") that points at
them. GPUs are only named here (kind "gpu", nvml_index); their model lives
in nvml_sim.

Layout: miners fill rows of `miners_per_row` (row-a, row-b, ..., row-aa after
row-z), racks of 10 per row (A1, A2, ...), and each run of `miners_per_pdu`
miners in a row hangs off one PDU (pdu-a1, pdu-a2, ...), outlet 1..n.

Miners of the rows in `api_rows` (every row with `miner_api = "cgminer"`)
speak their firmware's JSON API on TCP instead of SNMP, the flavours taking
turns along the row (sim/minerapi/flavours.py); their PDUs stay SNMP.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsconsole.sim.agent import DEFAULT_MAX_SIZE, AgentStats, RunningAgent, start_agents
from opsconsole.sim.miner import Clock, ManualClock, MinerTiming, SimMiner
from opsconsole.sim.minerapi.flavours import FLAVOURS, SIM_PASSWORD, SIM_USER, ApiMiner
from opsconsole.sim.pdu import SimPdu

__all__ = ["ManualClock", "MinerTiming", "SimSite", "SiteDevice", "SiteRow"]

RACK_SIZE = 10
GPU_TDP_W = 700.0  # for the power budget only (H100 SXM class)
TOKENS_PER_GPU = 2500.0  # the simulated vLLM's generated tokens/s per GPU when serving
VLLM_RAMP_S = 15.0  # from the service answering to full throughput
CREDENTIALS_ID = "sim"
API_CREDENTIALS_ID = "sim-miner"  # the API miners' login (sleep/wake)
MINER_APIS = ("cgminer",)


@dataclass(slots=True)
class SiteDevice:
    id: str
    kind: str  # miner | pdu
    model: SimMiner | SimPdu
    profile: str
    rack: str
    position: int | None = None
    pdu: str | None = None
    outlet: int | None = None
    port: int | None = None  # set by start()
    flavour: str | None = None  # an API miner's firmware flavour; None: SNMP
    api: ApiMiner | None = None  # its running server, set by start()


def _sim_miners(devices: Iterable[SiteDevice]) -> list[SimMiner]:
    return [d.model for d in devices if isinstance(d.model, SimMiner)]


@dataclass(slots=True)
class SiteRow:
    id: str  # row-a
    name: str  # Row A
    pdus: list[SiteDevice] = field(default_factory=list)
    miners: list[SiteDevice] = field(default_factory=list)

    def devices(self) -> list[SiteDevice]:
        return [*self.pdus, *self.miners]


def row_letters(i: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa (spreadsheet style)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(ord("a") + r) + s
    return s


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # JSON strings are valid TOML basic strings


class SimSite:
    def __init__(
        self,
        miners: int,
        gpus: int,
        seed: int = 1,
        miners_per_pdu: int = 20,
        fault_rate: float = 0.02,  # faults per miner per hour
        clock: Clock = time.monotonic,
        *,
        miners_per_row: int = 40,
        timing: MinerTiming | None = None,
        reboot_s: float = 5.0,
        max_size: int = DEFAULT_MAX_SIZE,
        name: str = "Simulated site",
        hybrid_miners: int = 0,
        row_offset: int = 0,
        miner_api: str | None = None,
        api_rows: tuple[str, ...] = (),
        flavours: tuple[str, ...] = FLAVOURS,
        exporters: bool = False,
    ):
        if miners < 0 or gpus < 0 or miners_per_pdu < 1 or miners_per_row < 1:
            raise ValueError("counts must be positive")
        if row_offset < 0:
            raise ValueError("row_offset must be >= 0")
        if miner_api is not None and miner_api not in MINER_APIS:
            raise ValueError(f"unknown miner API {miner_api!r}: expected one of {MINER_APIS}")
        if not flavours or any(f not in FLAVOURS for f in flavours):
            raise ValueError(f"flavours must be among {FLAVOURS}")
        self.name = name
        self.seed = seed
        self.gpus = gpus
        self.clock = clock
        self.rows: list[SiteRow] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.config_path: Path | None = None
        self.host = "127.0.0.1"
        self._agents: list[RunningAgent] = []
        self.timing = timing or MinerTiming()
        # The hybrid rack: the GPU group plus miners on their own PDU, whose
        # inference duty cuts those miners' outlets (none unless asked for).
        self.hybrid: SiteRow | None = None
        self.inference_port: int | None = None  # the simulated inference service
        # exporters: the GPU rack also has a GPU server seen through a simulated
        # dcgm-exporter, and a vLLM metrics page whose tokens/s follow the
        # inference service (opsconsole.sim.exporters), on one loopback HTTP server.
        self.exporters = exporters and gpus > 0
        self.http: Any = None  # metrics_http.MetricsHttpServer once started
        self.remote_gpus: Any = None  # the server's SimNvml
        self.vllm: Any = None
        self._serving_since: float | None = None
        self._serving_checked = (-1.0, False)
        self.vllm_ramp_s = VLLM_RAMP_S
        rng = random.Random(seed)  # per-miner seeds: the whole site follows from one
        n_rows = math.ceil(miners / miners_per_row)
        # row_offset: the first row's number, so that simulators started side by
        # side (each with its own open-files limit) name disjoint rows, PDUs and
        # miners, and their site files merge into one site.
        self.row_offset = row_offset
        for r in range(row_offset, row_offset + n_rows):
            letters = row_letters(r)
            row = SiteRow(f"row-{letters}", f"Row {letters.upper()}")
            api_row = miner_api is not None or row.id in api_rows
            count = min(miners_per_row, miners - (r - row_offset) * miners_per_row)
            width = max(2, len(str(count)))
            for p in range(math.ceil(count / miners_per_pdu)):
                batch: list[SiteDevice] = []
                pdu_id = f"pdu-{letters}{p + 1}"
                for k in range(min(miners_per_pdu, count - p * miners_per_pdu)):
                    i = p * miners_per_pdu + k  # index in row
                    mid = f"{letters}-{i + 1:0{width}d}"
                    m = SimMiner(mid, rng.getrandbits(48), clock=clock, fault_rate=fault_rate,
                                 timing=timing, max_size=max_size)
                    batch.append(SiteDevice(
                        mid, "miner", m, "sim-miner", rack=f"{letters.upper()}{i // RACK_SIZE + 1}",
                        position=i % RACK_SIZE + 1, pdu=pdu_id, outlet=k + 1,
                        flavour=flavours[i % len(flavours)] if api_row else None))
                pdu = SimPdu(pdu_id, [d.model for d in batch],  # type: ignore[misc]
                             clock=clock, reboot_s=reboot_s, max_size=max_size)
                row.pdus.append(SiteDevice(pdu_id, "pdu", pdu, "apc-rpdu2", rack=batch[0].rack))
                row.miners.extend(batch)
            self.rows.append(row)
        if gpus and hybrid_miners > 0:
            self.hybrid = SiteRow("gpu-a", "GPU A")
            pdu_id = "pdu-g1"
            for k in range(hybrid_miners):
                m = SimMiner(f"g-{k + 1:02d}", rng.getrandbits(48), clock=clock,
                             fault_rate=fault_rate, timing=timing, max_size=max_size)
                self.hybrid.miners.append(SiteDevice(
                    m.name, "miner", m, "sim-miner", rack="G0", position=k % RACK_SIZE + 1,
                    pdu=pdu_id, outlet=k + 1))
            pdu = SimPdu(pdu_id, [d.model for d in self.hybrid.miners],  # type: ignore[misc]
                         clock=clock, reboot_s=reboot_s, max_size=max_size)
            self.hybrid.pdus.append(SiteDevice(pdu_id, "pdu", pdu, "apc-rpdu2", rack="G0"))

    # -- access

    def _all_rows(self) -> list[SiteRow]:
        return [*self.rows, *([self.hybrid] if self.hybrid else [])]

    @property
    def miner_count(self) -> int:
        return sum(len(r.miners) for r in self._all_rows())

    @property
    def pdu_count(self) -> int:
        return sum(len(r.pdus) for r in self._all_rows())

    def devices(self) -> Iterator[SiteDevice]:
        for row in self._all_rows():
            yield from row.devices()

    def device(self, device_id: str) -> SiteDevice:
        for d in self.devices():
            if d.id == device_id:
                return d
        raise KeyError(device_id)

    def miner(self, device_id: str) -> SimMiner:
        m = self.device(device_id).model
        assert isinstance(m, SimMiner)
        return m

    def pdu(self, device_id: str) -> SimPdu:
        p = self.device(device_id).model
        assert isinstance(p, SimPdu)
        return p

    def stats(self, device_id: str | None = None) -> AgentStats:
        """Agent counters of one device, or summed over the site."""
        total = AgentStats()
        for a in self._agents:
            if device_id is None or a.device.name == device_id:
                total.add(a.stats)
        return total

    # -- lifecycle

    async def start(self, host: str = "127.0.0.1") -> None:
        if self._agents:
            raise RuntimeError("site already started")
        devs = [d for d in self.devices() if d.flavour is None]
        self._agents = await start_agents([d.model for d in devs], host=host)
        for d, a in zip(devs, self._agents, strict=True):
            d.port = a.port
        for d in self.devices():
            if d.flavour is not None:
                d.api = await ApiMiner(d.model, d.flavour).start(host)  # type: ignore[arg-type]
                d.port = d.api.port
        self.host = host
        self.loop = asyncio.get_running_loop()
        if self.exporters:
            self._start_exporters()

    def _start_exporters(self) -> None:
        from opsconsole.sim.exporters import VllmSim, dcgm_page
        from opsconsole.sim.metrics_http import MetricsHttpServer
        from opsconsole.sim.nvml_sim import SimNvml

        self.remote_gpus = SimNvml(count=self.gpus, seed=self.seed + 1000)
        self.vllm = VllmSim(self._tokens_per_s, start_tokens=48_000_000)
        self.http = MetricsHttpServer().start()

        def dcgm() -> tuple[int, bytes]:
            load = 0.85 if self._serving() else 0.05
            for i in range(self.gpus):
                self.remote_gpus.set_load(i, load)
            return 200, dcgm_page(self.remote_gpus, "gpu-a-node1").encode()

        self.http.route("/metrics", dcgm)
        self.http.route("/vllm/metrics", lambda: (200, self.vllm.page().encode()))

    def _serving(self) -> bool:
        """Whether the rack's inference service answers /health 200 (checked once a second)."""
        now = time.monotonic()
        at, up = self._serving_checked
        if now - at >= 1.0:
            from opsconsole.sim import inference

            up = self.inference_port is not None and inference.health(self.inference_port) == 200
            self._serving_checked = (now, up)
            if up and self._serving_since is None:
                self._serving_since = now
            elif not up:
                self._serving_since = None
        return up

    def _tokens_per_s(self) -> float:
        """The vLLM page's rate: nothing until the service serves, then a
        ramp over RAMP_S to TOKENS_PER_GPU per GPU; 0 again once it stops."""
        if not self._serving() or self._serving_since is None:
            return 0.0
        ramp = min(1.0, (time.monotonic() - self._serving_since) / max(self.vllm_ramp_s, 1e-9))
        return TOKENS_PER_GPU * self.gpus * ramp

    async def stop(self) -> None:
        for a in self._agents:
            a.close()
        self._agents = []
        for d in self.devices():
            if d.api is not None:
                await d.api.stop()
                d.api = None
            d.port = None
        if self.http is not None:
            self.http.stop()
            self.http = None
        if self.inference_port is not None:
            # a duty step may have started the service: it must not outlive the site
            from opsconsole.sim import inference

            await asyncio.to_thread(inference.shutdown, self.inference_port)
        await asyncio.sleep(0)  # let the transports finish closing

    # -- site file

    def power_budget_kw(self) -> float:
        miners_w = sum(m.full_power_w + m.standby_w
                       for r in self._all_rows() for m in _sim_miners(r.miners))
        gpus = self.gpus * (2 if self.exporters else 1)  # the exporter host's GPUs too
        return math.ceil((miners_w + gpus * GPU_TDP_W) * 1.1 / 1000.0)

    def site_toml(self, nvml_simulated: bool = True) -> str:
        """The site file for the started agents (their ports are this run's)."""
        devs = list(self.devices())
        if self.loop is None or (devs and not any(d.port for d in devs)):
            raise RuntimeError("start() the site first: the file names its ports")
        out = [
            f"# Generated by opsconsole's simulator: {self.miner_count} miners,",
            f"# {self.gpus} GPUs, seed {self.seed}. Ports belong to this run only.",
            "",
            "[site]",
            f"name = {_q(self.name)}",
            "poll_interval_s = 10",
            f"power_budget_kw = {self.power_budget_kw():g}",
            f"nvml = {_q('simulated' if nvml_simulated else 'auto')}",
            "",
            f"[credentials.{CREDENTIALS_ID}]",
            'version = "2c"',
            'community = "public"          # polls (GET / GETBULK)',
            'write_community = "private"   # SETs (duty switching, outlets)',
        ]
        if any(d.flavour for d in self.devices()):
            out += ["", f"[credentials.{API_CREDENTIALS_ID}]   # the API miners' own login",
                    f"user = {_q(SIM_USER)}",
                    f"password = {_q(SIM_PASSWORD)}   # real sites: password_env = \"VAR\""]
        if self.exporters:  # example prices, typed by the operator in a real site
            out += ["", "[economics]", "hashprice_usd_per_ph_day = 48.0",
                    "token_price_usd_per_mtok = 0.10", "power_price_usd_per_mwh = 45.0"]
        for row in self.rows:
            out += self._row_toml(row)
        if self.gpus:
            out += self._gpu_group_toml()
        return "\n".join(out) + "\n"

    def _devices_toml(self, devices: list[SiteDevice]) -> list[str]:
        out: list[str] = []
        for d in devices:
            out += ["", "[[groups.devices]]", f"id = {_q(d.id)}", f"kind = {_q(d.kind)}",
                    f'address = "{self.host}:{d.port}"']
            if d.flavour is not None:  # the miner's own JSON API; its firmware is detected
                out += ['api = "cgminer"', 'firmware = "auto"',
                        f"credentials = {_q(API_CREDENTIALS_ID)}"]
                if d.api is not None and d.api.web_port is not None:
                    out.append(f"web_port = {d.api.web_port}")
            else:
                out += [f"profile = {_q(d.profile)}", f"credentials = {_q(CREDENTIALS_ID)}"]
            out.append(f"rack = {_q(d.rack)}")
            if d.position is not None:
                out.append(f"position = {d.position}")
            if d.pdu is not None:
                out += [f"pdu = {_q(d.pdu)}", f"outlet = {d.outlet}"]
        return out

    def _wait_s(self, seconds: float) -> str:
        return f"{math.ceil(seconds + 30)}"  # the model's own time, plus polling slack

    def _gpu_group_toml(self) -> list[str]:
        """The GPU rack (hybrid when it has miners): inference cuts its miners'
        outlets, raises the GPUs' power limits to 400 W and starts the simulated
        inference service, checked over HTTP; mining and idle stop the service
        and lower the limits; mining restores the outlets."""
        hy = self.hybrid.miners if self.hybrid else []
        miners_kw = sum(m.full_power_w + m.standby_w for m in _sim_miners(hy)) / 1000
        duty = "mining" if hy else "inference"
        n = self.gpus * (2 if self.http is not None else 1)  # with the exporter host's GPUs
        out = ["", "[[groups]]", 'id = "gpu-a"', 'name = "GPU A"', f"duty = {_q(duty)}",
               f"expected_kw = {{ mining = {miners_kw + n * 0.2:.1f}, "
               f"inference = {n * 0.4:.1f}, idle = {n * 0.2:.1f} }}"]
        for i in range(self.gpus):
            out += ["", "[[groups.devices]]", f'id = "gpu-{i}"', 'kind = "gpu"',
                    f"nvml_index = {i}", f'rack = "G{i // 8 + 1}"', f"position = {i % 8 + 1}"]
        if self.http is not None:
            out += ["", "[[groups.devices]]", 'id = "gpu-a-node1"', 'kind = "gpu-host"',
                    f"exporter = {_q(self.http.url('/metrics'))}", f"gpus = {self.gpus}",
                    'rack = "G9"',
                    "", "[[groups.devices]]", 'id = "gpu-a-vllm"', 'kind = "inference"',
                    f"endpoint = {_q(self.http.url('/vllm/metrics'))}", 'server = "vllm"',
                    'rack = "G9"']
        if self.hybrid:
            out += self._devices_toml(self.hybrid.devices())
        if self.inference_port is None:
            with socket.socket() as s:  # a free loopback port for this run's service
                s.bind((self.host, 0))
                self.inference_port = s.getsockname()[1]
        svc = [_q(sys.executable), '"-m"', '"opsconsole.sim.inference"']
        port = ['"--port"', f'"{self.inference_port}"']

        def step(duty: str, *lines: str) -> list[str]:
            return ["", f"[[groups.duties.{duty}]]", *lines]

        def service(duty: str, verb: str) -> list[str]:
            argv = ", ".join([*svc, _q(verb), *port])
            return step(duty, 'action = "command"', f"argv = [{argv}]", "timeout_s = 30")

        def limit(duty: str, watts: int) -> list[str]:
            return step(duty, 'action = "nvml-power-limit"', 'targets = "gpus"', f"watts = {watts}")

        def outlets(duty: str, state: str) -> list[str]:
            return step(duty, 'action = "pdu-outlet"', 'targets = "miners"', f"state = {_q(state)}",
                        "timeout_s = 30") if hy else []

        out += outlets("inference", "off")
        out += limit("inference", 400)
        out += service("inference", "start")
        out += step("inference", 'action = "http"',
                    f'url = "http://{self.host}:{self.inference_port}/health"',
                    "expect_status = 200", "timeout_s = 30")
        if self.http is not None:  # verified by the throughput itself
            out += step("inference", 'action = "wait-metric"', 'targets = ["gpu-a-vllm"]',
                        'metric = "tokens_per_s"', 'op = ">"', "value = 0", "timeout_s = 60")
        out += service("mining", "stop")
        out += limit("mining", 200)
        out += outlets("mining", "on")
        if hy:
            out += step("mining", 'action = "wait-metric"', 'targets = "miners"',
                        'metric = "hashrate_ths"', 'op = ">"', "value = 1",
                        f"timeout_s = {self._wait_s(self.timing.boot_s + self.timing.ramp_s)}")
        out += service("idle", "stop")
        out += limit("idle", 200)
        out += outlets("idle", "off")
        return out

    def _row_toml(self, row: SiteRow) -> list[str]:
        mining = sum(m.full_power_w + m.standby_w for m in _sim_miners(row.miners))
        standby = sum(m.standby_w for m in _sim_miners(row.miners))
        out = ["", "[[groups]]", f"id = {_q(row.id)}", f"name = {_q(row.name)}", 'duty = "mining"',
               f"expected_kw = {{ mining = {mining / 1000:.1f}, inference = {standby / 1000:.1f}, "
               f"idle = {standby / 1000:.1f} }}"]
        out += self._devices_toml(row.devices())
        # sleep / wake over SNMP SET, then wait for the telemetry to agree
        asleep = ('op = "<"', "value = 1", f"timeout_s = {self._wait_s(self.timing.sleep_s)}")
        awake = ('op = ">"', "value = 1", f"timeout_s = {self._wait_s(self.timing.ramp_s)}")
        api_row = any(d.flavour for d in row.miners)
        for duty, control, check in (("inference", "sleep", asleep), ("idle", "sleep", asleep),
                                     ("mining", "wake", awake)):
            # API rows (and any mix) sleep through miner-power: each firmware's own command
            setter = (['action = "miner-power"', f"state = {_q(control)}"] if api_row
                      else ['action = "snmp-set"', f"control = {_q(control)}"])
            out += ["", f"[[groups.duties.{duty}]]", setter[0], 'targets = "miners"', setter[1],
                    "", f"[[groups.duties.{duty}]]", 'action = "wait-metric"',
                    'targets = "miners"', 'metric = "hashrate_ths"', *check]
        return out

    def write_config(self, path: str | Path, nvml_simulated: bool = True) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.site_toml(nvml_simulated), encoding="utf-8")
        self.config_path = p
        return p


def merge_site_files(texts: list[str], poll_interval_s: float | None = None) -> str:
    """One site file from those of simulators run side by side with disjoint
    rows (`row_offset`): the first file's [site] and credentials, the power
    budgets summed, then every file's groups in the order given. Each
    simulator needs one UDP socket per device, so a site larger than one
    process's open-files limit is served by several; the console sees one site."""
    if not texts:
        raise ValueError("no site files to merge")
    heads, bodies = [], []
    for t in texts:
        k = t.find("\n[[groups]]")
        heads.append(t if k < 0 else t[:k])
        bodies.append("" if k < 0 else t[k:])
    budget = 0.0
    for h in heads:
        for line in h.splitlines():
            if line.startswith("power_budget_kw = "):
                budget += float(line.split("=", 1)[1])
    out = []
    for line in heads[0].splitlines():
        if line.startswith("power_budget_kw = "):
            line = f"power_budget_kw = {budget:g}"
        elif line.startswith("poll_interval_s = ") and poll_interval_s is not None:
            line = f"poll_interval_s = {poll_interval_s:g}"
        elif line.startswith("# Generated by") and len(texts) > 1:
            line += f" (merged from {len(texts)} simulators)"
        out.append(line)
    return "\n".join(out) + "".join(bodies).rstrip("\n") + "\n"
