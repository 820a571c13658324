"""`/metrics` for Prometheus, with the official client library.

A custom Collector renders the latest readings at scrape time: one gauge
family per numeric catalogue metric, `opsconsole_<metric>{device, group,
kind}`, per-outlet metrics with an `outlet` label (1-based), and the
poller's health (`opsconsole_poll_cycle_seconds`, `opsconsole_devices{status}`,
`opsconsole_device_up`). A device that did not answer exports no values, so
Prometheus shows a gap, never a made-up number.

The owner of the LiveStore calls `publish(store)` after each ingest: that
copies the list of latest readings (pointers only), so the HTTP thread never
reads the store while it changes.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector

from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Site
from opsconsole.core.store import SITE

PREFIX = "opsconsole_"
LOOPBACK = "127.0.0.1"
_LABELS = ["device", "group", "kind"]
_ON_OFF = {"on": 1.0, "off": 0.0}


def _value(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, str):
        return _ON_OFF.get(v.lower())  # outlet states
    return None


class ReadingsCollector(Collector):
    def __init__(self, site: Site):
        self.site = site
        self.devices = {d.id: d for d in site.devices()}
        self._latest: list[Reading | None] = []
        self._cycle_s: float | None = None
        # group/site sums of tokens_per_s (scope id, value); only for sites with inference servers
        self._tokens: list[tuple[str, float]] = []
        self._has_inference = any(d.kind == "inference" for d in site.devices())
        self._lock = threading.Lock()

    def publish(self, store: Any = None, *, readings: list[Reading | None] | None = None,
                cycle_s: float | None = None) -> None:
        with self._lock:
            if store is not None:
                self._latest = list(store.latest)
                if self._has_inference:
                    self._tokens = [(scope, v) for scope in store.scopes
                                    if (v := store.summary(scope).tokens_per_s) is not None]
            elif readings is not None:
                self._latest = list(readings)
            if cycle_s is not None:
                self._cycle_s = cycle_s

    def describe(self) -> list:  # no dry run at registration
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            latest, cycle_s, tokens = self._latest, self._cycle_s, self._tokens
        families: dict[str, GaugeMetricFamily] = {}
        up = GaugeMetricFamily(PREFIX + "device_up", "1 if the device answered its last poll",
                               labels=_LABELS)
        by_status = {s.value: 0 for s in Status} | {"pending": 0}
        seen = set()
        for r in latest:
            if r is None or r.device not in self.devices:
                continue
            d = self.devices[r.device]
            seen.add(d.id)
            labels = [d.id, d.group, d.kind]
            answered = r.status in (Status.OK, Status.PARTIAL)
            by_status[r.status.value] += 1
            up.add_metric(labels, 1.0 if answered else 0.0)
            if not answered:
                continue
            for name, v in r.metrics.items():
                info = CATALOGUE.get(name)
                if info is None or not (info.numeric or info.per_outlet):
                    continue
                fam = families.get(name)
                if fam is None:
                    fam = families[name] = GaugeMetricFamily(
                        PREFIX + name, f"{info.label}" + (f" ({info.unit})" if info.unit else ""),
                        labels=[*_LABELS, "outlet"] if info.per_outlet else _LABELS)
                if info.per_outlet:
                    for k, item in enumerate(v if isinstance(v, list) else []):
                        x = _value(item)
                        if x is not None:
                            fam.add_metric([*labels, str(k + 1)], x)
                else:
                    x = _value(v) if not isinstance(v, str) else None
                    if x is not None:
                        fam.add_metric(labels, x)
        by_status["pending"] += len(self.devices) - len(seen)
        yield from families.values()
        yield up
        counts = GaugeMetricFamily(PREFIX + "devices", "Devices by the status of their last poll",
                                   labels=["status"])
        for status, n in by_status.items():
            counts.add_metric([status], float(n))
        yield counts
        if tokens:
            fam = GaugeMetricFamily(PREFIX + "scope_tokens_per_s",
                                    "Generated tokens per second, summed over a group or the site",
                                    labels=["scope"])
            for scope, v in tokens:
                fam.add_metric(["site" if scope == SITE else f"group:{scope}"], v)
            yield fam
        if cycle_s is not None:
            yield GaugeMetricFamily(PREFIX + "poll_cycle_seconds",
                                    "Duration of the last full poll cycle", value=cycle_s)


class MetricsServer:
    """The HTTP endpoint on its own daemon thread (the library's server)."""

    def __init__(self, site: Site, port: int, address: str = LOOPBACK):
        check_address(address)
        self.collector = ReadingsCollector(site)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._server, self._thread = start_http_server(port, addr=address,
                                                       registry=self.registry)
        self.address = address
        self.port = int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"

    def publish(self, store: Any = None, **kw: Any) -> None:
        self.collector.publish(store, **kw)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def check_address(address: str) -> None:
    """An IP literal (ValueError otherwise): binding is explicit, never a name
    that might resolve to every interface."""
    ipaddress.ip_address(address)
