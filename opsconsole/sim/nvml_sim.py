"""Simulated NVIDIA GPUs at the pynvml boundary.

`SimNvml(count=8, seed=1, clock=..., root=False)` is a module-like object: its
attributes have the names and call shapes of the pynvml functions the NVML
collector uses, and it raises pynvml's own NVMLError classes, so the
collector's error handling runs exactly as against the real library.

Each GPU is a small deterministic model (an H100 PCIe-like card):
load (0..1, set it or let it drift) -> utilisation -> power (idle to demand,
capped at the power limit) -> temperature (first-order lag) -> fan; clocks
drop and throttle reasons appear at the power cap. The model advances from
`clock` (default time.monotonic), so tests drive time with a fake clock.

Fault injection: `lose(i)` / `restore(i)`, `inject_error(i, fn_name_or_field_id,
code)` (NotSupported by default), `inject_xid(i, xid)`, `add_ecc_errors(i, n)`.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pynvml

MIB = 1 << 20

# H100 PCIe-ish card.
NAME = "NVIDIA H100 PCIe"
MEM_TOTAL_MIB = 81559
POWER_DEFAULT_MW = 350_000
POWER_MIN_MW = 200_000
POWER_MAX_MW = 400_000
DEMAND_FULL_W = 460.0  # what a fully loaded card would draw uncapped: above max, so it caps
SM_MAX_MHZ = 1755
SM_IDLE_MHZ = 345
MEM_CLOCK_MHZ = 1593
AMBIENT_C = 28.0
C_PER_W = 0.13  # steady-state rise: 350 W -> ~74 °C
THERMAL_TAU_S = 30.0


@dataclass(eq=False)
class SimHandle:
    """What nvmlDeviceGetHandleBy* returns. A handle from before a restore()
    stays dead, as a real handle does after the GPU comes back."""

    index: int
    generation: int

    def __repr__(self) -> str:
        return f"<SimHandle gpu{self.index} gen{self.generation}>"


@dataclass(eq=False)
class SimEventSet:
    queue: deque[SimEventData] = field(default_factory=deque)
    freed: bool = False


@dataclass
class SimEventData:
    """Shaped like pynvml's c_nvmlEventData_t."""

    device: SimHandle
    eventType: int
    eventData: int
    gpuInstanceId: int = 0xFFFFFFFF
    computeInstanceId: int = 0xFFFFFFFF


@dataclass
class SimGpu:
    """The state of one simulated GPU (tests may read or poke it)."""

    index: int
    uuid: str
    idle_w: float
    period_s: float  # of the default slow load drift
    phase: float
    load: float | None = None  # None: drift slowly
    power_limit_mw: int = POWER_DEFAULT_MW
    temp_c: float = AMBIENT_C
    t: float = 0.0  # clock value of the last model update
    lost: bool = False
    generation: int = 0
    ecc_uncorrected: int = 0  # volatile (since "driver load")
    ecc_uncorrected_aggregate: int = 0
    errors: dict[str | int, int] = field(default_factory=dict)  # fn name / field id -> code
    listeners: list[tuple[SimEventSet, int]] = field(default_factory=list)


