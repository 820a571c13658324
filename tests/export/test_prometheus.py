"""`/metrics` scraped by a real Prometheus (Debian's `prometheus`), the values
read back through its query API equal to the `poll --format json` document of
the same readings; and `poll --metrics-port` serving them from the CLI."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from opsconsole.collectors.poller import Poller
from opsconsole.core.prometheus import MetricsServer
from opsconsole.core.report import poll_json
from opsconsole.core.siteload import load_site
from opsconsole.core.store import LiveStore
from opsconsole.sim import simulated_nvml
from opsconsole.sim.site import SimSite
from tests.fixtures.ports import free_tcp_port
from tests.fixtures.require import agent_missing

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # loopback only
        return r.read().decode()


def wait_for(cond, timeout: float, what: str, step: float = 0.25):
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def prometheus_for(tmp_path: Path):
    if not Path(PROMETHEUS).exists():
        agent_missing("the Prometheus server binary is absent (Debian package `prometheus`)")
    procs: list[subprocess.Popen] = []

    def start(target_port: int) -> str:
        port = free_tcp_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                       "scrape_configs:\n  - job_name: opsconsole\n    static_configs:\n"
                       f"      - targets: ['127.0.0.1:{target_port}']\n")
        log = (tmp_path / "prometheus.log").open("w")
        procs.append(subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: "Ready" in get(base + "/-/ready"), 30, "prometheus to be ready")
        return base

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def query(base: str, expr: str) -> list[dict]:
    doc = json.loads(get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


@pytest.mark.slow
def test_prometheus_reads_back_what_poll_json_prints(sim_site: SimSite, prometheus_for) -> None:
    assert sim_site.config_path is not None
    site = load_site(sim_site.config_path, env={})

    async def one_pass():
        poller = Poller(site, lambda _b: None, simulated_nvml=simulated_nvml)
        try:
            t0 = time.monotonic()
            return await poller.poll_once(), time.monotonic() - t0
        finally:
            await poller.close()

    readings, cycle_s = asyncio.run(one_pass())  # frozen: the same readings for both sides
    store = LiveStore(site)
    store.ingest(readings)
    doc = poll_json(site, store, readings, cycle_s)
    server = MetricsServer(site, 0)
    try:
        server.publish(store, cycle_s=cycle_s)
        base = prometheus_for(server.port)
        want: dict[tuple[str, str, str], float] = {}
        for d in doc["devices"]:
            for name, v in d["metrics"].items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    want[(name, d["id"], "")] = float(v)
                elif name == "outlet_power_w":
                    for k, x in enumerate(v):
                        want[(name, d["id"], str(k + 1))] = float(x)
        assert {n for n, _d, _o in want} >= {"hashrate_ths", "temp_c", "power_w", "util_pct",
                                              "outlet_power_w"}

        def scraped() -> dict[tuple[str, str, str], float]:
            got = {}
            for name in {n for n, _d, _o in want}:
                for r in query(base, f"opsconsole_{name}"):
                    m = r["metric"]
                    got[(name, m["device"], m.get("outlet", ""))] = float(r["value"][1])
            return got if set(got) >= set(want) else {}

        got = wait_for(scraped, 30, "prometheus to scrape every series")
        for key, v in want.items():
            assert got[key] == pytest.approx(v, abs=1e-3), key  # the JSON rounds to 3 places
        first = next(d["id"] for d in doc["devices"] if d["kind"] == "miner")
        r = query(base, f'opsconsole_hashrate_ths{{device="{first}"}}')
        dev = site.device(first)
        assert dev is not None and r[0]["metric"]["group"] == dev.group
        assert r[0]["metric"]["kind"] == dev.kind and r[0]["metric"]["job"] == "opsconsole"
        ok = query(base, 'opsconsole_devices{status="ok"}')
        assert float(ok[0]["value"][1]) == sum(d["status"] == "ok" for d in doc["devices"])
        cyc = query(base, "opsconsole_poll_cycle_seconds")
        assert float(cyc[0]["value"][1]) == pytest.approx(doc["cycle_s"], abs=1e-3)
    finally:
        server.close()


def _interruptible() -> None:
    """Ctrl-C as at a terminal: a test run started in the background (nohup, `&`)
    hands its children SIGINT ignored, and `poll` rightly keeps ignoring it then."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_poll_serves_metrics_on_loopback_and_writes_history(sim_site: SimSite,
                                                            tmp_path: Path) -> None:
    assert sim_site.config_path is not None
    cfg = sim_site.config_path
    cfg.write_text(cfg.read_text().replace("poll_interval_s = 10", "poll_interval_s = 2", 1))
    port = free_tcp_port()
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "poll", "--config", str(cfg), "--format", "json",
         "--metrics-port", str(port), "--data-dir", str(data)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, preexec_fn=_interruptible)
    try:
        def families():
            text = get(f"http://127.0.0.1:{port}/metrics")
            fams = {f.name: f for f in text_string_to_metric_families(text)}
            ok = fams.get("opsconsole_devices")
            n_ok = {s.labels["status"]: s.value for s in ok.samples} if ok else {}
            return fams if n_ok.get("ok") == 9 and "opsconsole_poll_cycle_seconds" in fams else None

        fams = wait_for(families, 30, "/metrics with every device ok and a cycle")
        temps = {s.labels["device"]: s for s in fams["opsconsole_temp_c"].samples}
        assert set(temps) >= {"gpu-0", "gpu-1"} and len(temps) == 8
        assert set(next(iter(temps.values())).labels) == {"device", "group", "kind"}
        outlets = fams["opsconsole_outlet_power_w"].samples
        assert sorted(int(s.labels["outlet"]) for s in outlets) == list(range(1, 7))
        time.sleep(2.5)  # a commit of the history writer
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=90)  # a hang detector: generous for a loaded box
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    out = subprocess.run(
        [sys.executable, "-m", "opsconsole", "history", "--config", str(cfg), "--data-dir",
         str(data), "row-a", "power_w", "--since", "10m", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["resolution"] == "raw" and doc["points"], doc


def test_metrics_refuses_a_name_for_an_address(sim_site: SimSite) -> None:
    site = load_site(sim_site.config_path, env={})
    with pytest.raises(ValueError):
        MetricsServer(site, 0, "localhost")
