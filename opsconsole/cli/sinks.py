"""What a running `poll` feeds besides its output: the history database in
the data dir and, with --metrics-port, the Prometheus endpoint."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from opsconsole.cli.common import EXIT_USAGE
from opsconsole.core.readings import Reading
from opsconsole.core.site import Site

log = logging.getLogger(__name__)


class Sinks:
    def __init__(self, history: Any = None, metrics: Any = None):
        self.history = history  # core.history.HistoryWriter
        self.metrics = metrics  # core.prometheus.MetricsServer

    @classmethod
    def open(cls, args: argparse.Namespace, site: Site) -> Sinks:
        from opsconsole.cli.common import data_dir_for
        from opsconsole.core.history import HistoryWriter

        metrics = None
        port = getattr(args, "metrics_port", None)
        if port is not None:
            from opsconsole.core.prometheus import MetricsServer

            address = getattr(args, "metrics_address", "127.0.0.1")
            try:
                metrics = MetricsServer(site, port, address)
            except (OSError, ValueError) as exc:
                print(f"opsconsole: cannot serve /metrics on {address}:{port}: {exc}",
                      file=sys.stderr)
                raise SystemExit(EXIT_USAGE) from None
            print(f"# serving {metrics.url}", file=sys.stderr, flush=True)
        history = None
        try:
            history = HistoryWriter.in_dir(data_dir_for(args, site))
        except Exception as exc:  # no history must not mean no polling
            log.warning("history disabled: %s", exc)
            print(f"opsconsole: history disabled: {exc}", file=sys.stderr)
        return cls(history, metrics)

    def ingest(self, batch: list[Reading], store: Any) -> None:
        if self.history is not None:
            self.history.ingest(batch, store)
        if self.metrics is not None:
            self.metrics.publish(store)

    def cycle(self, duration_s: float) -> None:
        if self.metrics is not None:
            self.metrics.publish(cycle_s=duration_s)

    def close(self) -> None:
        if self.history is not None:
            self.history.close()
        if self.metrics is not None:
            self.metrics.close()