class SimNvml:
    """A module-like stand-in for pynvml over `count` simulated GPUs."""

    def __init__(
        self,
        count: int = 8,
        seed: int = 1,
        clock: Callable[[], float] = time.monotonic,
        root: bool = False,
        init_error: int | None = None,
    ) -> None:
        self.root = root  # nvmlDeviceSetPowerManagementLimit needs it
        self.init_error = init_error  # an NVML_ERROR_* code nvmlInit raises
        self._clock = clock
        self._lock = threading.RLock()
        self._refcount = 0
        rng = random.Random(seed)
        now = clock()
        self.gpus: list[SimGpu] = []
        for i in range(count):
            g = SimGpu(
                index=i,
                uuid="GPU-" + str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                idle_w=60.0 + 20.0 * rng.random(),
                period_s=600.0 + 1200.0 * rng.random(),
                phase=2 * math.pi * rng.random(),
                t=now,
            )
            g.temp_c = self._target_temp(g, now)  # start in equilibrium
            self.gpus.append(g)
        self._handles = [SimHandle(i, 0) for i in range(count)]

    # ---- test controls -------------------------------------------------

    def set_load(self, index: int, load: float | None) -> None:
        """Pin a GPU's load (0..1), or None to let it drift again."""
        with self._lock:
            g = self.gpus[index]
            self._advance(g)
            g.load = None if load is None else min(1.0, max(0.0, load))

    def lose(self, index: int) -> None:
        """The GPU falls off the bus: every call on it raises GpuIsLost."""
        with self._lock:
            self.gpus[index].lost = True

    def restore(self, index: int) -> None:
        """The GPU is back (after a reset): old handles stay dead."""
        with self._lock:
            g = self.gpus[index]
            g.lost = False
            g.generation += 1
            g.listeners.clear()
            self._handles[index] = SimHandle(index, g.generation)

    def inject_error(
        self, index: int, what: str | int, code: int = pynvml.NVML_ERROR_NOT_SUPPORTED
    ) -> None:
        """Make a pynvml function (by name) or a field id (in
        nvmlDeviceGetFieldValues) fail with `code` on this GPU."""
        with self._lock:
            self.gpus[index].errors[what] = code

    def clear_error(self, index: int, what: str | int) -> None:
        with self._lock:
            self.gpus[index].errors.pop(what, None)

    def inject_xid(self, index: int, xid: int) -> None:
        with self._lock:
            g = self.gpus[index]
            for es, mask in g.listeners:
                if mask & pynvml.nvmlEventTypeXidCriticalError and not es.freed:
                    es.queue.append(
                        SimEventData(
                            self._handles[index], pynvml.nvmlEventTypeXidCriticalError, xid
                        )
                    )

    def add_ecc_errors(self, index: int, n: int = 1) -> None:
        with self._lock:
            self.gpus[index].ecc_uncorrected += n
            self.gpus[index].ecc_uncorrected_aggregate += n

    # ---- the model -----------------------------------------------------

    def _load(self, g: SimGpu, t: float) -> float:
        if g.load is not None:
            return g.load
        w = 2 * math.pi * t / g.period_s + g.phase
        return min(1.0, max(0.0, 0.5 + 0.35 * math.sin(w) + 0.1 * math.sin(7.3 * w)))

    def _demand_w(self, g: SimGpu, t: float) -> float:
        return g.idle_w + self._load(g, t) * (DEMAND_FULL_W - g.idle_w)

    def _power_w(self, g: SimGpu, t: float) -> float:
        return min(self._demand_w(g, t), g.power_limit_mw / 1000.0)

    def _target_temp(self, g: SimGpu, t: float) -> float:
        return AMBIENT_C + C_PER_W * self._power_w(g, t)

    def _advance(self, g: SimGpu) -> float:
        # First-order thermal lag towards the temperature the current power sustains.
        now = self._clock()
        dt = max(0.0, now - g.t)
        if dt:
            target = self._target_temp(g, now)
            g.temp_c += (target - g.temp_c) * (1.0 - math.exp(-dt / THERMAL_TAU_S))
            g.t = now
        return now

    def _throttle_mask(self, g: SimGpu, t: float) -> int:
        mask = 0
        if self._load(g, t) < 0.05:
            mask |= pynvml.nvmlClocksEventReasonGpuIdle
        if self._demand_w(g, t) > g.power_limit_mw / 1000.0:
            mask |= pynvml.nvmlClocksEventReasonSwPowerCap
        if g.temp_c >= 85.0:
            mask |= pynvml.nvmlClocksEventReasonSwThermalSlowdown
        if g.temp_c >= 90.0:
            mask |= pynvml.nvmlClocksEventReasonHwSlowdown
        return mask

    def _sm_clock(self, g: SimGpu, t: float) -> int:
        if self._load(g, t) < 0.05:
            return SM_IDLE_MHZ
        demand, cap = self._demand_w(g, t), g.power_limit_mw / 1000.0
        if demand <= cap:
            return SM_MAX_MHZ
        # At the cap the driver lowers clocks until power fits.
        return max(SM_IDLE_MHZ, round(SM_MAX_MHZ * (cap - g.idle_w) / (demand - g.idle_w)))

    # ---- the pynvml surface: plumbing -----------------------------------

    @staticmethod
    def _raise(code: int) -> None:
        raise pynvml.NVMLError(code)  # maps to the NVMLError_* subclass

    def _check_init(self) -> None:
        if self._refcount <= 0:
            self._raise(pynvml.NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: Any, fn: str) -> tuple[SimGpu, float]:
        """Validate a call on `handle`; advance the model; return (gpu, now)."""
        self._check_init()
        if not isinstance(handle, SimHandle) or not 0 <= handle.index < len(self.gpus):
            self._raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        g = self.gpus[handle.index]
        if g.lost or handle.generation != g.generation:
            self._raise(pynvml.NVML_ERROR_GPU_IS_LOST)
        if fn in g.errors:
            self._raise(g.errors[fn])
        return g, self._advance(g)

    # ---- the pynvml surface ---------------------------------------------

    def nvmlInit(self) -> None:
        with self._lock:
            if self.init_error is not None:
                self._raise(self.init_error)
            self._refcount += 1

    def nvmlShutdown(self) -> None:
        with self._lock:
            self._check_init()
            self._refcount -= 1

    def nvmlDeviceGetCount(self) -> int:
        with self._lock:
            self._check_init()
            return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> SimHandle:
        with self._lock:
            self._check_init()
            if not 0 <= index < len(self.gpus):
                self._raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            if self.gpus[index].lost:
                self._raise(pynvml.NVML_ERROR_GPU_IS_LOST)
            return self._handles[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str | bytes) -> SimHandle:
        with self._lock:
            self._check_init()
            if isinstance(uuid, bytes):
                uuid = uuid.decode()
            for g in self.gpus:
                if g.uuid == uuid:
                    if g.lost:
                        self._raise(pynvml.NVML_ERROR_GPU_IS_LOST)
                    return self._handles[g.index]
            self._raise(pynvml.NVML_ERROR_NOT_FOUND)
            raise AssertionError  # unreachable; keeps type checkers calm

    def nvmlDeviceGetUUID(self, handle: SimHandle) -> str:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceGetUUID")
            return g.uuid

    def nvmlDeviceGetName(self, handle: SimHandle) -> str:
        with self._lock:
            self._gpu(handle, "nvmlDeviceGetName")
            return NAME

    def nvmlDeviceGetUtilizationRates(self, handle: SimHandle) -> pynvml.c_nvmlUtilization_t:
        with self._lock:
            g, t = self._gpu(handle, "nvmlDeviceGetUtilizationRates")
            load = self._load(g, t)
            u = pynvml.c_nvmlUtilization_t()
            u.gpu, u.memory = round(100 * load), round(60 * load)
            return u

    def nvmlDeviceGetMemoryInfo(self, handle: SimHandle, version: int | None = None) -> Any:
        with self._lock:
            g, t = self._gpu(handle, "nvmlDeviceGetMemoryInfo")
            m = pynvml.c_nvmlMemory_t()
            m.total = MEM_TOTAL_MIB * MIB
            # An inference server holds weights plus a KV cache that grows with traffic.
            m.used = int((512 + self._load(g, t) * 0.9 * MEM_TOTAL_MIB) * MIB)
            m.free = m.total - m.used
            return m

    def nvmlDeviceGetTemperature(self, handle: SimHandle, sensor: int) -> int:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceGetTemperature")
            if sensor != pynvml.NVML_TEMPERATURE_GPU:
                self._raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return round(g.temp_c)

    def nvmlDeviceGetTemperatureV(
        self, handle: SimHandle, sensor: int, version: int = pynvml.nvmlTemperature_v1
    ) -> int:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceGetTemperatureV")
            if sensor != pynvml.NVML_TEMPERATURE_GPU:
                self._raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return round(g.temp_c)

    def nvmlDeviceGetFieldValues(self, handle: SimHandle, field_ids: list[int]) -> Any:
        with self._lock:
            g, t = self._gpu(handle, "nvmlDeviceGetFieldValues")
            values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
            for v, fid in zip(values, field_ids, strict=True):
                v.fieldId = fid
                v.timestamp = int(t * 1e6)
                if fid in g.errors:
                    v.nvmlReturn = g.errors[fid]
                elif fid == pynvml.NVML_FI_DEV_MEMORY_TEMP:
                    v.nvmlReturn = pynvml.NVML_SUCCESS
                    v.valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
                    v.value.uiVal = round(g.temp_c + 4.0 + 6.0 * self._load(g, t))
                else:
                    v.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
            return values

    def nvmlDeviceGetPowerUsage(self, handle: SimHandle) -> int:
        with self._lock:
            g, t = self._gpu(handle, "nvmlDeviceGetPowerUsage")
            return round(self._power_w(g, t) * 1000)

    def nvmlDeviceGetPowerManagementLimit(self, handle: SimHandle) -> int:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceGetPowerManagementLimit")
            return g.power_limit_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: SimHandle) -> int:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceGetEnforcedPowerLimit")
            return g.power_limit_mw

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: SimHandle) -> list[int]:
        with self._lock:
            self._gpu(handle, "nvmlDeviceGetPowerManagementLimitConstraints")
            return [POWER_MIN_MW, POWER_MAX_MW]

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: SimHandle) -> int:
        with self._lock:
            self._gpu(handle, "nvmlDeviceGetPowerManagementDefaultLimit")
            return POWER_DEFAULT_MW

    def nvmlDeviceSetPowerManagementLimit(self, handle: SimHandle, limit_mw: int) -> None:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceSetPowerManagementLimit")
            if not self.root:
                self._raise(pynvml.NVML_ERROR_NO_PERMISSION)
            if not POWER_MIN_MW <= limit_mw <= POWER_MAX_MW:
                self._raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            g.power_limit_mw = int(limit_mw)

    def nvmlDeviceGetClockInfo(self, handle: SimHandle, clock_type: int) -> int:
        with self._lock:
            g, t = self._gpu(handle, "nvmlDeviceGetClockInfo")
            if clock_type == pynvml.NVML_CLOCK_SM:
                return self._sm_clock(g, t)
            if clock_type == pynvml.NVML_CLOCK_MEM:
                return MEM_CLOCK_MHZ
            if clock_type == pynvml.NVML_CLOCK_GRAPHICS:
                return self._sm_clock(g, t)
            self._raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            raise AssertionError

    def nvmlDeviceGetFanSpeed(self, handle: SimHandle) -> int:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceGetFanSpeed")
            return min(100, round(30 + max(0.0, g.temp_c - 35.0) * 1.5))

    def nvmlDeviceGetTotalEccErrors(
        self, handle: SimHandle, error_type: int, counter_type: int
    ) -> int:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceGetTotalEccErrors")
            if error_type == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED:
                return 0
            if counter_type == pynvml.NVML_AGGREGATE_ECC:
                return g.ecc_uncorrected_aggregate
            return g.ecc_uncorrected

    def nvmlDeviceGetRemappedRows(self, handle: SimHandle) -> tuple[int, int, int, int]:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceGetRemappedRows")
            # a remapped row per 8 uncorrectable ECC errors since manufacture
            unc = g.ecc_uncorrected_aggregate // 8
            return (0, unc, 0, 0)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: SimHandle) -> int:
        with self._lock:
            g, t = self._gpu(handle, "nvmlDeviceGetCurrentClocksEventReasons")
            return self._throttle_mask(g, t)

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: SimHandle) -> int:
        with self._lock:
            g, t = self._gpu(handle, "nvmlDeviceGetCurrentClocksThrottleReasons")
            return self._throttle_mask(g, t)

    # ---- events (XID) ----------------------------------------------------

    def nvmlEventSetCreate(self) -> SimEventSet:
        with self._lock:
            self._check_init()
            return SimEventSet()

    def nvmlDeviceRegisterEvents(
        self, handle: SimHandle, event_types: int, event_set: SimEventSet
    ) -> None:
        with self._lock:
            g, _ = self._gpu(handle, "nvmlDeviceRegisterEvents")
            g.listeners.append((event_set, int(event_types)))

    def nvmlEventSetWait_v2(self, event_set: SimEventSet, timeoutms: int) -> SimEventData:
        # Never blocks: an empty set answers Timeout at once, whatever timeoutms says.
        with self._lock:
            self._check_init()
            if event_set.freed:
                self._raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            if not event_set.queue:
                self._raise(pynvml.NVML_ERROR_TIMEOUT)
            return event_set.queue.popleft()

    nvmlEventSetWait = nvmlEventSetWait_v2

    def nvmlEventSetFree(self, event_set: SimEventSet) -> None:
        with self._lock:
            self._check_init()
            event_set.freed = True
            for g in self.gpus:
                g.listeners = [(es, m) for es, m in g.listeners if es is not event_set]


# Module-like: the constants and error classes travel with the object, so code
# written against `pynvml.X` also works against `backend.X`.
for _name in dir(pynvml):
    if _name.startswith(("NVML_", "NVMLError", "nvmlClocks", "nvmlEventType", "c_nvml")):
        setattr(SimNvml, _name, getattr(pynvml, _name))
SimNvml.nvmlTemperature_v1 = pynvml.nvmlTemperature_v1  # type: ignore[attr-defined]
del _name
