"""NVML collector: one local GPU -> one Reading, through pynvml or a
module-like backend with the same names (the simulator, `sim.nvml_sim`,
handed in by a layer above: this module never imports sim).

Discipline (after nvitop): one lazy, locked init; every NVML call goes
through `_call`, which turns "this card has no such thing" (NotSupported,
FunctionNotFound, a function the bindings lack) into ABSENT, a lost GPU into
GpuLostError, and lets every other NVMLError through.

Status rules (the decision, for the poller and the UI):
- ok: every metric read, or the only missing ones are absent because the
  card has no such sensor/feature (NotSupported is not missing data: a
  passively cooled card has no fan_pct, ever);
- partial: at least one metric exists but its read failed with another NVML
  error; `error` names those metrics;
- error: the GPU is lost ("GPU lost (fell off the bus)"; the handle is
  dropped and re-resolved on the next poll), no GPU at that index/UUID, or
  nothing at all could be read;
- unreachable: NVML itself is unavailable ("NVML not available: no NVIDIA
  driver" when there is no driver / library).

Metric notes: mem_util_pct is NVML's memory-controller busy %, not used/total;
ecc_uncorrected is the volatile count (since the driver loaded); xid_last is
the last XID seen since this collector started watching, 0 when none.

collect() is synchronous and thread-safe; the poller runs it in an executor.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import pynvml

from opsconsole.core.readings import MetricValue, Reading, Status
from opsconsole.core.site import Device

NO_DRIVER = "NVML not available: no NVIDIA driver"
GPU_LOST = "GPU lost (fell off the bus)"
NO_SIMULATOR = ('nvml = "simulated", but this process was given no simulated GPUs '
                "(opsconsole poll, duty, serve and the GUI hand them in)")
NEEDS_ROOT = "setting a power limit needs root"

_ABSENT: Any = object()  # the metric does not exist on this card
_INIT_RETRY_S = 30.0  # a failed init is retried at most this often (a driver may appear)
_MAX_EVENTS_PER_POLL = 64  # bound the XID drain so a storm cannot stall a poll

_ABSENT_CODES = frozenset({pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND})
_ABSENT_FIELD_CODES = _ABSENT_CODES | {pynvml.NVML_ERROR_NOT_FOUND}
_NO_DRIVER_CODES = frozenset(
    {pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, pynvml.NVML_ERROR_DRIVER_NOT_LOADED}
)
_NOT_FOUND_CODES = frozenset(
    {
        pynvml.NVML_ERROR_INVALID_ARGUMENT,  # index >= count
        pynvml.NVML_ERROR_NOT_FOUND,  # unknown UUID
        getattr(pynvml, "NVML_ERROR_GPU_NOT_FOUND", -1),
    }
)


_CLOCKS = (("sm_clock_mhz", pynvml.NVML_CLOCK_SM), ("mem_clock_mhz", pynvml.NVML_CLOCK_MEM))


class NvmlError(Exception):
    """An NVML operation failed; the message is one line fit for an operator."""


class NvmlUnavailableError(NvmlError):
    """NVML could not be initialised (no driver, version mismatch, ...)."""


class NvmlPermissionError(NvmlError):
    """The operation needs root."""


class GpuLostError(NvmlError):
    """The GPU fell off the bus."""


class GpuNotFoundError(NvmlError):
    """No GPU at the configured index / UUID."""


def _code(e: BaseException) -> int | None:
    return getattr(e, "value", None)


# (label, constant suffix): bits come from pynvml's nvmlClocksEventReason* (NVML 12+)
# or the deprecated nvmlClocksThrottleReason* names, whichever the bindings have.
_REASON_NAMES = (
    ("gpu_idle", "GpuIdle"),
    ("app_clocks", "ApplicationsClocksSetting"),
    ("sw_power_cap", "SwPowerCap"),
    ("hw_slowdown", "HwSlowdown"),
    ("sync_boost", "SyncBoost"),
    ("sw_thermal", "SwThermalSlowdown"),
    ("hw_thermal", "HwThermalSlowdown"),
    ("hw_power_brake", "HwPowerBrakeSlowdown"),
    ("display_clocks", "DisplayClockSetting"),
    ("board_limit", "BoardLimit"),
    ("reliability", "Reliability"),
)
_REASON_BITS: tuple[tuple[str, int], ...] = tuple(
    (label, bit)
    for label, suffix in _REASON_NAMES
    if (
        bit := getattr(pynvml, f"nvmlClocksEventReason{suffix}", None)
        or getattr(pynvml, f"nvmlClocksThrottleReason{suffix}", None)
    )
)


def decode_throttle_reasons(mask: int) -> str:
    """'sw_power_cap,hw_slowdown' for a clocks-event bitmask; 'none' for 0.
    Unknown bits are kept as hex rather than dropped."""
    names = [label for label, bit in _REASON_BITS if mask & bit]
    rest = mask & ~sum(bit for _, bit in _REASON_BITS)
    if rest:
        names.append(hex(rest))
    return ",".join(names) or "none"


def _field_value(fv: Any) -> float | int:
    """The value of a c_nvmlFieldValue_t by its valueType."""
    attr = {
        pynvml.NVML_VALUE_TYPE_DOUBLE: "dVal",
        pynvml.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
        pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal",
        pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
        pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal",
        getattr(pynvml, "NVML_VALUE_TYPE_SIGNED_INT", 5): "siVal",
        getattr(pynvml, "NVML_VALUE_TYPE_UNSIGNED_SHORT", 6): "usVal",
    }.get(fv.valueType, "uiVal")
    return getattr(fv.value, attr)


@dataclass(eq=False)
class _Gpu:
    """What we keep per configured GPU: the resolved handle, its XID event set."""

    handle: Any = None
    event_set: Any = None
    xid_supported: bool = True
    last_xid: int = 0  # 0: none seen since we started watching
    lock: threading.Lock = field(default_factory=threading.Lock)


class NvmlCollector:
    def __init__(self, backend: Any | None = None) -> None:
        self._nvml: Any = pynvml if backend is None else backend
        self._lock = threading.Lock()  # init, shutdown and the handle cache
        self._initialized = False
        self._reason: str | None = None
        self._failed_at: float | None = None
        self._gpus: dict[tuple[str, Any], _Gpu] = {}

    # ---- init --------------------------------------------------------------

    def _ensure_init(self) -> bool:
        if self._initialized:
            return True
        with self._lock:
            if self._initialized:
                return True
            if self._failed_at is not None and time.monotonic() - self._failed_at < _INIT_RETRY_S:
                return False
            try:
                self._nvml.nvmlInit()
            except pynvml.NVMLError as e:
                self._reason = (
                    NO_DRIVER if _code(e) in _NO_DRIVER_CODES else f"NVML not available: {e}"
                )
            except NvmlUnavailableError as e:  # _NoSimulator: says why already
                self._reason = str(e)
            except Exception as e:  # broken bindings / library: still one line, no traceback
                self._reason = f"NVML not available: {type(e).__name__}: {e}"
            else:
                self._initialized, self._reason, self._failed_at = True, None, None
                return True
            self._failed_at = time.monotonic()
            return False

    def available(self) -> bool:
        """Initialise NVML if needed; False when it cannot be used."""
        return self._ensure_init()

    @property
    def unavailable_reason(self) -> str | None:
        """None when NVML is usable, else one line (exactly NO_DRIVER without a driver)."""
        self._ensure_init()
        return self._reason

    def _require(self) -> None:
        if not self._ensure_init():
            raise NvmlUnavailableError(self._reason or NO_DRIVER)

    def shutdown(self) -> None:
        with self._lock:
            for gpu in self._gpus.values():
                self._free_events(gpu)
            self._gpus.clear()
            if self._initialized:
                self._initialized = False
                with contextlib.suppress(pynvml.NVMLError):  # already shut down
                    self._nvml.nvmlShutdown()

    # ---- the one wrapper ---------------------------------------------------

    def _call(self, name: str, *args: Any) -> Any:
        """Call an NVML function by name: ABSENT when the card or bindings lack
        it, GpuLostError when the GPU is gone, other NVMLErrors raised."""
        fn = getattr(self._nvml, name, None)
        if fn is None:
            return _ABSENT
        try:
            return fn(*args)
        except pynvml.NVMLError as e:
            code = _code(e)
            if code in _ABSENT_CODES:
                return _ABSENT
            if code == pynvml.NVML_ERROR_GPU_IS_LOST:
                raise GpuLostError(GPU_LOST) from None
            raise

    # ---- handles -----------------------------------------------------------

    @staticmethod
    def _key(device: Device) -> tuple[str, Any]:
        # The UUID wins when both are given: it survives renumbering.
        if device.uuid:
            return ("uuid", device.uuid)
        return ("index", device.nvml_index)

    def _gpu(self, device: Device) -> _Gpu:
        """The cached per-GPU state with a live handle, resolving it on a miss."""
        key = self._key(device)
        gpu = self._gpus.get(key)
        if gpu is not None and gpu.handle is not None:
            return gpu
        with self._lock:
            gpu = self._gpus.setdefault(key, _Gpu())
            if gpu.handle is None:
                gpu.handle = self._resolve(device)
            return gpu

    def _resolve(self, device: Device) -> Any:
        arg: str | int
        if device.uuid:
            fn, arg, what = "nvmlDeviceGetHandleByUUID", device.uuid, f"UUID {device.uuid}"
        elif device.nvml_index is not None:
            fn, arg, what = (
                "nvmlDeviceGetHandleByIndex",
                device.nvml_index,
                f"nvml_index {device.nvml_index}",
            )
        else:
            raise GpuNotFoundError(f"{device.id}: no nvml_index or uuid configured")
        try:
            handle = self._call(fn, arg)
        except pynvml.NVMLError as e:
            if _code(e) not in _NOT_FOUND_CODES:
                raise NvmlError(f"{device.id}: cannot open GPU with {what}: {e}") from None
            handle = _ABSENT
        if handle is _ABSENT:
            raise GpuNotFoundError(f"{device.id}: no GPU with {what}{self._count_note()}")
        return handle

    def _count_note(self) -> str:
        try:
            return f" (this host has {self._nvml.nvmlDeviceGetCount()} GPUs)"
        except pynvml.NVMLError:
            return ""

    def _forget(self, device: Device) -> None:
        """Drop a dead handle (and its event set); the next poll re-resolves."""
        gpu = self._gpus.get(self._key(device))
        if gpu is not None:
            with self._lock:
                self._free_events(gpu)
                gpu.handle = None

    def _free_events(self, gpu: _Gpu) -> None:
        if gpu.event_set is not None:
            # A failed free is harmless: the set dies with the GPU or the library.
            with contextlib.suppress(pynvml.NVMLError):
                self._nvml.nvmlEventSetFree(gpu.event_set)
            gpu.event_set = None

    # ---- collect -----------------------------------------------------------

    def collect(self, device: Device) -> Reading:
        t0 = time.monotonic()

        def reading(
            status: Status, metrics: dict[str, MetricValue] | None = None, error: str | None = None
        ) -> Reading:
            elapsed = time.monotonic() - t0
            return Reading(device.id, time.time(), status, metrics or {}, error, elapsed)

        if device.kind != "gpu":
            return reading(Status.ERROR, error=f"{device.id}: not a GPU (kind {device.kind!r})")
        if not self._ensure_init():
            return reading(Status.UNREACHABLE, error=self._reason or NO_DRIVER)
        try:
            gpu = self._gpu(device)
            with gpu.lock:
                metrics, failures = self._read(gpu)
        except GpuLostError:
            self._forget(device)
            return reading(Status.ERROR, error=GPU_LOST)
        except NvmlError as e:
            return reading(Status.ERROR, error=str(e))
        except pynvml.NVMLError as e:
            if _code(e) == pynvml.NVML_ERROR_UNINITIALIZED:
                self._initialized = False  # someone shut NVML down: init again next poll
                self._gpus.clear()
            return reading(Status.ERROR, error=f"{device.id}: NVML: {e}")
        except Exception as e:  # a bug must cost one reading, not the poller
            return reading(Status.ERROR, error=f"{device.id}: {type(e).__name__}: {e}")
        if failures and not metrics:
            return reading(Status.ERROR, error="; ".join(failures))
        if failures:
            return reading(Status.PARTIAL, metrics, "could not read " + "; ".join(failures))
        return reading(Status.OK, metrics)

    def _read(self, gpu: _Gpu) -> tuple[dict[str, MetricValue], list[str]]:
        """Every catalogue metric the card has. GpuLostError propagates."""
        h = gpu.handle
        m: dict[str, MetricValue] = {}
        failures: list[str] = []

        def read(label: str, fn: str, *args: Any) -> Any:
            try:
                return self._call(fn, h, *args)
            except pynvml.NVMLError as e:
                failures.append(f"{label} ({e})")
                return _ABSENT

        if (u := read("util_pct", "nvmlDeviceGetUtilizationRates")) is not _ABSENT:
            m["util_pct"], m["mem_util_pct"] = int(u.gpu), int(u.memory)
        if (mem := read("mem_used_mib", "nvmlDeviceGetMemoryInfo")) is not _ABSENT:
            m["mem_used_mib"], m["mem_total_mib"] = mem.used >> 20, mem.total >> 20
        # nvmlDeviceGetTemperature is deprecated in NVML 13; older drivers lack the V form.
        temp = read("temp_c", "nvmlDeviceGetTemperatureV", pynvml.NVML_TEMPERATURE_GPU)
        if temp is _ABSENT:
            temp = read("temp_c", "nvmlDeviceGetTemperature", pynvml.NVML_TEMPERATURE_GPU)
        if temp is not _ABSENT:
            m["temp_c"] = float(temp)
        if (mt := self._mem_temp(read, failures)) is not _ABSENT:
            m["mem_temp_c"] = mt
        if (p := read("power_w", "nvmlDeviceGetPowerUsage")) is not _ABSENT:
            m["power_w"] = round(p / 1000.0, 1)
        if (lim := read("power_limit_w", "nvmlDeviceGetPowerManagementLimit")) is not _ABSENT:
            m["power_limit_w"] = round(lim / 1000.0, 1)
        for name, domain in _CLOCKS:
            if (mhz := read(name, "nvmlDeviceGetClockInfo", domain)) is not _ABSENT:
                m[name] = int(mhz)
        if (fan := read("fan_pct", "nvmlDeviceGetFanSpeed")) is not _ABSENT:
            m["fan_pct"] = int(fan)
        ecc = read(
            "ecc_uncorrected",
            "nvmlDeviceGetTotalEccErrors",
            pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
            pynvml.NVML_VOLATILE_ECC,
        )
        if ecc is not _ABSENT:
            m["ecc_uncorrected"] = int(ecc)
        # Row remapping (Ampere and later; NOT_SUPPORTED elsewhere leaves them out):
        # (correctable, uncorrectable, pending, failure occurred).
        if (rows := read("remapped_rows", "nvmlDeviceGetRemappedRows")) is not _ABSENT:
            corr, unc, _pending, failed = rows
            m["remapped_rows_correctable"] = int(corr)
            m["remapped_rows_uncorrectable"] = int(unc)
            m["row_remap_failure"] = int(bool(failed))
        mask = read("throttle_reasons", "nvmlDeviceGetCurrentClocksEventReasons")
        if mask is _ABSENT:  # bindings/drivers older than the rename
            mask = read("throttle_reasons", "nvmlDeviceGetCurrentClocksThrottleReasons")
        if mask is not _ABSENT:
            m["throttle_reasons"] = decode_throttle_reasons(int(mask))
        if (xid := self._poll_xid(gpu, failures)) is not _ABSENT:
            m["xid_last"] = xid
        return m, failures

    def _mem_temp(self, read: Any, failures: list[str]) -> Any:
        values = read("mem_temp_c", "nvmlDeviceGetFieldValues", [pynvml.NVML_FI_DEV_MEMORY_TEMP])
        if values is _ABSENT:
            return _ABSENT
        fv = values[0]
        ret = fv.nvmlReturn
        if ret == pynvml.NVML_SUCCESS:
            v = _field_value(fv)
            # Cards without an HBM sensor may answer success with 0: not a reading.
            return float(v) if v else _ABSENT
        if ret in _ABSENT_FIELD_CODES:
            return _ABSENT
        if ret == pynvml.NVML_ERROR_GPU_IS_LOST:
            raise GpuLostError(GPU_LOST)
        failures.append(f"mem_temp_c ({pynvml.NVMLError(ret)})")
        return _ABSENT

    def _poll_xid(self, gpu: _Gpu, failures: list[str]) -> Any:
        """Drain the GPU's XID event set without waiting; keep the last XID."""
        if not gpu.xid_supported:
            return _ABSENT
        try:
            if gpu.event_set is None:
                # One event set per GPU, so an event needs no handle matching.
                es = self._call("nvmlEventSetCreate")
                if es is _ABSENT:
                    gpu.xid_supported = False
                    return _ABSENT
                gpu.event_set = es
                xid_bit = pynvml.nvmlEventTypeXidCriticalError
                if self._call("nvmlDeviceRegisterEvents", gpu.handle, xid_bit, es) is _ABSENT:
                    self._free_events(gpu)
                    gpu.xid_supported = False
                    return _ABSENT
            for _ in range(_MAX_EVENTS_PER_POLL):
                try:
                    ev = self._call("nvmlEventSetWait_v2", gpu.event_set, 0)
                except pynvml.NVMLError as e:
                    if _code(e) == pynvml.NVML_ERROR_TIMEOUT:
                        break  # nothing pending: the normal case
                    raise
                if ev is _ABSENT:
                    break
                if ev.eventType & pynvml.nvmlEventTypeXidCriticalError:
                    gpu.last_xid = int(ev.eventData)
        except pynvml.NVMLError as e:
            self._free_events(gpu)  # start afresh next poll
            failures.append(f"xid_last ({e})")
            return _ABSENT
        return gpu.last_xid

    # ---- power limit (duty switching) --------------------------------------

    def power_limit_constraints(self, device: Device) -> tuple[float, float]:
        """(min_w, max_w) the GPU accepts as a power limit."""
        self._require()
        try:
            gpu = self._gpu(device)
            c = self._call("nvmlDeviceGetPowerManagementLimitConstraints", gpu.handle)
        except GpuLostError:
            self._forget(device)
            raise
        except pynvml.NVMLError as e:
            raise NvmlError(f"{device.id}: cannot read power limit constraints: {e}") from None
        if c is _ABSENT:
            raise NvmlError(f"{device.id}: this GPU has no adjustable power limit")
        return c[0] / 1000.0, c[1] / 1000.0

    def set_power_limit(self, device: Device, watts: float) -> None:
        """Set the GPU's power limit (needs root; lost at reboot)."""
        lo, hi = self.power_limit_constraints(device)
        if not lo <= watts <= hi:
            raise ValueError(
                f"{device.id}: power limit {watts:g} W is outside the range {lo:g}-{hi:g} W"
            )
        gpu = self._gpu(device)
        try:
            r = self._call("nvmlDeviceSetPowerManagementLimit", gpu.handle, round(watts * 1000))
        except GpuLostError:
            self._forget(device)
            raise
        except pynvml.NVMLError as e:
            if _code(e) == pynvml.NVML_ERROR_NO_PERMISSION:
                raise NvmlPermissionError(NEEDS_ROOT) from None
            if _code(e) == pynvml.NVML_ERROR_INVALID_ARGUMENT:
                raise ValueError(
                    f"{device.id}: power limit {watts:g} W rejected (range {lo:g}-{hi:g} W)"
                ) from None
            raise NvmlError(f"{device.id}: setting the power limit failed: {e}") from None
        if r is _ABSENT:
            raise NvmlError(f"{device.id}: this GPU has no adjustable power limit")


class SimulatedNvml(Protocol):
    """What makes the backend for `nvml = "simulated"`: sim.nvml_sim.SimNvml,
    supplied by whoever wires the site (cli, ui), never imported here."""

    def __call__(self, *, count: int, seed: int) -> Any: ...


class _NoSimulator:
    """The backend of `nvml = "simulated"` where no simulator was handed in:
    its GPUs read unreachable with NO_SIMULATOR (a wiring gap, not a crash)."""

    def nvmlInit(self) -> None:
        raise NvmlUnavailableError(NO_SIMULATOR)


def make_nvml_backend(mode: str, gpu_count: int, seed: int,
                      simulated: SimulatedNvml | None = None) -> Any | None:
    """The backend for the site file's `[site] nvml` key: `simulated(count=, seed=)`
    for "simulated", None (the real pynvml) for "real" and "auto"."""
    if mode == "simulated":
        if simulated is None:
            return _NoSimulator()
        return simulated(count=gpu_count, seed=seed)
    if mode in ("real", "auto"):
        return None
    raise ValueError(f"nvml mode must be auto, real or simulated, not {mode!r}")
