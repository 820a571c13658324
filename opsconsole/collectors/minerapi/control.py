"""Sleep and wake a miner with its firmware's own command, then read the
state back from the miner (many firmwares report success for a command that
did nothing). docs/miner-api.md "Firmware in practice" lists the commands:

  braiins     `pause` / `resume` on 4028
  luxos       `logon` -> SessionID, `curtail <sid>,sleep|wakeup`, `logoff <sid>`
  avalon      `ascset 0,softoff,1:<ts>` / `0,softon,1:<ts>` (softon may close
              the socket without a reply)
  whatsminer  `power_off` / `power_on` through the encrypted write API
              (get_token, md5-crypt, AES-256-ECB); needs the admin password
  antminer    HTTP digest: get_miner_conf.cgi, then set_miner_conf.cgi with
              "miner-mode" 1 (sleep) / 0 (normal)
  vnish       HTTP: POST /api/v1/unlock {"pw"} -> token; POST
              /api/v1/mining/pause|resume with the bearer token

A miner whose firmware or credentials cannot do it fails with the reason.
Messages never hold a password, token or session id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass

from opsconsole.collectors.minerapi import whatsminer_crypto as wcrypto
from opsconsole.collectors.minerapi.client import MinerApi
from opsconsole.collectors.minerapi.collector import collect, firmware_of
from opsconsole.collectors.minerapi.replies import ApiError, ApiUnreachable, check, status_of
from opsconsole.collectors.minerapi.web import DEFAULT_WEB_PORT, WebError, call
from opsconsole.core.readings import Status
from opsconsole.core.site import Credentials, Device

SLEEP, WAKE = "sleep", "wake"
READBACK_EVERY_S = 1.0
RESTING = ("sleeping", "idle")


class ControlError(Exception):
    """The command could not be given (no credentials, refused, write API off)."""


@dataclass(frozen=True, slots=True)
class Login:
    user: str | None
    password: str | None


def login_of(creds: Credentials | None) -> Login:
    if creds is None:
        return Login(None, None)
    return Login(creds.user, creds.password)


def _need_password(family: str, login: Login) -> str:
    if not login.password:
        raise ControlError(f"{family} sleep/wake needs a login: set credentials with user and "
                           "password_env for this miner")
    return login.password


# ---- per family -------------------------------------------------------------------


async def _braiins(api: MinerApi, dev: Device, state: str, login: Login) -> str:
    cmd = "pause" if state == SLEEP else "resume"
    await api.command(dev.host or "", dev.port, cmd)
    return f"{cmd} accepted"


async def _luxos(api: MinerApi, dev: Device, state: str, login: Login) -> str:
    host, port = dev.host or "", dev.port
    reply = await api.command(host, port, "logon")
    sessions = reply.get("SESSION") or []
    sid = sessions[0].get("SessionID") if sessions and isinstance(sessions[0], dict) else None
    if not sid:
        raise ControlError("logon gave no session (another session active? LuxOS code 402)")
    try:
        await api.command(host, port, "curtail", f"{sid},{'sleep' if state == SLEEP else 'wakeup'}")
    finally:
        with contextlib.suppress(ApiError):  # the session expires after a minute anyway
            await api.command(host, port, "logoff", sid)
    return f"curtail {'sleep' if state == SLEEP else 'wakeup'} accepted"


async def _avalon(api: MinerApi, dev: Device, state: str, login: Login) -> str:
    verb = "softoff" if state == SLEEP else "softon"
    param = f"0,{verb},1:{int(time.time())}"
    try:
        reply = await api.command(dev.host or "", dev.port, "ascset", param)
    except ApiUnreachable as exc:
        if verb == "softon" and "closed" in str(exc):
            return "softon sent (the miner closed the socket, as Avalon does)"
        raise
    st = status_of(reply)
    msg = st.msg if st else ""
    if "success" not in msg.lower():  # "ASC 0 set info: success softoff:<ts>"
        raise ControlError(f"ascset {verb}: {msg or 'no confirmation'}")
    return f"ascset {verb} accepted"


async def _whatsminer(api: MinerApi, dev: Device, state: str, login: Login) -> str:
    password = _need_password("whatsminer", login)
    host, port = dev.host or "", dev.port
    token = await api.raw(host, port, b'{"cmd":"get_token"}')
    st = status_of(token)
    msg = token.get("Msg")
    if st is None or not st.ok or not isinstance(msg, dict):
        why = st.msg if st and st.msg else "no token"
        raise ControlError(f"get_token refused ({why}): enable the write API on the miner")
    try:
        key, sign = wcrypto.session_keys(password, str(msg["salt"]), str(msg["newsalt"]),
                                         str(msg["time"]))
    except KeyError:
        raise ControlError("get_token answer lacks salt/newsalt/time") from None
    cmd = "power_off" if state == SLEEP else "power_on"
    body = {"cmd": cmd, "token": sign}
    if cmd == "power_off":
        body["respbefore"] = "true"
    sealed = json.dumps({"enc": 1, "data": wcrypto.seal(body, key)}).encode()
    reply = await api.raw(host, port, sealed)
    if not isinstance(reply.get("enc"), str):
        st = status_of(reply)  # answered in clear: it could not read our command
        raise ControlError(f"{cmd} refused ({st.msg if st else 'no status'}"
                           f"{f', code {st.code}' if st and st.code else ''}): wrong password?")
    try:
        reply = wcrypto.unseal(reply["enc"], key)
    except ValueError as exc:
        raise ControlError(f"{cmd}: reply cannot be decrypted ({exc}): wrong password?") \
            from None
    check(reply, cmd)
    return f"{cmd} accepted"


async def _antminer(api: MinerApi, dev: Device, state: str, login: Login) -> str:
    password = _need_password("antminer", login)
    port = dev.web_port or DEFAULT_WEB_PORT
    mode = 1 if state == SLEEP else 0
    user = login.user or "root"
    conf = await call(dev.host or "", port, "/cgi-bin/get_miner_conf.cgi", user=user,
                      password=password)
    if not isinstance(conf, dict):
        raise ControlError("get_miner_conf.cgi gave no configuration")
    conf["miner-mode"] = mode
    if "bitmain-work-mode" in conf:
        conf["bitmain-work-mode"] = str(mode)
    reply = await call(dev.host or "", port, "/cgi-bin/set_miner_conf.cgi", method="POST",
                       body=conf, user=user, password=password)
    if isinstance(reply, dict) and str(reply.get("stats", "success")).lower() != "success":
        raise ControlError(f"set_miner_conf.cgi: {reply.get('msg') or reply.get('stats')}")
    back = await call(dev.host or "", port, "/cgi-bin/get_miner_conf.cgi", user=user,
                      password=password)
    got = back.get("miner-mode") if isinstance(back, dict) else None
    if str(got) != str(mode):
        raise ControlError(f"miner-mode set to {mode} but get_miner_conf reads {got!r}")
    return f"miner-mode {mode} ({'sleep' if mode else 'normal'}), reads back {got}"


async def _vnish(api: MinerApi, dev: Device, state: str, login: Login) -> str:
    password = _need_password("vnish", login)
    host, port = dev.host or "", dev.web_port or DEFAULT_WEB_PORT
    unlocked = await call(host, port, "/api/v1/unlock", method="POST", body={"pw": password})
    token = unlocked.get("token") if isinstance(unlocked, dict) else None
    if not token:
        raise ControlError("unlock gave no token")
    verb = "pause" if state == SLEEP else "resume"
    await call(host, port, f"/api/v1/mining/{verb}", method="POST",
               headers={"Authorization": f"Bearer {token}"})
    status = await call(host, port, "/api/v1/status")
    got = status.get("miner_state") if isinstance(status, dict) else None
    return f"mining/{verb} accepted (miner_state {got})"


COMMANDS = {
    "braiins": _braiins, "luxos": _luxos, "avalon": _avalon,
    "whatsminer": _whatsminer, "antminer": _antminer, "vnish": _vnish,
}


# ---- the action ---------------------------------------------------------------------


def _agrees(state: str, reading_state: object, rate: object) -> bool:
    """Asleep: the miner says it rests, or hashes nothing. Awake: it no longer
    says it sleeps (real firmware takes minutes to reach full rate)."""
    if state == SLEEP:
        return reading_state in RESTING or (isinstance(rate, int | float) and rate <= 0)
    return reading_state not in ("sleeping",) and reading_state is not None


async def set_power(api: MinerApi, dev: Device, creds: Credentials | None, state: str,
                    timeout_s: float) -> tuple[bool, str]:
    """Give the miner its firmware's sleep/wake command, then poll it until
    its own state agrees, or the timeout says where it stopped."""
    deadline = time.monotonic() + timeout_s
    try:
        family = await firmware_of(api, dev)
        said = await COMMANDS[family](api, dev, state, login_of(creds))
    except (ControlError, WebError) as exc:
        return False, f"{state}: {exc}"
    except ApiUnreachable as exc:
        return False, f"{state}: miner unreachable ({exc})"
    except ApiError as exc:
        return False, f"{state}: {exc}"
    last = "no reading"
    while True:
        r = await collect(api, dev)
        if r.status in (Status.OK, Status.PARTIAL):
            st, rate = r.metrics.get("state"), r.metrics.get("hashrate_ths")
            last = f"state {st}, {rate if rate is not None else '?'} TH/s"
            if _agrees(state, st, rate):
                return True, f"{family}: {said}; reads back {last}"
        else:
            last = f"{r.status.value}: {r.error}"
        if time.monotonic() + READBACK_EVERY_S > deadline:
            return False, (f"{family}: {said}, but the miner still reads {last} after "
                           f"{timeout_s:g} s")
        await asyncio.sleep(READBACK_EVERY_S)
