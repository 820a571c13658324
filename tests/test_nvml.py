"""The NVML collector, through the simulated backend at the pynvml boundary
(the code under test is the real collector), plus the real no-driver path
and, where a GPU exists, real GPU 0 (`-m gpu`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pynvml
import pytest

from opsconsole.collectors.nvml import (
    GPU_LOST,
    NO_DRIVER,
    NO_SIMULATOR,
    NvmlCollector,
    NvmlPermissionError,
    NvmlUnavailableError,
    decode_throttle_reasons,
    make_nvml_backend,
)
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.readings import Status
from opsconsole.core.site import Device
from opsconsole.sim import simulated_nvml
from opsconsole.sim.nvml_sim import SimNvml

GPU_METRICS = {name for name, info in CATALOGUE.items() if "gpu" in info.kinds}


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def gpu(index: int | None = 0, uuid: str | None = None, id: str | None = None) -> Device:
    return Device(id=id or f"gpu-{index}", kind="gpu", group="rack-g", nvml_index=index, uuid=uuid)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> SimNvml:
    return SimNvml(count=2, seed=7, clock=clock)


@pytest.fixture
def col(sim: SimNvml):
    c = NvmlCollector(sim)
    yield c
    c.shutdown()


def test_loaded_gpu_has_every_metric_and_plausible_values(sim, col):
    sim.set_load(0, 0.8)
    r = col.collect(gpu(0))
    assert r.status is Status.OK and r.error is None
    assert set(r.metrics) == GPU_METRICS
    m = r.metrics
    assert m["util_pct"] == 80 and 0 < m["mem_util_pct"] <= 100
    assert m["mem_total_mib"] == 81559 and 0 < m["mem_used_mib"] < m["mem_total_mib"]
    assert 20 <= m["temp_c"] <= 95 and m["mem_temp_c"] > m["temp_c"]
    assert 60 <= m["power_w"] <= m["power_limit_w"] == 350.0
    assert 300 <= m["sm_clock_mhz"] <= 2000 and m["mem_clock_mhz"] > 1000
    assert 0 <= m["fan_pct"] <= 100
    assert m["ecc_uncorrected"] == 0 and m["xid_last"] == 0
    assert isinstance(m["throttle_reasons"], str)
    assert r.device == "gpu-0" and r.duration_s >= 0


def test_power_follows_load_up_to_the_limit_and_shows_the_cap(sim, col):
    readings = {}
    for load in (0.0, 0.25, 0.5, 1.0):
        sim.set_load(0, load)
        readings[load] = col.collect(gpu(0)).metrics
    powers = [readings[x]["power_w"] for x in (0.0, 0.25, 0.5, 1.0)]
    assert powers == sorted(powers) and len(set(powers)) == 4
    assert 60 <= powers[0] <= 80  # idle
    assert readings[0.0]["throttle_reasons"] == "gpu_idle"
    assert readings[0.5]["throttle_reasons"] == "none"
    full = readings[1.0]
    assert full["power_w"] == full["power_limit_w"] == 350.0
    assert "sw_power_cap" in full["throttle_reasons"].split(",")
    assert full["sm_clock_mhz"] < readings[0.5]["sm_clock_mhz"]  # clocks drop at the cap


def test_temperature_rises_with_a_thermal_lag(sim, col, clock):
    sim.set_load(0, 0.0)
    clock.t += 600  # settle at idle
    idle = col.collect(gpu(0)).metrics["temp_c"]
    sim.set_load(0, 1.0)
    temps = []
    for dt in (1, 10, 30, 60, 300):
        clock.t += dt
        temps.append(col.collect(gpu(0)).metrics["temp_c"])
    assert temps == sorted(temps)
    assert temps[0] - idle <= 2  # one second later: barely moved
    assert temps[-1] - idle >= 30  # minutes later: near the loaded equilibrium
    assert temps[-1] - temps[-2] <= 2  # and settled


def test_not_supported_leaves_the_metric_out_and_stays_ok(sim, col):
    sim.inject_error(0, "nvmlDeviceGetFanSpeed")  # passively cooled card
    sim.inject_error(0, pynvml.NVML_FI_DEV_MEMORY_TEMP)  # no HBM sensor (per-field return)
    sim.inject_error(0, "nvmlDeviceGetTotalEccErrors")  # ECC disabled
    r = col.collect(gpu(0))
    assert r.status is Status.OK and r.error is None
    assert set(r.metrics) == GPU_METRICS - {"fan_pct", "mem_temp_c", "ecc_uncorrected"}


def test_a_failed_read_is_partial_and_names_the_metric(sim, col):
    sim.inject_error(0, "nvmlDeviceGetPowerUsage", pynvml.NVML_ERROR_UNKNOWN)
    r = col.collect(gpu(0))
    assert r.status is Status.PARTIAL
    assert "power_w" not in r.metrics and "temp_c" in r.metrics
    assert "power_w" in r.error and "\n" not in r.error


def test_deprecated_fallbacks_when_new_functions_are_missing(sim, col):
    missing = pynvml.NVML_ERROR_FUNCTION_NOT_FOUND  # an older driver
    sim.inject_error(0, "nvmlDeviceGetTemperatureV", missing)
    sim.inject_error(0, "nvmlDeviceGetCurrentClocksEventReasons", missing)
    r = col.collect(gpu(0))
    assert r.status is Status.OK
    assert "temp_c" in r.metrics and "throttle_reasons" in r.metrics


def test_lost_gpu_is_an_error_then_recovers_with_a_fresh_handle(sim, col):
    assert col.collect(gpu(0)).status is Status.OK
    sim.lose(0)
    for _ in range(2):  # stays lost, never crashes
        r = col.collect(gpu(0))
        assert r.status is Status.ERROR and r.error == GPU_LOST and r.metrics == {}
    assert col.collect(gpu(1)).status is Status.OK  # the neighbour is unaffected
    sim.restore(0)  # old handles stay dead: only a re-resolve recovers
    sim.inject_xid(0, 31)
    r = col.collect(gpu(0))
    assert r.status is Status.OK and set(r.metrics) == GPU_METRICS
    sim.inject_xid(0, 31)  # XID events re-registered on the new handle
    assert col.collect(gpu(0)).metrics["xid_last"] == 31


def test_unknown_index_and_uuid_are_errors_naming_the_device(col):
    r = col.collect(gpu(9, id="gpu-nine"))
    assert r.status is Status.ERROR
    assert "gpu-nine" in r.error and "nvml_index 9" in r.error and "2 GPUs" in r.error
    r = col.collect(gpu(None, uuid="GPU-00000000-dead-beef-0000-000000000000", id="ghost"))
    assert r.status is Status.ERROR
    assert "ghost" in r.error and "GPU-00000000-dead-beef" in r.error


def test_uuid_lookup_reads_the_right_gpu(sim, col):
    sim.set_load(0, 0.0)
    sim.set_load(1, 0.9)
    r = col.collect(gpu(None, uuid=sim.gpus[1].uuid, id="by-uuid"))
    assert r.status is Status.OK and r.metrics["util_pct"] == 90


def test_handles_are_resolved_once(sim, col):
    calls = []
    real = sim.nvmlDeviceGetHandleByIndex
    sim.nvmlDeviceGetHandleByIndex = lambda i: calls.append(i) or real(i)  # type: ignore[method-assign]
    for _ in range(5):
        assert col.collect(gpu(0)).status is Status.OK
    assert calls == [0]


def test_xid_injected_shows_in_xid_last_and_is_kept(sim, col):
    assert col.collect(gpu(0)).metrics["xid_last"] == 0  # registers the event set
    sim.inject_xid(0, 79)
    assert col.collect(gpu(0)).metrics["xid_last"] == 79
    assert col.collect(gpu(0)).metrics["xid_last"] == 79  # kept until the next one
    assert col.collect(gpu(1)).metrics["xid_last"] == 0  # per GPU
    sim.inject_xid(0, 48)
    sim.inject_xid(0, 94)
    assert col.collect(gpu(0)).metrics["xid_last"] == 94


def test_xid_not_supported_leaves_it_out(sim, col):
    sim.inject_error(0, "nvmlDeviceRegisterEvents")
    r = col.collect(gpu(0))
    assert r.status is Status.OK and "xid_last" not in r.metrics


def test_ecc_errors_counted(sim, col):
    sim.add_ecc_errors(1, 2)
    assert col.collect(gpu(1)).metrics["ecc_uncorrected"] == 2


def test_remapped_rows_follow_uncorrectable_errors(sim, col):
    m = col.collect(gpu(1)).metrics
    assert (m["remapped_rows_uncorrectable"], m["row_remap_failure"]) == (0, 0)
    sim.add_ecc_errors(1, 16)  # the simulated card remaps a row per 8 errors
    m = col.collect(gpu(1)).metrics
    assert m["remapped_rows_uncorrectable"] == 2 and m["remapped_rows_correctable"] == 0


def test_no_row_remapper_leaves_the_remap_metrics_out(sim, col):
    sim.inject_error(1, "nvmlDeviceGetRemappedRows")  # pre-Ampere: NOT_SUPPORTED
    r = col.collect(gpu(1))
    assert r.status is Status.OK
    assert not {"remapped_rows_correctable", "remapped_rows_uncorrectable",
                "row_remap_failure"} & set(r.metrics)


def test_set_power_limit_within_bounds_with_root(clock):
    sim = SimNvml(count=1, seed=3, clock=clock, root=True)
    col = NvmlCollector(sim)
    assert col.power_limit_constraints(gpu(0)) == (200.0, 400.0)
    col.set_power_limit(gpu(0), 300)
    sim.set_load(0, 1.0)
    m = col.collect(gpu(0)).metrics
    assert m["power_limit_w"] == 300.0 and m["power_w"] == 300.0


def test_set_power_limit_outside_bounds_names_them(clock):
    col = NvmlCollector(SimNvml(count=1, seed=3, clock=clock, root=True))
    with pytest.raises(ValueError, match=r"450 W.*200-400 W"):
        col.set_power_limit(gpu(0), 450)
    with pytest.raises(ValueError, match="200-400"):
        col.set_power_limit(gpu(0), 150)


def test_set_power_limit_without_root(col):
    with pytest.raises(NvmlPermissionError, match="setting a power limit needs root"):
        col.set_power_limit(gpu(0), 300)
    assert col.collect(gpu(0)).metrics["power_limit_w"] == 350.0


def test_no_driver_in_the_backend_is_unreachable_with_the_exact_message(clock):
    col = NvmlCollector(SimNvml(clock=clock, init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    assert not col.available() and col.unavailable_reason == NO_DRIVER
    r = col.collect(gpu(0))
    assert r.status is Status.UNREACHABLE and r.error == NO_DRIVER and r.metrics == {}


def test_other_init_failure_is_one_clear_line(clock):
    sim = SimNvml(clock=clock, init_error=pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH)
    col = NvmlCollector(sim)
    assert not col.available()
    reason = col.unavailable_reason
    assert reason.startswith("NVML not available: ") and "mismatch" in reason and "\n" not in reason
    r = col.collect(gpu(0))
    assert r.status is Status.UNREACHABLE and r.error == reason


def test_not_a_gpu_is_an_error(col):
    r = col.collect(Device(id="a-01", kind="miner", group="row-a", host="10.0.0.1"))
    assert r.status is Status.ERROR and "a-01" in r.error


def test_concurrent_collects_from_an_executor(clock):
    sim = SimNvml(count=8, seed=1, clock=clock)
    col = NvmlCollector(sim)
    devices = [gpu(i) for i in range(8)] * 4
    with ThreadPoolExecutor(8) as ex:
        readings = list(ex.map(col.collect, devices))
    assert all(r.status is Status.OK for r in readings)
    col.shutdown()
    assert sim._refcount == 0  # nvmlShutdown balanced the one lazy init


def test_throttle_reason_decoding():
    assert decode_throttle_reasons(0) == "none"
    assert (
        decode_throttle_reasons(
            pynvml.nvmlClocksEventReasonSwPowerCap | pynvml.nvmlClocksEventReasonHwSlowdown
        )
        == "sw_power_cap,hw_slowdown"
    )
    assert decode_throttle_reasons(1 << 40) == hex(1 << 40)


def test_make_nvml_backend_modes():
    sim = make_nvml_backend("simulated", 3, 5, simulated=simulated_nvml)
    assert isinstance(sim, SimNvml) and len(sim.gpus) == 3
    # the collectors never import the simulator: without one handed in, the
    # GPUs read unreachable and say why, in one line
    col = NvmlCollector(make_nvml_backend("simulated", 3, 5))
    r = col.collect(gpu(0))
    assert r.status is Status.UNREACHABLE and r.error == NO_SIMULATOR
    with pytest.raises(NvmlUnavailableError, match="given no simulated GPUs"):
        col.power_limit_constraints(gpu(0))
    assert make_nvml_backend("real", 3, 5) is None
    assert make_nvml_backend("auto", 3, 5) is None
    with pytest.raises(ValueError, match="simulated"):
        make_nvml_backend("fake", 3, 5)


def test_simulated_load_drifts_by_default(clock):
    sim = SimNvml(count=1, seed=2, clock=clock)
    col = NvmlCollector(sim)
    utils = set()
    for _ in range(20):
        clock.t += 60
        utils.add(col.collect(gpu(0)).metrics["util_pct"])
    assert len(utils) > 5


# ---- the real library on this machine ------------------------------------


def _real_nvml_present() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


REAL_NVML = _real_nvml_present()


@pytest.mark.skipif(REAL_NVML, reason="a real NVIDIA driver is present")
def test_no_driver_for_real():
    col = NvmlCollector()
    assert col.available() is False
    assert col.unavailable_reason == NO_DRIVER
    r = col.collect(gpu(0))
    assert r.status is Status.UNREACHABLE and r.error == NO_DRIVER and r.metrics == {}
    with pytest.raises(Exception, match="no NVIDIA driver"):
        col.set_power_limit(gpu(0), 300)
    col.shutdown()


@pytest.mark.gpu
@pytest.mark.skipif(not REAL_NVML, reason="NVML not available")
def test_real_gpu0_metrics_present_or_legitimately_absent():
    col = NvmlCollector()
    try:
        r = col.collect(gpu(0))
        assert r.status is Status.OK, r.error  # partial would mean a read failed
        m = r.metrics
        assert set(m) <= GPU_METRICS
        assert {"util_pct", "mem_used_mib", "mem_total_mib", "temp_c", "power_w"} <= set(m)
        assert 0 <= m["util_pct"] <= 100 and 0 <= m.get("mem_util_pct", 0) <= 100
        assert 0 < m["mem_used_mib"] <= m["mem_total_mib"] < 1 << 20
        assert 0 < m["temp_c"] < 110 and 0 < m.get("mem_temp_c", 50) < 120
        assert 0 < m["power_w"] < 2000
        assert 0 < m.get("sm_clock_mhz", 1) < 4000 and 0 < m.get("mem_clock_mhz", 1) < 20000
        assert 0 <= m.get("fan_pct", 0) <= 100 and m.get("ecc_uncorrected", 0) >= 0
        assert isinstance(m["throttle_reasons"], str) and isinstance(m.get("xid_last", 0), int)
    finally:
        col.shutdown()


@pytest.mark.gpu
@pytest.mark.skipif(not REAL_NVML, reason="NVML not available")
def test_real_gpu0_power_limit_within_constraints():
    col = NvmlCollector()
    try:
        lo, hi = col.power_limit_constraints(gpu(0))
        limit = col.collect(gpu(0)).metrics["power_limit_w"]
        assert 0 < lo <= limit <= hi
    finally:
        col.shutdown()
