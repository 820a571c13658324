"""GPU servers through NVIDIA's dcgm-exporter: one scrape of a host's
/metrics page gives one reading per GPU, named `host/<slot>`.

A GPU keeps its slot by UUID: after an exporter or host restart that renumbers
the cards, each UUID still lands in the row (and history) it had. A UUID seen
before and now absent is a lost GPU (fallen off the bus): its row says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from opsconsole.collectors.http_scrape import (
    DEFAULT_TIMEOUT_S,
    ScrapeError,
    Scraper,
    parse_samples,
    parse_samples_shared_labels,
)
from opsconsole.core.readings import MetricValue, Reading, Status
from opsconsole.core.site import Device

# dcgm field -> catalogue metric
FIELDS: dict[str, str] = {
    "DCGM_FI_DEV_GPU_UTIL": "util_pct",
    "DCGM_FI_DEV_MEM_COPY_UTIL": "mem_util_pct",
    "DCGM_FI_DEV_FB_USED": "mem_used_mib",
    "DCGM_FI_DEV_FB_TOTAL": "mem_total_mib",
    "DCGM_FI_DEV_GPU_TEMP": "temp_c",
    "DCGM_FI_DEV_MEMORY_TEMP": "mem_temp_c",
    "DCGM_FI_DEV_POWER_USAGE": "power_w",
    "DCGM_FI_DEV_POWER_MGMT_LIMIT": "power_limit_w",
    "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": "power_limit_w",
    "DCGM_FI_DEV_SM_CLOCK": "sm_clock_mhz",
    "DCGM_FI_DEV_MEM_CLOCK": "mem_clock_mhz",
    "DCGM_FI_DEV_FAN_SPEED": "fan_pct",
    "DCGM_FI_DEV_XID_ERRORS": "xid_last",
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": "ecc_uncorrected",
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": "remapped_rows_uncorrectable",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": "remapped_rows_correctable",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": "row_remap_failure",
}
_FB_PARTS = ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED")
# DCGM's "blank" values (no data: int32 2147483632.., int64 9223372036854775792..,
# fp64 140737488355328): no real GPU gauge gets near them.
BLANK_FROM = 2_147_483_632.0
# Without these a GPU reading is `partial`: dcgm-exporter's default counters have them.
CORE = ("util_pct", "temp_c", "power_w")
LABELS = {"modelName": "model", "UUID": "uuid", "Hostname": "hostname", "hostname": "hostname",
          "gpu": "index", "pci_bus_id": "pci_bus_id"}


@dataclass(slots=True)
class GpuRow:
    uuid: str
    index: int | None
    labels: dict[str, str] = field(default_factory=dict)
    raw: dict[str, float] = field(default_factory=dict)  # dcgm field -> value (first row wins)

    def metrics(self) -> dict[str, MetricValue]:
        out: dict[str, MetricValue] = {}
        for name, metric in FIELDS.items():
            v = self.raw.get(name)
            if v is None or v != v or abs(v) >= BLANK_FROM:
                continue
            if metric == "mem_temp_c" and v == 0:
                continue  # GDDR cards have no memory sensor and report 0
            out.setdefault(metric, int(v) if metric == "xid_last" else v)
        if "mem_total_mib" not in out and all(self.raw.get(k) is not None for k in _FB_PARTS[:2]):
            out["mem_total_mib"] = sum(self.raw.get(k, 0.0) for k in _FB_PARTS)
        return out


# Lines of the fields we read: the parser (pure Python, ~50 us a line here) only
# sees those. A real page carries as many fields again (profiling, NVLink, ...).
_WANTED = tuple(dict.fromkeys((*FIELDS, *_FB_PARTS)))


def parse_dcgm(text: str) -> dict[str, GpuRow]:
    """GPUs by UUID from a dcgm-exporter page. MIG instances repeat their
    GPU's device fields; the GPU's own row (no GPU_I_ID) wins, else the first.
    A page with none of our fields goes whole through the parser, so garbage
    is named as such (ScrapeError) rather than as "no GPU"."""
    lines = [ln for ln in text.splitlines() if ln.startswith(_WANTED)]
    samples = parse_samples_shared_labels(lines) if lines else []
    if not samples:
        samples = parse_samples(text)  # raises on garbage
    rows: dict[str, GpuRow] = {}
    mig_first: dict[tuple[str, str], bool] = {}
    for name, labels, value in samples:
        if not name.startswith("DCGM_FI_"):
            continue
        if name.endswith("_total") and name[:-6] in FIELDS:
            name = name[:-6]  # the parser names counter samples <family>_total
        uuid = labels.get("UUID")
        if not uuid:
            continue
        row = rows.get(uuid)
        if row is None:
            idx = labels.get("gpu", "")
            row = rows[uuid] = GpuRow(uuid, int(idx) if idx.isdigit() else None)
            row.labels = {v: labels[k] for k, v in LABELS.items() if labels.get(k)}
        mig = "GPU_I_ID" in labels
        key = (uuid, name)
        if name not in row.raw or (mig_first.get(key) and not mig):
            row.raw[name] = value
            mig_first[key] = mig
    return rows


@dataclass(slots=True)
class _HostState:
    slot_of: dict[str, int] = field(default_factory=dict)  # UUID -> slot, kept across restarts
    model_of: dict[str, str] = field(default_factory=dict)


class DcgmCollector:
    """Scrapes gpu-hosts; remembers each host's UUID -> slot map."""

    def __init__(self, scraper: Scraper):
        self.scraper = scraper
        self._hosts: dict[str, _HostState] = {}

    async def collect(self, host: Device) -> Reading:
        t0 = time.time()
        timeout = host.timeout_s if host.timeout_s is not None else DEFAULT_TIMEOUT_S
        try:
            text = await self.scraper.get_text(host.url or "", timeout)
            rows = parse_dcgm(text)
            if not rows:
                raise ScrapeError(Status.ERROR, "no GPU in the page (is this a dcgm-exporter?)")
        except ScrapeError as exc:
            return self._failed(host, exc.status, str(exc), t0)
        return self._readings(host, rows, t0)

    def _failed(self, host: Device, status: Status, why: str, t0: float) -> Reading:
        now = time.time()
        parts = [Reading(f"{host.id}/{k}", now, status, {}, f"host {host.id}: {why}", now - t0)
                 for k in range(host.gpus or 0)]
        return Reading(host.id, now, status, {}, why, now - t0, parts=parts)

    def _assign(self, st: _HostState, rows: dict[str, GpuRow], slots: int) -> list[str]:
        """Give new UUIDs a slot: their exporter index when free, else the lowest free one."""
        taken = set(st.slot_of.values())
        over: list[str] = []
        for row in sorted(rows.values(), key=lambda r: (r.index is None, r.index or 0, r.uuid)):
            if row.uuid in st.slot_of:
                continue
            want = row.index if row.index is not None and row.index < slots else None
            if want is None or want in taken:
                want = next((k for k in range(slots) if k not in taken), None)
            if want is None:
                over.append(row.uuid)
                continue
            st.slot_of[row.uuid] = want
            taken.add(want)
        return over

    def _readings(self, host: Device, rows: dict[str, GpuRow], t0: float) -> Reading:
        st = self._hosts.setdefault(host.id, _HostState())
        slots = host.gpus or 0
        over = self._assign(st, rows, slots)
        now = time.time()
        by_slot = {slot: uuid for uuid, slot in st.slot_of.items()}
        parts: list[Reading] = []
        for k in range(slots):
            did = f"{host.id}/{k}"
            uuid = by_slot.get(k)
            row = rows.get(uuid or "")
            if row is None:
                why = (f"GPU {uuid} ({st.model_of.get(uuid, 'unknown model')}) is missing "
                       "from the exporter" if uuid else
                       f"no GPU for this slot: the exporter reports {len(rows)} "
                       f"(set gpus = {len(rows)} on {host.id})")
                parts.append(Reading(did, now, Status.ERROR, {}, why, now - t0))
                continue
            st.model_of[row.uuid] = row.labels.get("model", "unknown model")
            m = row.metrics()
            missing = [c for c in CORE if c not in m]
            status = Status.PARTIAL if missing else Status.OK
            parts.append(Reading(did, now, status, m,
                                 f"not reported: {', '.join(missing)}" if missing else None,
                                 now - t0, labels=dict(row.labels)))
        problems = []
        lost = sum(1 for p in parts if p.status is Status.ERROR)
        if lost:
            problems.append(f"{lost} of {slots} GPU slots without a GPU")
        if over:
            problems.append(f"{len(over)} GPUs beyond gpus = {slots} not shown")
        labels = {"hostname": next((r.labels["hostname"] for r in rows.values()
                                    if "hostname" in r.labels), "")}
        status = Status.PARTIAL if problems else Status.OK
        return Reading(host.id, now, status, {"gpus": len(rows)},
                       "; ".join(problems) or None, now - t0,
                       labels={k: v for k, v in labels.items() if v}, parts=parts)
