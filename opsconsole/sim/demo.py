"""The demo site of `opsconsole --demo` and `opsconsole serve --demo`."""

from __future__ import annotations

import contextlib
from typing import Any

# The demo: three rows of 40 miners with their PDUs, one hybrid rack of 8 GPUs
# and 4 miners on their own PDU (its inference duty cuts those outlets, raises
# the GPU power limits and starts the simulated inference service). Row C's
# miners speak their firmware's JSON API (six flavours in turn), rows A and B SNMP.
DEMO_MINERS, DEMO_GPUS, DEMO_HYBRID_MINERS = 120, 8, 4
DEMO_API_ROWS = ("row-c",)


# (miner, fault, starts after s, lasts s, board/fan number)
DEMO_FAULTS = (("a-07", "board", 20, 1800, 2), ("b-12", "fan", 40, 1200, 1),
               ("c-05", "offline", 60, 150, 0))


def make_demo_site(miners: int = DEMO_MINERS, gpus: int = DEMO_GPUS) -> Any:
    from opsconsole.sim.site import SimSite

    site = SimSite(miners=miners, gpus=gpus, seed=1, hybrid_miners=DEMO_HYBRID_MINERS,
                   api_rows=DEMO_API_ROWS,
                   exporters=True)  # a GPU server via dcgm-exporter, a vLLM page, prices
    # A few faults early on, so a demo shows (and can acknowledge) real alarms
    # within a minute or two instead of waiting on the random schedule.
    now = site.clock()
    for device, kind, start_s, duration_s, which in DEMO_FAULTS:
        with contextlib.suppress(KeyError):
            site.miner(device).add_fault(kind, now + start_s, duration_s, which)
    return site
