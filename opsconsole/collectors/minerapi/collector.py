"""One poll of one API miner -> a Reading (status and error say what went wrong).

`unreachable`: no answer at all. `error`: answered, but nothing usable
(garbage, a reply that never ends, an oversized reply, every section
failing, firmware not recognised). `partial`: some metrics this family
reports are missing. A metric the family never reports (stock Antminer
power) is simply absent and does not make a reading partial.
"""

from __future__ import annotations

import time

from opsconsole.collectors.minerapi.client import MinerApi
from opsconsole.collectors.minerapi.detect import DETECT_COMMANDS, detect
from opsconsole.collectors.minerapi.families import FAMILY
from opsconsole.collectors.minerapi.replies import ApiError, ApiUnreachable
from opsconsole.core.minerapi_config import FAMILIES
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Device


async def firmware_of(api: MinerApi, device: Device) -> str:
    """The device's family: the site file's, else detected once and cached."""
    if device.firmware and device.firmware != "auto":
        return device.firmware
    host, port = device.host or "", device.port
    st = api.state(host, port)
    if st.firmware is not None:
        return st.firmware
    replies = await api.commands(host, port, list(DETECT_COMMANDS))
    family = detect(replies)
    if family is None:
        replies.update(await api.commands(host, port, ["summary"]))
        family = detect(replies)
    if family is None:
        raise ApiError("firmware not recognised from version/devdetails/summary "
                       '(set firmware = "..." for this miner)')
    st.firmware = family
    return family


async def collect(api: MinerApi, device: Device, timeout_s: float | None = None) -> Reading:
    t0 = time.monotonic()

    def done(status: Status, metrics: dict, error: str | None) -> Reading:
        return Reading(device.id, time.time(), status, metrics, error, time.monotonic() - t0)

    host, port = device.host or "", device.port
    try:
        family = await firmware_of(api, device)
        fam = FAMILY[family]
        replies = await api.commands(host, port, list(fam.commands), timeout_s)
    except ApiUnreachable as exc:
        return done(Status.UNREACHABLE, {}, str(exc))
    except ApiError as exc:
        return done(Status.ERROR, {}, str(exc))
    parsed = fam.parse(replies)
    metrics = dict(parsed.metrics)
    if not any(k in metrics for k in ("hashrate_ths", "temp_c", "power_w")):
        why = "; ".join(parsed.errors) or "no usable metric in the replies"
        api.state(host, port).firmware = None  # reflashed? detect again next time
        return done(Status.ERROR, {}, f"{family}: {why}")
    metrics["firmware"] = family
    if parsed.missing or parsed.errors:
        parts = []
        if parsed.missing:
            parts.append(f"not reported: {', '.join(parsed.missing)}")
        parts += parsed.errors
        return done(Status.PARTIAL, metrics, "; ".join(parts))
    return done(Status.OK, metrics, None)


__all__ = ["FAMILIES", "collect", "firmware_of"]
