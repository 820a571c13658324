"""Device kinds: how each kind is read (its transport, which decides the
device keys a site file takes) and the selector that picks it in a duty
step's `targets`. A new kind is one entry here (and its metrics in
core/metrics.py); the site loader and the duty steps read this table."""

from __future__ import annotations

from dataclasses import dataclass

# transports: address/profile/credentials, nvml_index/uuid, or a scraped URL
# (exporter/endpoint, core.exporterload)
SNMP, NVML, HTTP = "snmp", "nvml", "http"


@dataclass(frozen=True, slots=True)
class DeviceKind:
    name: str
    transport: str  # SNMP | NVML | HTTP
    selector: str | None = None  # its plural in a duty step's targets ("miners")


KINDS: dict[str, DeviceKind] = {k.name: k for k in (
    DeviceKind("miner", SNMP, "miners"),
    DeviceKind("pdu", SNMP, "pdus"),
    DeviceKind("gpu", NVML, "gpus"),
    DeviceKind("host", SNMP),
    DeviceKind("gpu-host", HTTP),  # a GPU server through its dcgm-exporter
    DeviceKind("inference", HTTP),  # an inference server's metrics page
)}
DEVICE_KINDS = tuple(KINDS)
SNMP_KINDS = tuple(k.name for k in KINDS.values() if k.transport == SNMP)
SELECTOR_KIND = {k.selector: k.name for k in KINDS.values() if k.selector}
SELECTORS = (*SELECTOR_KIND, "all")  # "all": every device of the group
# Kinds a device profile may describe (scraped kinds have fixed formats, no profile).
PROFILE_KINDS = tuple(k.name for k in KINDS.values() if k.transport != HTTP)
