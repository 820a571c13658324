"""Site-file keys of the scraped device kinds and the `[economics]` table.

`kind = "gpu-host"` (`exporter = URL`, optional `gpus = N`) is a GPU server
seen through its dcgm-exporter; `kind = "inference"` (`endpoint = URL`,
`server = "auto" | "vllm" | "tgi" | "triton"`) an inference server's metrics
page. siteload calls in here so these schemas live beside their owners.

A gpu-host expands, at load time, into itself plus one `gpu` device per slot
(`host/0`, `host/1`, ...): every layer (store, alarms, history, GUI) then sees
ordinary GPU devices with fixed rows, and the host's one scrape fills them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from opsconsole.core.profileload import (
    Problems,
    check_keys,
    join,
    want_choice,
    want_int,
    want_number,
    want_str,
    want_table,
)
from opsconsole.core.site import Device

SCRAPED_KINDS = ("gpu-host", "inference")
INFERENCE_SERVERS = ("auto", "vllm", "tgi", "triton")
DEFAULT_GPU_SLOTS = 8  # an HGX/DGX board; set `gpus` for other hosts
MAX_GPU_SLOTS = 64
SCRAPE_KEYS = ("exporter", "endpoint", "server", "gpus", "timeout_s")
ECONOMICS_KEYS = ("hashprice_usd_per_ph_day", "token_price_usd_per_mtok",
                  "power_price_usd_per_mwh")


def url_problem(url: str) -> str | None:
    """Why a scrape URL is unusable, or None. Never echoes the URL (it may hold a token)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "the URL has no host"
    return None


def scraped_fields(t: dict[str, Any], kind: str, path: str, probs: Problems) -> dict[str, Any]:
    """The Device fields of a gpu-host or inference entry (other keys are the caller's)."""
    key = "exporter" if kind == "gpu-host" else "endpoint"
    other = "endpoint" if kind == "gpu-host" else "exporter"
    if other in t:
        probs.add(join(path, other), f"not used by {kind} devices (they use {key})")
    out: dict[str, Any] = {}
    url = want_str(t, key, path, probs, required=True, max_len=4096)
    if url is not None:
        problem = url_problem(url)
        if problem:
            probs.add(join(path, key), problem)
        else:
            out["url"] = url
    if kind == "gpu-host":
        if "server" in t:
            probs.add(join(path, "server"), "only for inference devices")
        gpus = want_int(t, "gpus", path, probs, lo=1, hi=MAX_GPU_SLOTS)
        out["gpus"] = DEFAULT_GPU_SLOTS if gpus is None else gpus
    else:
        if "gpus" in t:
            probs.add(join(path, "gpus"), "only for gpu-host devices")
        server = want_choice(t, "server", INFERENCE_SERVERS, path, probs, what="server")
        out["server"] = server or "auto"
    out["timeout_s"] = want_number(t, "timeout_s", path, probs, lo=0, hi=60, lo_open=True)
    return out


def forbid_scrape_keys(t: dict[str, Any], kind: str, path: str, probs: Problems) -> None:
    """Scrape keys on a device of another kind are a mistake worth naming."""
    for key in SCRAPE_KEYS[:4]:
        if key in t:
            probs.add(join(path, key), f"only for gpu-host or inference devices, not {kind}")


def gpu_slots(host: Device) -> list[Device]:
    """The GPU devices a gpu-host stands for: `host/0` .. `host/<gpus-1>`."""
    if host.kind != "gpu-host":
        return []
    return [
        replace(host, id=f"{host.id}/{k}", kind="gpu", parent=host.id, slot=k, gpus=None,
                pdu=None, outlet=None, position=host.position)
        for k in range(host.gpus or DEFAULT_GPU_SLOTS)
    ]


def with_gpu_slots(devices: list[Device]) -> list[Device]:
    """Each device, a gpu-host followed by its GPU slots."""
    return [x for d in devices for x in (d, *gpu_slots(d))]


def parse_economics(data: dict[str, Any], probs: Problems) -> dict[str, float]:
    """`[economics]`: prices typed by the operator (nothing is fetched)."""
    t = want_table(data, "economics", "", probs)
    if t is None:
        return {}
    check_keys(t, ECONOMICS_KEYS, "economics", probs)
    out: dict[str, float] = {}
    for key in ECONOMICS_KEYS:
        v = want_number(t, key, "economics", probs, lo=0, hi=1e9)
        if v is not None:
            out[key] = float(v)
    return out
