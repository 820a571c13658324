"""Helpers for the miner-API tests: captured replies served by a real TCP
server on 127.0.0.1, and the Device that points at it."""

from __future__ import annotations

import json
from pathlib import Path

from opsconsole.core.site import Device
from opsconsole.sim.minerapi.server import ApiServer, replay_handler

DATA = Path(__file__).resolve().parent.parent / "data" / "miner_api"


def captures(folder: str) -> dict[str, bytes]:
    """command name -> the captured reply bytes of that firmware."""
    return {p.stem: p.read_bytes() for p in sorted((DATA / folder).glob("*.json"))}


def compact(raw: bytes) -> bytes:
    """A capture as the miner sends it: one line (the stored files are pretty-printed)."""
    return json.dumps(json.loads(raw), separators=(",", ":")).encode()


async def serve(replies: dict[str, bytes], *, joins: bool = True, nul: bool = True) -> ApiServer:
    return await ApiServer(replay_handler(replies, joins=joins), nul=nul).start()


def api_device(port: int, did: str = "m-1", firmware: str = "auto",
               timeout_s: float | None = None) -> Device:
    return Device(id=did, kind="miner", group="g", host="127.0.0.1", port=port,
                  api="cgminer", firmware=firmware, timeout_s=timeout_s)
