"""GPU servers through dcgm-exporter and inference servers through their
metrics pages, polled by the real poller from real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from opsconsole.collectors.dcgm import parse_dcgm
from opsconsole.collectors.duty_actions import EXECUTORS
from opsconsole.collectors.http_scrape import (
    ScrapeError,
    parse_samples,
    parse_samples_shared_labels,
)
from opsconsole.collectors.inference import CounterRate, detect, quantile
from opsconsole.collectors.poller import Poller
from opsconsole.core.errors import ConfigError
from opsconsole.core.prometheus import MetricsServer
from opsconsole.core.readings import Reading, Status
from opsconsole.core.report import poll_json
from opsconsole.core.siteload import load_site
from opsconsole.core.store import LiveStore
from opsconsole.sim import simulated_nvml
from opsconsole.sim.exporters import VllmSim, dcgm_page
from opsconsole.sim.metrics_http import MetricsHttpServer
from opsconsole.sim.nvml_sim import SimNvml
from tests.fixtures.ports import free_tcp_port
from tests.gpu_host_support import (
    REAL_T4,
    T4_UUID,
    dcgm_text,
    device,
    site_file,
    uuids,
)
from tests.test_duty_support import with_controller

TRUE_RATE = 1500.0  # tokens/s the test's vLLM generates


@pytest.fixture
def http_server() -> Iterator[MetricsHttpServer]:
    srv = MetricsHttpServer().start()
    yield srv
    srv.stop()


def poll(path: Path) -> tuple[dict[str, Reading], LiveStore, list[Reading]]:
    site = load_site(path)

    async def main() -> list[Reading]:
        poller = Poller(site, lambda b: None)
        try:
            return await poller.poll_once()
        finally:
            await poller.close()

    readings = asyncio.run(main())
    store = LiveStore(site)
    store.ingest(readings)
    return {r.device: r for r in readings}, store, readings


# ---- the parser on a real capture ------------------------------------------------------


def test_real_capture_parses_with_prometheus_client() -> None:
    rows = parse_dcgm(REAL_T4)
    assert list(rows) == [T4_UUID]
    row = rows[T4_UUID]
    assert row.index == 0
    assert row.labels == {"model": "Tesla T4", "uuid": T4_UUID, "hostname": "424773df46e0",
                          "index": "0"}
    assert row.metrics() == {
        "util_pct": 0.0, "mem_util_pct": 0.0, "mem_used_mib": 0.0, "temp_c": 25.0,
        "power_w": 8.969, "sm_clock_mhz": 300.0, "mem_clock_mhz": 405.0, "xid_last": 0,
        "mem_total_mib": 15109.0,
    }


def test_gddr_zero_and_dcgm_blank_are_missing() -> None:
    text = dcgm_text([(0, "GPU-a"), (1, "GPU-b")]).replace(
        'DCGM_FI_DEV_GPU_TEMP{gpu="1",UUID="GPU-b",device="nvidia1",modelName="NVIDIA H100 80GB '
        'HBM3",Hostname="node-7"} 41',
        'DCGM_FI_DEV_GPU_TEMP{gpu="1",UUID="GPU-b",device="nvidia1",modelName="NVIDIA H100 80GB '
        'HBM3",Hostname="node-7"} 9223372036854775794')
    rows = parse_dcgm(text)
    assert rows["GPU-a"].metrics()["mem_temp_c"] == 50.0
    assert "mem_temp_c" not in rows["GPU-b"].metrics()  # 0 on a GDDR card: no sensor
    assert "temp_c" not in rows["GPU-b"].metrics()  # DCGM's int64 blank


@pytest.mark.parametrize("text", [
    REAL_T4,
    dcgm_text(list(enumerate(uuids(8)))),
    # label values with braces, escaped quotes and a backslash; an unlabelled sample
    'DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-x",modelName="odd } { \\"name\\" \\\\"} 41\n'
    'DCGM_FI_DEV_GPU_TEMP{gpu="1",UUID="GPU-y",modelName="plain"} 42 1700000000000\n'
    "DCGM_FI_DEV_COUNT 2\n",
])
def test_shared_label_parse_equals_the_plain_parse(text: str) -> None:
    lines = text.splitlines()
    plain = parse_samples("\n".join(ln for ln in lines if not ln.startswith("#")) + "\n")
    assert parse_samples_shared_labels(lines) == plain
    assert len(plain) >= 3


def test_shared_label_parse_rejects_a_bad_label_block() -> None:
    with pytest.raises(ScrapeError):
        parse_samples_shared_labels(['DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID=GPU-x} 41'])


@pytest.mark.parametrize("text", ["<html><body>502 Bad Gateway</body></html>",
                                  "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\" 12\n",
                                  "\x00\x01garbage{{{ 1 2 3"])
def test_parser_rejects_garbage(text: str) -> None:
    with pytest.raises(ScrapeError) as err:
        parse_samples(text)
    assert err.value.status is Status.ERROR


# ---- the done-when site ----------------------------------------------------------------


def test_site_with_two_hosts_inference_and_broken_exporters(
        tmp_path: Path, http_server: MetricsHttpServer) -> None:
    ids = uuids(8)
    real = http_server.static("/real", REAL_T4)
    eight = http_server.static("/eight", dcgm_text(list(enumerate(ids))))
    vllm = VllmSim(lambda: TRUE_RATE, start_tokens=5_000_000)
    endpoint = http_server.route("/vllm", lambda: (200, vllm.page().encode()))
    e500 = http_server.static("/e500", "internal error\n", status=500)
    garbage = http_server.static("/garbage", "<html>this is not prometheus</html>\n")
    nobody = f"http://127.0.0.1:{free_tcp_port()}/metrics"
    devs = (device("t4-node", "gpu-host", exporter=real, gpus=1)
            + device("hgx-node", "gpu-host", exporter=eight, gpus=8)
            + device("vllm-a", "inference", endpoint=endpoint, server="auto")
            + device("bad-500", "gpu-host", exporter=e500, gpus=2)
            + device("bad-garbage", "gpu-host", exporter=garbage, gpus=2)
            + device("bad-none", "inference", endpoint=nobody, timeout_s=2))
    by_id, store, readings = poll(site_file(tmp_path, devs))

    # each GPU's values
    t4 = by_id["t4-node/0"]
    assert t4.status is Status.OK
    assert t4.metrics["temp_c"] == 25.0 and t4.metrics["power_w"] == 8.969
    assert t4.labels["model"] == "Tesla T4" and t4.labels["uuid"] == T4_UUID
    for i in range(8):
        r = by_id[f"hgx-node/{i}"]
        assert r.status is Status.OK, r.error
        assert r.labels["uuid"] == ids[i]
        assert r.metrics["util_pct"] == 50.0 + i
        assert r.metrics["temp_c"] == 40.0 + i
        assert r.metrics["power_w"] == 300.0 + 10 * i
        assert r.metrics["power_limit_w"] == 700.0
        assert r.metrics["mem_used_mib"] == 1000.0 * (i + 1)
        assert r.metrics["mem_total_mib"] == 81559.0
        assert r.metrics["remapped_rows_uncorrectable"] == float(i)
        assert r.metrics["remapped_rows_correctable"] == 2.0 * i
        assert r.metrics["xid_last"] == (79 if i == 3 else 0)
        assert ("mem_temp_c" in r.metrics) == (i % 2 == 0)
    assert by_id["hgx-node"].status is Status.OK and by_id["hgx-node"].metrics == {"gpus": 8}

    # tokens/s within 10 % of the true rate, and the group/site sums
    tps = by_id["vllm-a"].metrics["tokens_per_s"]
    assert abs(tps - TRUE_RATE) / TRUE_RATE < 0.10, tps
    assert by_id["vllm-a"].labels == {"server": "vllm"}
    # every generated request's first token at 0.08 + 0.00002 x 1500 = 0.11 s: the
    # (0.1, 0.25] bucket; p95 interpolated inside it
    assert 0.1 < by_id["vllm-a"].metrics["ttft_p95_s"] <= 0.25
    assert store.summary("gpu-a").tokens_per_s == pytest.approx(tps)
    assert store.summary().tokens_per_s == pytest.approx(tps)
    assert store.summary("gpu-a").power_w == pytest.approx(8.969 + sum(300 + 10 * i
                                                                        for i in range(8)))

    # the broken exporters are never ok, nor are their GPUs
    assert by_id["bad-500"].status is Status.ERROR and "HTTP 500" in by_id["bad-500"].error
    assert by_id["bad-garbage"].status is Status.ERROR
    assert "not Prometheus text" in by_id["bad-garbage"].error
    assert by_id["bad-none"].status is Status.UNREACHABLE
    for host in ("bad-500", "bad-garbage"):
        for k in range(2):
            assert by_id[f"{host}/{k}"].status is by_id[host].status
    assert by_id.keys() == {d.id for d in load_site(tmp_path / "site.toml").devices()}

    # the poll JSON and /metrics carry the sums
    doc = poll_json(store.site, store, readings, 0.5)
    json.dumps(doc)
    assert doc["groups"][0]["tokens_per_s"] == pytest.approx(tps, abs=0.001)
    assert doc["tokens_per_s"] == pytest.approx(tps, abs=0.001)
    entry = next(d for d in doc["devices"] if d["id"] == "hgx-node/2")
    assert entry["kind"] == "gpu" and entry["labels"]["uuid"] == ids[2]
    server = MetricsServer(store.site, 0)  # the real endpoint, scraped over HTTP
    try:
        server.publish(store)
        with urllib.request.urlopen(server.url, timeout=10) as resp:
            page = resp.read().decode()
    finally:
        server.close()
    fams = {f.name: f for f in text_string_to_metric_families(page)}
    scope = {s.labels["scope"]: s.value for s in fams["opsconsole_scope_tokens_per_s"].samples}
    assert scope == {"site": pytest.approx(tps), "group:gpu-a": pytest.approx(tps)}
    assert any(s.labels["device"] == "hgx-node/7" and s.value == 370.0
               for s in fams["opsconsole_power_w"].samples)
    assert not any(s.labels["device"].startswith("bad-") and s.value == 1.0
                   for s in fams["opsconsole_device_up"].samples)


# ---- inference: counter resets, TTFT, server maps --------------------------------------


def test_counter_rate_handles_resets() -> None:
    c = CounterRate()
    c.add(0.0, {(): 1000.0})
    c.add(10.0, {(): 2000.0})
    assert c.rate() == 100.0
    c.add(20.0, {(): 300.0})  # restarted: 300 new tokens since
    assert c.rate() == 30.0
    c.add(30.0, {(): 1300.0})
    assert c.rate() == 100.0
    c.add(30.5, {(): 1350.0})  # under a second: measured against the sample before
    assert c.rate() == pytest.approx(1050.0 / 10.5)


def test_served_counter_reset_is_not_a_negative_rate(
        tmp_path: Path, http_server: MetricsHttpServer) -> None:
    state = {"sim": VllmSim(lambda: 800.0, start_tokens=9_000_000)}
    url = http_server.route("/vllm", lambda: (200, state["sim"].page().encode()))
    site = load_site(site_file(tmp_path, device("v", "inference", endpoint=url)))

    async def main() -> list[Reading]:
        poller = Poller(site, lambda b: None)
        try:
            first = await poller.poll_device(site.device("v"))
            state["sim"] = VllmSim(lambda: 800.0)  # the server restarts: counter from 0
            await asyncio.sleep(1.2)
            second = await poller.poll_device(site.device("v"))
            return [first, second]
        finally:
            await poller.close()

    first, second = asyncio.run(main())
    assert abs(first.metrics["tokens_per_s"] - 800) < 80
    assert 0 <= second.metrics["tokens_per_s"] < 900


def test_ttft_p95_from_histogram() -> None:
    buckets = {0.1: 50.0, 0.2: 90.0, 0.5: 100.0, float("inf"): 100.0}
    assert quantile(0.95, buckets) == pytest.approx(0.2 + 0.3 * 5 / 10)
    assert quantile(0.95, {0.1: 0.0, float("inf"): 0.0}) is None
    assert quantile(0.5, {0.1: 0.0, float("inf"): 4.0}) == 0.1  # in +Inf: the top bound


@pytest.mark.parametrize(("page", "server"), [
    ('# TYPE tgi_queue_size gauge\ntgi_queue_size 3\n'
     '# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size 8\n'
     '# TYPE tgi_request_generated_tokens histogram\n'
     'tgi_request_generated_tokens_bucket{le="+Inf"} 10\n'
     'tgi_request_generated_tokens_sum 5000\ntgi_request_generated_tokens_count 10\n', "tgi"),
    ('# TYPE nv_inference_pending_request_count gauge\n'
     'nv_inference_pending_request_count{model="llama"} 2\n'
     '# TYPE nv_trt_llm_request_metrics gauge\n'
     'nv_trt_llm_request_metrics{model="llama",request_type="active"} 5\n'
     'nv_trt_llm_request_metrics{model="llama",request_type="max"} 64\n', "triton"),
])
def test_auto_detects_tgi_and_triton(page: str, server: str, tmp_path: Path,
                                     http_server: MetricsHttpServer) -> None:
    smap = detect(parse_samples(page))
    assert smap is not None and smap.name == server
    url = http_server.static("/m", page)
    by_id, _store, _ = poll(site_file(tmp_path, device("i", "inference", endpoint=url)))
    r = by_id["i"]
    assert r.labels == {"server": server}
    if server == "tgi":
        assert r.status is Status.OK
        assert (r.metrics["requests_running"], r.metrics["requests_waiting"]) == (8.0, 3.0)
        assert r.metrics["tokens_per_s"] == 0.0  # a static page: nothing generated
    else:  # no token counter on this page: partial, and says which one it lacks
        assert r.status is Status.PARTIAL and "nv_llm_output_token_len_sum" in r.error
        assert (r.metrics["requests_running"], r.metrics["requests_waiting"]) == (5.0, 2.0)


def test_unknown_server_page_is_an_error(tmp_path: Path, http_server: MetricsHttpServer) -> None:
    url = http_server.static("/m", "# TYPE up gauge\nup 1\n")
    by_id, _store, _ = poll(site_file(tmp_path, device("i", "inference", endpoint=url)))
    assert by_id["i"].status is Status.ERROR
    assert by_id["i"].error == "no vLLM, TGI or Triton metrics in the page"


# ---- exporters that misbehave ----------------------------------------------------------


def test_hanging_exporter_is_unreachable_within_its_timeout(
        tmp_path: Path, http_server: MetricsHttpServer) -> None:
    hang = http_server.route("/hang", lambda: (200, None))
    by_id, _store, _ = poll(site_file(tmp_path, device("h", "gpu-host", exporter=hang, gpus=2,
                                                       timeout_s=0.5)))
    assert by_id["h"].status is Status.UNREACHABLE
    assert by_id["h"].error == "no answer within 0.5 s"
    assert by_id["h/1"].status is Status.UNREACHABLE


def test_cut_short_page_is_an_error(tmp_path: Path, http_server: MetricsHttpServer) -> None:
    text = dcgm_text(list(enumerate(uuids(4))))
    url = http_server.static("/cut", text)
    http_server.cut_bytes["/cut"] = len(text) // 2  # Content-Length says more
    by_id, _store, _ = poll(site_file(tmp_path, device("c", "gpu-host", exporter=url, gpus=4)))
    assert by_id["c"].status in (Status.ERROR, Status.UNREACHABLE)
    assert by_id["c"].status is not Status.OK


def test_partial_page_makes_partial_gpus(tmp_path: Path, http_server: MetricsHttpServer) -> None:
    """An exporter whose counters list lacks power: each GPU is partial, names what is missing."""
    url = http_server.static("/p", dcgm_text(list(enumerate(uuids(2))),
                                             drop=("DCGM_FI_DEV_POWER_USAGE",)))
    by_id, _store, _ = poll(site_file(tmp_path, device("p", "gpu-host", exporter=url, gpus=2)))
    assert by_id["p/0"].status is Status.PARTIAL
    assert by_id["p/0"].error == "not reported: power_w"
    assert "power_w" not in by_id["p/0"].metrics and by_id["p/0"].metrics["temp_c"] == 40.0


def test_oversized_page_is_refused(tmp_path: Path, http_server: MetricsHttpServer) -> None:
    big = http_server.static("/big", "# " + "x" * (9 * 1024 * 1024) + "\n")
    by_id, _store, _ = poll(site_file(tmp_path, device("b", "gpu-host", exporter=big, gpus=1)))
    assert by_id["b"].status is Status.ERROR and "byte limit" in by_id["b"].error


def test_gpus_matched_by_uuid_across_restarts(tmp_path: Path,
                                              http_server: MetricsHttpServer) -> None:
    ids = uuids(4)
    page = {"text": dcgm_text(list(enumerate(ids)))}
    url = http_server.route("/m", lambda: (200, page["text"].encode()))
    site = load_site(site_file(tmp_path, device("n", "gpu-host", exporter=url, gpus=4)))

    async def main() -> tuple[Reading, Reading, Reading]:
        poller = Poller(site, lambda b: None)
        try:
            before = await poller.poll_device(site.device("n"))
            # after a restart the exporter numbers the cards the other way round, and GPU 1
            # has fallen off the bus
            page["text"] = dcgm_text([(0, ids[3]), (1, ids[2]), (2, ids[0])])
            after = await poller.poll_device(site.device("n"))
            gone_child = await poller.poll_device(site.device("n/1"))
            return before, after, gone_child
        finally:
            await poller.close()

    before, after, gone = asyncio.run(main())
    slot_uuid = {p.device: p.labels.get("uuid") for p in before.parts}
    assert slot_uuid == {f"n/{k}": ids[k] for k in range(4)}
    got = {p.device: p for p in after.parts}
    assert got["n/3"].labels["uuid"] == ids[3] and got["n/3"].metrics["util_pct"] == 50.0
    assert got["n/0"].labels["uuid"] == ids[0] and got["n/0"].metrics["util_pct"] == 52.0
    assert got["n/2"].labels["uuid"] == ids[2] and got["n/2"].metrics["util_pct"] == 51.0
    assert got["n/1"].status is Status.ERROR
    assert got["n/1"].error == f"GPU {ids[1]} (NVIDIA H100 80GB HBM3) is missing from the exporter"
    assert after.status is Status.PARTIAL and after.error == "1 of 4 GPU slots without a GPU"
    assert gone.device == "n/1" and gone.status is Status.ERROR


def test_more_gpus_than_slots_and_empty_slots(tmp_path: Path,
                                              http_server: MetricsHttpServer) -> None:
    url = http_server.static("/m", dcgm_text(list(enumerate(uuids(3)))))
    by_id, _s, _ = poll(site_file(tmp_path, device("a", "gpu-host", exporter=url, gpus=2)
                                  + device("b", "gpu-host", exporter=url, gpus=4)))
    assert by_id["a"].status is Status.PARTIAL and "1 GPUs beyond gpus = 2" in by_id["a"].error
    assert by_id["b/3"].status is Status.ERROR
    assert by_id["b/3"].error == "no GPU for this slot: the exporter reports 3 (set gpus = 3 on b)"


def test_keep_alive_reuses_connections(tmp_path: Path, http_server: MetricsHttpServer) -> None:
    url = http_server.static("/m", dcgm_text(list(enumerate(uuids(2)))))
    site = load_site(site_file(tmp_path, device("k", "gpu-host", exporter=url, gpus=2)))

    async def main() -> None:
        poller = Poller(site, lambda b: None)
        try:
            for _ in range(5):
                r = await poller.poll_device(site.device("k"))
                assert r.status is Status.OK
        finally:
            await poller.close()

    asyncio.run(main())
    assert http_server.requests == 5
    assert http_server.connections == 1


def test_simulated_dcgm_page_round_trips() -> None:
    nv = SimNvml(count=4, seed=3)
    rows = parse_dcgm(dcgm_page(nv, "sim-host"))
    assert [r.uuid for r in sorted(rows.values(), key=lambda r: r.index or 0)] == \
        [g.uuid for g in nv.gpus]
    m = rows[nv.gpus[0].uuid].metrics()
    assert m["power_limit_w"] == nv.gpus[0].power_limit_mw / 1000
    assert {"util_pct", "temp_c", "power_w", "mem_temp_c", "sm_clock_mhz"} <= m.keys()


# ---- the site file ---------------------------------------------------------------------


def test_site_file_expands_gpu_slots(tmp_path: Path) -> None:
    site = load_site(site_file(tmp_path, device("n", "gpu-host", exporter="http://10.0.5.7:9400/metrics")
                               + device("v", "inference", endpoint="http://u:tok@10.0.5.7:8000/metrics",
                                        server="vllm")))
    ids = [d.id for d in site.devices()]
    assert ids == ["n", *(f"n/{k}" for k in range(8)), "v"]
    assert [d.id for d in site.polled_devices()] == ["n", "v"]
    child = site.device("n/3")
    assert child is not None and (child.kind, child.parent, child.slot) == ("gpu", "n", 3)
    v = site.device("v")
    assert v is not None and v.server == "vllm"
    assert v.address == "http://10.0.5.7:8000/metrics"  # no user, no token


@pytest.mark.parametrize(("devices", "expected"), [
    (device("n", "gpu-host"), "groups[0].devices[0].exporter: missing required key"),
    (device("n", "gpu-host", exporter="ftp://x/metrics"),
     "groups[0].devices[0].exporter: must be an http:// or https:// URL"),
    (device("n", "gpu-host", exporter="http://x/m", gpus=0),
     "groups[0].devices[0].gpus: 0 is out of range"),
    (device("n", "gpu-host", exporter="http://x/m", server="vllm"),
     "groups[0].devices[0].server: only for inference devices"),
    (device("v", "inference", endpoint="http://x/m", server="ollama"),
     'groups[0].devices[0].server: unknown server "ollama"'),
    (device("v", "inference", exporter="http://x/m"),
     "groups[0].devices[0].exporter: not used by inference devices (they use endpoint)"),
    (device("v", "inference", endpoint="http://x/m", profile="sim-miner"),
     "groups[0].devices[0].profile: not used by inference devices"),
    (device("m", "miner", address="10.0.0.1", profile="sim-miner", credentials="c",
            endpoint="http://x/m"),
     "groups[0].devices[0].endpoint: only for gpu-host or inference devices, not miner"),
])
def test_site_file_problems(tmp_path: Path, devices: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_site(site_file(tmp_path, devices))
    assert any(expected in line for line in err.value.errors), err.value.errors


def test_first_poll_takes_a_second_sample_for_the_rate(
        tmp_path: Path, http_server: MetricsHttpServer) -> None:
    vllm = VllmSim(lambda: 100.0)
    url = http_server.route("/v", lambda: (200, vllm.page().encode()))
    t0 = time.monotonic()
    by_id, _s, _ = poll(site_file(tmp_path, device("v", "inference", endpoint=url)))
    assert time.monotonic() - t0 >= 1.0
    assert http_server.requests == 2
    assert abs(by_id["v"].metrics["tokens_per_s"] - 100.0) < 10.0


# ---- duty verification: wait-metric on tokens_per_s ------------------------------------


def _duty_site(tmp_path: Path, url: str, timeout_s: float) -> Path:
    steps = (f'[[groups.duties.inference]]\naction = "wait-metric"\ntargets = "all"\n'
             f'metric = "tokens_per_s"\nop = ">"\nvalue = 0\ntimeout_s = {timeout_s}\n'
             '[[groups.duties.idle]]\naction = "wait-metric"\ntargets = ["v"]\n'
             'metric = "tokens_per_s"\nop = "<"\nvalue = 1\ntimeout_s = 20\n')
    path = site_file(tmp_path, device("v", "inference", endpoint=url)
                     + device("n", "gpu-host", exporter=url, gpus=1) + steps)
    text = path.read_text().replace('duty = "inference"', 'duty = "idle"')
    path.write_text(text)
    return path


def test_wait_metric_verifies_a_group_really_serves(
        tmp_path: Path, http_server: MetricsHttpServer) -> None:
    serving = {"rate": 0.0}
    vllm = VllmSim(lambda: serving["rate"], start_tokens=1000)
    url = http_server.route("/v", lambda: (200, vllm.page().encode()))
    site = load_site(_duty_site(tmp_path, url, 60))

    async def main(ctl):
        plan = await ctl.plan("gpu-a", "inference")
        # the server starts generating 3 s into the switch
        asyncio.get_running_loop().call_later(3.0, serving.update, {"rate": 600.0})
        entered = await ctl.switch("gpu-a", "inference")
        serving["rate"] = 0.0
        await asyncio.sleep(1.2)  # a window with nothing generated
        left = await ctl.switch("gpu-a", "idle")
        return plan, entered, left

    plan, entered, left = asyncio.run(with_controller(site, tmp_path / "data", main))
    assert [s.devices for s in plan.steps] == [("v",)]  # "all": only what reports the metric
    assert entered.outcome == "done", entered.failures
    msg = entered.steps[0].devices[0].message
    assert msg.startswith("tokens_per_s = ") and msg.endswith("want > 0.0")
    assert left.outcome == "done", left.failures


def test_wait_metric_fails_a_group_that_does_not_serve(
        tmp_path: Path, http_server: MetricsHttpServer) -> None:
    vllm = VllmSim(lambda: 0.0)
    url = http_server.route("/v", lambda: (200, vllm.page().encode()))
    site = load_site(_duty_site(tmp_path, url, 3))
    result = asyncio.run(with_controller(site, tmp_path / "data",
                                         lambda ctl: ctl.switch("gpu-a", "inference")))
    assert result.outcome == "degraded"
    (fail,) = result.failures
    assert fail.device == "v"
    assert fail.message == "tokens_per_s = 0, want > 0.0 (timed out after 3 s)"


# ---- the simulator: a dcgm-exporter host and a vLLM page that follow the duty ----------


def test_simulated_rack_serves_tokens_only_in_inference(tmp_path: Path) -> None:
    from opsconsole.core.duty import DutyController, Journal
    from opsconsole.sim.site import TOKENS_PER_GPU, SimSite

    sim = SimSite(miners=0, gpus=2, exporters=True)
    sim.vllm_ramp_s = 0.0

    async def main():
        await sim.start()
        site = load_site(sim.write_config(tmp_path / "site.toml"))
        poller = Poller(site, lambda b: None, simulated_nvml=simulated_nvml)
        ctl = DutyController(site, Journal.in_dir(tmp_path / "data"), poller,
                             executors=EXECUTORS)
        try:
            first = {r.device: r for r in await poller.poll_once()}
            idle = await ctl.switch("gpu-a", "idle")
            entered = await ctl.switch("gpu-a", "inference")
            await asyncio.sleep(1.5)
            serving = {r.device: r for r in await poller.poll_once()}
            left = await ctl.switch("gpu-a", "idle")
            await asyncio.sleep(1.5)
            after = {r.device: r for r in await poller.poll_once()}
            return site, first, idle, entered, serving, left, after
        finally:
            await poller.close()
            await sim.stop()

    site, first, idle, entered, serving, left, after = asyncio.run(main())
    assert site.economics == {"hashprice_usd_per_ph_day": 48.0, "token_price_usd_per_mtok": 0.1,
                              "power_price_usd_per_mwh": 45.0}
    for k in range(2):
        r = first[f"gpu-a-node1/{k}"]
        assert r.status is Status.OK and r.labels["uuid"] == sim.remote_gpus.gpus[k].uuid
        assert r.metrics["power_limit_w"] == 350.0
    assert first["gpu-a-vllm"].metrics["tokens_per_s"] == 0.0  # no service yet
    assert idle.outcome == "done" and entered.outcome == "done", entered.failures
    verify = entered.steps[-1].devices[0]
    assert verify.device == "gpu-a-vllm" and verify.ok
    full = TOKENS_PER_GPU * 2
    assert abs(serving["gpu-a-vllm"].metrics["tokens_per_s"] - full) / full < 0.10
    assert serving["gpu-a-node1/0"].metrics["util_pct"] == 85.0
    assert left.outcome == "done", left.failures
    assert after["gpu-a-vllm"].metrics["tokens_per_s"] == 0.0
    assert after["gpu-a-node1/0"].metrics["util_pct"] == 5.0


def test_scrapes_spread_over_the_interval(tmp_path: Path, http_server: MetricsHttpServer) -> None:
    """The poller's schedule, as for SNMP devices: each host once per interval,
    the hosts at different offsets within it (no thundering herd)."""
    seen: dict[str, list[float]] = {}

    def page(name: str):
        text = dcgm_text(list(enumerate(uuids(2, prefix=f"GPU-{name}"))))

        def route() -> tuple[int, bytes]:
            seen.setdefault(name, []).append(time.time())
            return 200, text.encode()
        return route

    names = [f"h{k}" for k in range(4)]
    devs = "".join(device(n, "gpu-host", exporter=http_server.route(f"/{n}", page(n)), gpus=2)
                   for n in names)
    site = load_site(site_file(tmp_path, devs, interval=1.0))
    batches: list[list[Reading]] = []

    async def main() -> None:
        poller = Poller(site, batches.append, batch_interval_s=0.2)
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(4.5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await poller.close()

    asyncio.run(main())
    assert set(seen) == set(names)
    for n in names:
        assert len(seen[n]) >= 3, (n, len(seen[n]))
        gaps = [b - a for a, b in zip(seen[n], seen[n][1:], strict=False)]
        assert statistics.median(gaps) == pytest.approx(1.0, abs=0.3), gaps
    # within each cycle the four hosts are asked at different offsets: spread over it
    offsets = sorted({round(t % 1.0, 1) for n in names for t in seen[n][1:2]})
    assert len(offsets) >= 3, offsets
    got = {r.device for b in batches for r in b}
    assert {f"{n}/{k}" for n in names for k in range(2)} <= got  # the GPUs come with each scrape
