"""Real local exporters for the gpu-host / inference tests: texts served by a
real HTTP server on 127.0.0.1 (opsconsole.sim.metrics_http), never mocks."""

from __future__ import annotations

from pathlib import Path

DCGM_DATA = Path(__file__).parent / "data" / "dcgm"
REAL_T4 = (DCGM_DATA / "datadog-t4.prom").read_text()
T4_UUID = "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e"


def dcgm_text(gpus: list[tuple[int, str]], *, model: str = "NVIDIA H100 80GB HBM3",
              host: str = "node-7", util: float = 50.0, drop: tuple[str, ...] = ()) -> str:
    """A dcgm-exporter page for (gpu index, UUID) pairs; per-GPU values derive
    from the index so a test can check each GPU's row: util + i, temp 40 + i,
    power 300 + 10 i, memory temperature 0 on odd GPUs (GDDR-like)."""
    fields = [
        ("DCGM_FI_DEV_GPU_UTIL", "gauge", lambda i: util + i),
        ("DCGM_FI_DEV_GPU_TEMP", "gauge", lambda i: 40 + i),
        ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", lambda i: 0 if i % 2 else 50 + i),
        ("DCGM_FI_DEV_POWER_USAGE", "gauge", lambda i: 300.0 + 10 * i),
        ("DCGM_FI_DEV_POWER_MGMT_LIMIT", "gauge", lambda i: 700.0),
        ("DCGM_FI_DEV_SM_CLOCK", "gauge", lambda i: 1980),
        ("DCGM_FI_DEV_MEM_CLOCK", "gauge", lambda i: 2619),
        ("DCGM_FI_DEV_FB_USED", "gauge", lambda i: 1000 * (i + 1)),
        ("DCGM_FI_DEV_FB_FREE", "gauge", lambda i: 81559 - 1000 * (i + 1)),
        ("DCGM_FI_DEV_XID_ERRORS", "gauge", lambda i: 79 if i == 3 else 0),
        ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", lambda i: i),
        ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", lambda i: 2 * i),
    ]
    out: list[str] = []
    for name, typ, value in fields:
        if name in drop:
            continue
        out += [f"# HELP {name} test", f"# TYPE {name} {typ}"]
        for idx, uuid in gpus:
            out.append(f'{name}{{gpu="{idx}",UUID="{uuid}",device="nvidia{idx}",'
                       f'modelName="{model}",Hostname="{host}"}} {value(idx)}')
    return "\n".join(out) + "\n"


def uuids(n: int, prefix: str = "GPU-0000") -> list[str]:
    return [f"{prefix}-{k:04d}-aaaa-bbbb-cccccccccccc" for k in range(n)]


def site_file(tmp_path: Path, devices: str, *, extra: str = "", interval: float = 10) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f'[site]\nname = "GPU test"\npoll_interval_s = {interval}\n'
                    f'nvml = "simulated"\n{extra}\n'
                    f'[[groups]]\nid = "gpu-a"\nname = "GPU A"\nduty = "inference"\n{devices}')
    return path


def device(did: str, kind: str, **keys: object) -> str:
    lines = ["[[groups.devices]]", f'id = "{did}"', f'kind = "{kind}"']
    for k, v in keys.items():
        lines.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}")
    return "\n".join(lines) + "\n"
