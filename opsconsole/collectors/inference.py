"""Inference servers (vLLM, TGI, Triton) through their Prometheus metrics page.

Each server names things its own way, so each has an explicit map; `server =
"auto"` picks the map from the metric names on the page. `tokens_per_s` is the
rate of the generated-tokens counter between two scrapes at least a second
apart (a counter that goes down was restarted: the new value is the increase
since). `ttft_p95_s` is the 95th percentile of the time-to-first-token
histogram over the same window, interpolated within its bucket as Prometheus'
histogram_quantile does.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass, field

from opsconsole.collectors.http_scrape import DEFAULT_TIMEOUT_S, ScrapeError, Scraper, parse_samples
from opsconsole.core.readings import MetricValue, Reading, Status
from opsconsole.core.site import Device

Sample = tuple[str, dict[str, str], float]
Selector = tuple[str, dict[str, str]]  # sample name, labels it must carry


@dataclass(frozen=True, slots=True)
class ServerMap:
    name: str
    prefixes: tuple[str, ...]  # metric names that say "this is that server"
    running: Selector | None
    waiting: Selector | None
    tokens: Selector  # a counter (or a histogram's _sum) of generated tokens
    ttft: str | None = None  # histogram base name
    ttft_scale: float = 1.0  # to seconds


SERVERS: dict[str, ServerMap] = {
    # https://docs.vllm.ai/en/latest/design/metrics.html
    "vllm": ServerMap("vllm", ("vllm:",), ("vllm:num_requests_running", {}),
                      ("vllm:num_requests_waiting", {}), ("vllm:generation_tokens_total", {}),
                      "vllm:time_to_first_token_seconds"),
    # text-generation-inference: batch size, queue, generated tokens per request (histogram)
    "tgi": ServerMap("tgi", ("tgi_",), ("tgi_batch_current_size", {}), ("tgi_queue_size", {}),
                     ("tgi_request_generated_tokens_sum", {})),
    # Triton with the TensorRT-LLM backend; first-response histogram in ms (Triton >= 2.52)
    "triton": ServerMap("triton", ("nv_inference_", "nv_trt_llm_"),
                        ("nv_trt_llm_request_metrics", {"request_type": "active"}),
                        ("nv_inference_pending_request_count", {}),
                        ("nv_llm_output_token_len_sum", {}),
                        "nv_inference_first_response_histogram_ms", 0.001),
}
MIN_SPAN_S = 1.0  # a rate over less than this is mostly noise
KEEP_S = 300.0
FIRST_GAP_S = 1.0  # no earlier sample: take a second one this much later


def detect(samples: list[Sample]) -> ServerMap | None:
    names = {s[0] for s in samples}
    for smap in SERVERS.values():
        if any(n.startswith(smap.prefixes) for n in names):
            return smap
    return None


def _match(labels: dict[str, str], want: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in want.items())


def gauge_sum(samples: list[Sample], sel: Selector | None) -> float | None:
    if sel is None:
        return None
    vals = [v for n, lab, v in samples if n == sel[0] and _match(lab, sel[1])]
    return float(sum(vals)) if vals else None


def series_of(samples: list[Sample], sel: Selector) -> dict[tuple, float]:
    return {tuple(sorted(lab.items())): v for n, lab, v in samples
            if n == sel[0] and _match(lab, sel[1])}


def buckets_of(samples: list[Sample], base: str) -> dict[float, float]:
    """Cumulative bucket counts by upper bound, summed over label sets."""
    out: dict[float, float] = {}
    for n, lab, v in samples:
        if n == base + "_bucket" and "le" in lab:
            le = float(lab["le"])
            out[le] = out.get(le, 0.0) + v
    return out


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """histogram_quantile over cumulative buckets (None without observations)."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return lower  # the highest finite bound, as Prometheus does
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return None


