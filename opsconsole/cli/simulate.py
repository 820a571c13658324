"""`opsconsole simulate [--miners N] [--gpus N] [--write-config FILE]
[--row-offset N] [--miner-api cgminer]`: the simulated site's SNMP agents
(or, with --miner-api, miners speaking their firmware's JSON API) on
loopback, until interrupted. `--row-offset` lets several simulators (each with its own
open-files limit: one UDP socket per device) serve disjoint rows of one big site."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys

from opsconsole.cli.common import EXIT_OK, EXIT_USAGE


async def _serve(args: argparse.Namespace) -> None:
    from opsconsole.sim.site import SimSite

    kwargs = {"miners": args.miners, "gpus": args.gpus, "seed": args.seed,
              "row_offset": getattr(args, "row_offset", 0),
              "miner_api": getattr(args, "miner_api", None),
              "exporters": getattr(args, "exporters", False)}
    if args.fault_rate is not None:
        kwargs["fault_rate"] = args.fault_rate
    site = SimSite(**kwargs)
    await site.start(host=args.host)
    try:
        if args.write_config:
            site.write_config(args.write_config)
            where = f"; site file {args.write_config}"
        else:
            where = ""
        how = " over their JSON API" if getattr(args, "miner_api", None) else ""
        print(f"simulating {args.miners} miners{how}, {site.pdu_count} PDUs and {args.gpus} GPUs "
              f"on {args.host}{where}; Ctrl-C to stop", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await site.stop()


def run(args: argparse.Namespace) -> int:
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            raise ValueError
    except ValueError:
        print(f"simulate: --host {args.host}: must be a loopback address (127.0.0.0/8 or ::1)",
              file=sys.stderr)
        return EXIT_USAGE
    if args.miners < 0 or args.gpus < 0 or getattr(args, "row_offset", 0) < 0:
        print("simulate: --miners, --gpus and --row-offset must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    asyncio.run(_serve(args))
    return EXIT_OK
