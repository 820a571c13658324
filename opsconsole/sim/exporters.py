"""Simulated exporters: a dcgm-exporter page rendered from simulated GPUs
(opsconsole.sim.nvml_sim), and a vLLM metrics page whose generated-tokens
counter rises at a rate set from outside (the demo: the GPU rack's duty).

Pages follow the real formats (HELP/TYPE lines, dcgm-exporter's labels, vLLM's
metric names) so the collectors parse them exactly as the real thing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import pynvml

from opsconsole.sim.nvml_sim import SimNvml

DRIVER = "550.90.07"
_DCGM = [  # field, type, help, how to read it from SimNvml
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz).",
     lambda n, h: n.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz).",
     lambda n, h: n.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM)),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C).",
     lambda n, h: n.nvmlDeviceGetTemperature(h, 0) + 6),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).",
     lambda n, h: n.nvmlDeviceGetTemperature(h, 0)),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).",
     lambda n, h: f"{n.nvmlDeviceGetPowerUsage(h) / 1000:.6f}"),
    ("DCGM_FI_DEV_POWER_MGMT_LIMIT", "gauge", "Power management limit (in W).",
     lambda n, h: f"{n.nvmlDeviceGetPowerManagementLimit(h) / 1000:.6f}"),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).",
     lambda n, h: n.nvmlDeviceGetUtilizationRates(h).gpu),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %).",
     lambda n, h: n.nvmlDeviceGetUtilizationRates(h).memory),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered.",
     lambda n, h: 0),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB).",
     lambda n, h: n.nvmlDeviceGetMemoryInfo(h).free >> 20),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).",
     lambda n, h: n.nvmlDeviceGetMemoryInfo(h).used >> 20),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter",
     "Number of remapped rows for uncorrectable errors", lambda n, h: 0),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter",
     "Number of remapped rows for correctable errors", lambda n, h: 0),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed",
     lambda n, h: 0),
]


def dcgm_page(nvml: SimNvml, hostname: str) -> str:
    """dcgm-exporter's /metrics for every (not lost) GPU of `nvml`."""
    nvml.nvmlInit()  # reference-counted, as pynvml's
    try:
        return _dcgm_page(nvml, hostname)
    finally:
        nvml.nvmlShutdown()


def _dcgm_page(nvml: SimNvml, hostname: str) -> str:
    handles = []
    for g in nvml.gpus:
        if g.lost:
            continue
        h = nvml.nvmlDeviceGetHandleByIndex(g.index)
        handles.append((g, h, nvml.nvmlDeviceGetName(h)))
    out: list[str] = []
    for field, typ, help_text, read in _DCGM:
        out += [f"# HELP {field} {help_text}", f"# TYPE {field} {typ}"]
        for g, h, name in handles:
            bus = f"00000000:{0x18 + g.index:02X}:00.0"
            labels = (f'gpu="{g.index}",UUID="{g.uuid}",pci_bus_id="{bus}",'
                      f'device="nvidia{g.index}",modelName="{name}",Hostname="{hostname}",'
                      f'DCGM_FI_DRIVER_VERSION="{DRIVER}"')
            out.append(f"{field}{{{labels}}} {read(nvml, h)}")
    return "\n".join(out) + "\n"


class VllmSim:
    """A vLLM /metrics page. `rate_fn()` gives the tokens/s being generated now;
    the counter integrates it, requests and TTFT follow it."""

    TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                    2.5, 5.0, 7.5, 10.0)

    def __init__(self, rate_fn: Callable[[], float], model: str = "meta-llama/Llama-3.1-8B",
                 clock: Callable[[], float] = time.monotonic, start_tokens: float = 0.0):
        self.rate_fn = rate_fn
        self.model = model
        self.clock = clock
        self._lock = threading.Lock()
        self._t = clock()
        self.tokens = start_tokens  # the counter
        self.requests = 0.0  # finished requests (for the TTFT histogram)
        self._ttft_counts = [0.0] * (len(self.TTFT_BUCKETS) + 1)
        self._ttft_sum = 0.0

    def _advance(self) -> float:
        now = self.clock()
        rate = max(0.0, self.rate_fn())
        dt = max(0.0, now - self._t)
        self._t = now
        self.tokens += rate * dt
        new_req = rate * dt / 250.0  # ~250 generated tokens a request
        if new_req > 0:
            self.requests += new_req
            ttft = 0.08 + 0.00002 * rate  # busier, slower first token
            for i, le in enumerate(self.TTFT_BUCKETS):
                if ttft <= le:
                    self._ttft_counts[i] += new_req
                    break
            else:
                self._ttft_counts[-1] += new_req
            self._ttft_sum += ttft * new_req
        return rate

    def page(self) -> str:
        with self._lock:
            rate = self._advance()
            lab = f'model_name="{self.model}"'
            running = min(256, math.floor(rate / 80.0))  # vLLM's default max_num_seqs
            waiting = max(0, math.floor(rate / 70.0) - 256)
            out = [
                "# HELP vllm:num_requests_running Number of requests in model execution batches.",
                "# TYPE vllm:num_requests_running gauge",
                f"vllm:num_requests_running{{{lab}}} {float(running)}",
                "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
                "# TYPE vllm:num_requests_waiting gauge",
                f"vllm:num_requests_waiting{{{lab}}} {float(waiting)}",
                "# HELP vllm:generation_tokens_total Number of generation tokens processed.",
                "# TYPE vllm:generation_tokens_total counter",
                f"vllm:generation_tokens_total{{{lab}}} {math.floor(self.tokens)}.0",
                "# HELP vllm:time_to_first_token_seconds Histogram of time to first token.",
                "# TYPE vllm:time_to_first_token_seconds histogram",
            ]
            cum = 0.0
            for le, c in zip((*self.TTFT_BUCKETS, math.inf), self._ttft_counts, strict=True):
                cum += c
                le_s = "+Inf" if math.isinf(le) else repr(le)
                out.append(f'vllm:time_to_first_token_seconds_bucket{{{lab},le="{le_s}"}} '
                           f"{math.floor(cum)}.0")
            out += [f"vllm:time_to_first_token_seconds_count{{{lab}}} "
                    f"{math.floor(cum)}.0",
                    f"vllm:time_to_first_token_seconds_sum{{{lab}}} {self._ttft_sum:.6f}"]
            return "\n".join(out) + "\n"