@dataclass(slots=True)
class CounterRate:
    """Rate of a set of counters (summed), across counter resets."""

    last: dict[tuple, float] = field(default_factory=dict)  # raw value per series
    total: float = 0.0  # monotonic sum of increases since the first sample
    points: deque = field(default_factory=lambda: deque(maxlen=512))  # (t, total)

    def add(self, t: float, series: dict[tuple, float]) -> None:
        for key, v in series.items():
            prev = self.last.get(key)
            if prev is not None:
                self.total += v - prev if v >= prev else v  # lower: restarted from 0
            self.last[key] = v
        self.points.append((t, self.total))
        while self.points and self.points[0][0] < t - KEEP_S:
            self.points.popleft()

    def rate(self) -> float | None:
        if not self.points:
            return None
        t1, v1 = self.points[-1]
        base = next(((t0, v0) for t0, v0 in reversed(self.points) if t1 - t0 >= MIN_SPAN_S), None)
        if base is None:
            return None
        return (v1 - base[1]) / (t1 - base[0])

    def has_base(self, now: float) -> bool:
        return any(now - t >= MIN_SPAN_S for t, _ in self.points)


@dataclass(slots=True)
class _ServerState:
    tokens: CounterRate = field(default_factory=CounterRate)
    ttft_prev: dict[float, float] | None = None
    ttft_p95: float | None = None  # over the last window between two scrapes
    server: ServerMap | None = None


class InferenceCollector:
    def __init__(self, scraper: Scraper, *, first_gap_s: float = FIRST_GAP_S):
        self.scraper = scraper
        self.first_gap_s = first_gap_s
        self._state: dict[str, _ServerState] = {}

    async def _scrape(self, dev: Device) -> list[Sample]:
        timeout = dev.timeout_s if dev.timeout_s is not None else DEFAULT_TIMEOUT_S
        return parse_samples(await self.scraper.get_text(dev.url or "", timeout))

    async def collect(self, dev: Device) -> Reading:
        t0 = time.time()
        st = self._state.setdefault(dev.id, _ServerState())
        try:
            samples = await self._scrape(dev)
            smap = self._server(dev, samples)
            self._take(st, smap, samples, time.time())
            if not st.tokens.has_base(time.time()) and self.first_gap_s > 0:
                await asyncio.sleep(self.first_gap_s)  # a rate needs two samples
                samples = await self._scrape(dev)
                self._take(st, smap, samples, time.time())
        except ScrapeError as exc:
            return Reading(dev.id, time.time(), exc.status, {}, str(exc), time.time() - t0)
        now = time.time()
        m: dict[str, MetricValue] = {}
        for name, sel in (("requests_running", smap.running), ("requests_waiting", smap.waiting)):
            v = gauge_sum(samples, sel)
            if v is not None:
                m[name] = v
        rate = st.tokens.rate()
        if rate is not None:
            m["tokens_per_s"] = rate
        if st.ttft_p95 is not None:
            m["ttft_p95_s"] = st.ttft_p95
        if not series_of(samples, smap.tokens):
            return Reading(dev.id, now, Status.PARTIAL, m,
                           f"{smap.name}: no generated-tokens counter ({smap.tokens[0]})",
                           now - t0, labels={"server": smap.name})
        return Reading(dev.id, now, Status.OK, m, None, now - t0, labels={"server": smap.name})

    def _server(self, dev: Device, samples: list[Sample]) -> ServerMap:
        if dev.server and dev.server != "auto":
            return SERVERS[dev.server]
        smap = detect(samples)
        if smap is None:
            raise ScrapeError(Status.ERROR, "no vLLM, TGI or Triton metrics in the page")
        return smap

    def _take(self, st: _ServerState, smap: ServerMap, samples: list[Sample], t: float) -> None:
        if st.server is not smap:  # another server behind the URL: start over
            st.tokens, st.ttft_prev, st.ttft_p95, st.server = CounterRate(), None, None, smap
        st.tokens.add(t, series_of(samples, smap.tokens))
        if smap.ttft is None:
            return
        now_b = buckets_of(samples, smap.ttft)
        prev, st.ttft_prev = st.ttft_prev, now_b
        if prev is None or not now_b:
            return
        delta = {le: c - prev.get(le, 0.0) for le, c in now_b.items()}
        if any(v < 0 for v in delta.values()):
            delta = now_b  # the server restarted: its buckets are all new
        q = quantile(0.95, delta)
        st.ttft_p95 = None if q is None else q * smap.ttft_scale  # None: no request in the window
