"""Simulated miners that speak the 4028 JSON API the way each firmware
family does, quirks included, on top of the SNMP sim's miner model
(opsconsole/sim/miner.py: hashrate, boards, fans, power, sleep/wake, faults).

Quirks served (docs/miner-api.md "Firmware in practice"):
  antminer    GH/s ("GHS 5s" as a string), `}{` inside `stats`, dash-joined
              temp_chipN strings, no power; sleep/wake over HTTP digest
              (get/set_miner_conf.cgi, "miner-mode").
  whatsminer  MH/s, joins refused with Code 45 (STATUS as a bare string),
              `\\'` escapes in version strings, `status` with btmineroff;
              power_off/power_on only through the encrypted write API.
  braiins     MH/s, `temps`/`fans`/`tunerstatus`/`devdetails`; pause/resume.
  luxos       GHS in summary, MHS in devs; `logon` + `curtail`; `config`
              CurtailMode.
  avalon      MHS 1m and no 5s, everything else in the `MM ID0` string;
              ascset softoff/softon (softon closes the socket, no reply).
  vnish       Antminer's 4028 replies with a bare `nan`; HTTP unlock +
              mining/pause|resume.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from opsconsole.collectors.minerapi import whatsminer_crypto as wcrypto
from opsconsole.sim.miner import (
    CONTROL_SLEEP,
    CONTROL_WAKE,
    FAULT,
    MINING,
    SLEEPING,
    MinerSample,
    SimMiner,
)
from opsconsole.sim.minerapi.server import (
    ApiServer,
    commands_of,
    invalid_command,
    join_refused,
    joined,
)
from opsconsole.sim.minerapi.web import DigestAuth, WebReply, WebRequest, WebServer

FLAVOURS = ("antminer", "whatsminer", "braiins", "luxos", "avalon", "vnish")
WEB_FLAVOURS = ("antminer", "vnish")  # sleep/wake over HTTP
CHIPS_PER_BOARD = 114
CHIP_C = 4  # chips run a little hotter than their board
SIM_USER = "root"
SIM_PASSWORD = "sim-miner-pw"  # the simulated miners' login (the demo's site file names it)


def _status(code: int, msg: str, desc: str) -> list[dict[str, Any]]:
    return [{"STATUS": "S", "When": int(time.time()), "Code": code, "Msg": msg,
             "Description": desc}]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class ApiMiner:
    """One simulated miner of one flavour: a 4028 server, plus an HTTP
    server for the flavours controlled over HTTP."""

    def __init__(self, miner: SimMiner, flavour: str, *, write_api: bool = True,
                 password: str = SIM_PASSWORD):
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {flavour!r}")
        self.miner = miner
        self.flavour = flavour
        self.write_api = write_api  # Whatsminer: the encrypted write API switched on
        self.password = password
        self.server = ApiServer(self.handle)
        self.web: WebServer | None = None
        self._digest = DigestAuth(SIM_USER, password)
        self._tokens: dict[str, tuple[str, str]] = {}  # whatsminer: sign -> key ; vnish tokens
        self._sessions: set[str] = set()  # luxos
        self._vnish_tokens: set[str] = set()
        self.commands: list[str] = []  # control commands received, in order (tests)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def web_port(self) -> int | None:
        return self.web.port if self.web else None

    async def start(self, host: str = "127.0.0.1") -> ApiMiner:
        self.server.host = host
        await self.server.start()
        if self.flavour in WEB_FLAVOURS:
            self.web = await WebServer(self.handle_web, host).start()
        return self

    async def stop(self) -> None:
        await self.server.stop()
        if self.web is not None:
            await self.web.stop()

    # ---- 4028 ---------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> bytes | None:
        s = self.miner.sample()
        if not s.answering:
            return None  # booting or offline: the socket closes without a word
        if "enc" in request:
            return self._encrypted(request)
        names = commands_of(request)
        param = request.get("parameter")
        if len(names) > 1:
            if self.flavour == "whatsminer":
                return join_refused()
            return joined([(n, self._reply(n, param, s) or invalid_command(n)) for n in names])
        name = names[0] if names else ""
        if self.flavour == "avalon" and name == "ascset":
            return self._ascset(str(param or ""))
        return self._reply(name, param, s) or invalid_command(name)

    def _reply(self, name: str, param: Any, s: MinerSample) -> bytes | None:
        fn = getattr(self, f"_{self.flavour}_{name}", None)
        if fn is None and self.flavour == "vnish":
            fn = getattr(self, f"_antminer_{name}", None)
        return fn(s, param) if fn is not None else None

    # shared pieces

    def _boards(self, s: MinerSample) -> list[tuple[float, int | None, int]]:
        """(hashrate GH/s, temp, chips) per board; a dead board hashes 0, has no temp."""
        alive = [t is not None for t in s.board_temps]
        n = max(1, sum(alive))
        out = []
        for i, t in enumerate(s.board_temps):
            share = s.hashrate_ghs / n * (1 + 0.01 * (i - 1)) if alive[i] else 0.0
            out.append((round(share, 2), t, CHIPS_PER_BOARD if alive[i] else 0))
        return out

    def _uptime(self, s: MinerSample) -> int:
        return s.uptime_ticks // 100

    def _model(self) -> str:
        return {"antminer": "Antminer S19 Pro", "vnish": "Antminer S19 Pro (vnish 1.2.6)",
                "whatsminer": "M30S+", "braiins": "Antminer S19j Pro",
                "luxos": "Antminer S19k Pro", "avalon": "Avalon A1466"}[self.flavour]

    # ---- antminer (and vnish) -------------------------------------------------------

    def _antminer_version(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(22, "CGMiner versions", "cgminer 1.0.0"),
                       "VERSION": [{"API": "3.1", "BMMiner": "1.0.0", "Miner": "49.0.1.3",
                                    "Type": self._model()}], "id": 1})

    def _antminer_summary(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(11, "Summary", "cgminer 1.0.0"), "SUMMARY": [{
            "Elapsed": self._uptime(s), "GHS 5s": f"{s.hashrate_ghs:.2f}",
            "GHS av": float(s.hashrate_ghs), "Accepted": 1000, "Rejected": 1}], "id": 1})

    def _antminer_stats(self, s: MinerSample, _p: Any) -> bytes:
        body: dict[str, Any] = {"STATS": 0, "ID": "BTM_SOC0", "Elapsed": self._uptime(s),
                                "GHS 5s": f"{s.hashrate_ghs:.2f}", "rate_unit": "GH",
                                "total_rateideal": float(self.miner.nominal_ghs),
                                "miner_count": 3, "fan_num": len(s.fans_rpm)}
        for i, rpm in enumerate(s.fans_rpm, 1):
            body[f"fan{i}"] = rpm
        for i, (rate, t, chips) in enumerate(self._boards(s), 1):
            body[f"chain_rate{i}"] = f"{rate:.2f}"
            body[f"chain_acn{i}"] = chips
            chip = 0 if t is None else t
            body[f"temp_chip{i}"] = f"{chip - 6}-{chip - 20}-{chip}-{chip - 1}" if t else "0-0-0-0"
            body[f"temp2_{i}"] = t or 0
        if self.flavour == "vnish":
            body["voltage"] = "__NAN__"
        head = {"BMMiner": "1.0.0", "Miner": "49.0.1.3", "Type": self._model()}
        # the firmware's own fault: no comma between the two STATS objects
        raw = (b'{"STATUS":' + _dumps(_status(70, "CGMiner stats", "cgminer 1.0.0"))
               + b',"STATS":[' + _dumps(head) + _dumps(body) + b'],"id":1}')
        return raw.replace(b'"__NAN__"', b"nan")

    def _antminer_devdetails(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(69, "Device Details", "cgminer 1.0.0"),
                       "DEVDETAILS": [{"DEVDETAILS": 0, "Name": "BTM_SOC", "ID": 0,
                                       "Driver": "bitmain-soc", "Model": ""}], "id": 1})

    # ---- whatsminer -----------------------------------------------------------------

    def _whatsminer_summary(self, s: MinerSample, _p: Any) -> bytes:
        temps = [t for t in s.board_temps if t is not None]
        body = {"Elapsed": self._uptime(s), "MHS 5s": s.hashrate_ghs * 1000.0,
                "MHS av": s.hashrate_ghs * 1000.0, "Factory GHS": self.miner.nominal_ghs,
                "Power": s.power_w, "Power_RT": s.power_w, "Power Limit": 3600,
                "Chip Temp Max": (max(temps) + CHIP_C) if temps else 0, "Env Temp": s.inlet_c,
                "Temperature": max(temps) if temps else 0,
                "Fan Speed In": min(s.fans_rpm), "Fan Speed Out": max(s.fans_rpm),
                "Uptime": self._uptime(s), "Firmware Version": "__FW__"}
        raw = _dumps({"STATUS": _status(11, "Summary", "cgminer 4.9.2"), "SUMMARY": [body],
                      "id": 1})
        return raw.replace(b'"__FW__"', b"\"\\'20230803.11.REL\\'\"")

    def _whatsminer_devs(self, s: MinerSample, _p: Any) -> bytes:
        devs = [{"ASC": i, "ID": i, "Slot": i, "Name": "SM", "Enabled": "Y", "Status": "Alive",
                 "MHS 5s": rate * 1000.0, "Chip Temp Max": (t + CHIP_C) if t else 0,
                 "Temperature": t or 0, "Effective Chips": chips}
                for i, (rate, t, chips) in enumerate(self._boards(s))]
        return _dumps({"STATUS": _status(9, f"{len(devs)} ASC(s)", "cgminer 4.9.2"),
                       "DEVS": devs, "id": 1})

    def _whatsminer_devdetails(self, s: MinerSample, _p: Any) -> bytes:
        det = [{"DEVDETAILS": i, "Name": "SM", "ID": i, "Driver": "bitmicro",
                "Model": self._model()} for i in range(len(s.board_temps))]
        return _dumps({"STATUS": _status(69, "Device Details", "cgminer 4.9.2"),
                       "DEVDETAILS": det, "id": 1})

    def _whatsminer_status(self, s: MinerSample, _p: Any) -> bytes:
        off = "true" if s.state == SLEEPING else "false"
        return _dumps({"STATUS": "S", "When": int(time.time()), "Code": 131,
                       "Msg": {"btmineroff": off, "Firmware Version": "'20230803.11.REL'"},
                       "Description": ""})

    def _whatsminer_get_token(self, s: MinerSample, _p: Any) -> bytes:
        if not self.write_api:
            return _dumps({"STATUS": "E", "When": int(time.time()), "Code": 45,
                           "Msg": "Permission denied", "Description": ""})
        salt, newsalt = secrets.token_hex(4), secrets.token_hex(4)
        when = str(int(time.time()))
        key, sign = wcrypto.session_keys(self.password, salt, newsalt, when)
        self._tokens[sign] = (key, when)
        return _dumps({"STATUS": "S", "When": int(time.time()), "Code": 134,
                       "Msg": {"time": when, "salt": salt, "newsalt": newsalt},
                       "Description": ""})

    def _encrypted(self, request: dict[str, Any]) -> bytes:
        for sign, (key, _when) in list(self._tokens.items()):
            try:
                cmd = wcrypto.unseal(str(request.get("data", "")), key)
            except ValueError:
                continue
            if cmd.get("token") != sign:
                continue
            del self._tokens[sign]  # one command per token
            name = cmd.get("cmd")
            if name in ("power_off", "power_on"):
                self.commands.append(name)
                self.miner.command(CONTROL_SLEEP if name == "power_off" else CONTROL_WAKE)
                reply = {"STATUS": "S", "When": int(time.time()), "Code": 131,
                         "Msg": "API command OK", "Description": ""}
            else:
                reply = {"STATUS": "E", "When": int(time.time()), "Code": 14,
                         "Msg": "Invalid command", "Description": ""}
            return _dumps({"enc": wcrypto.seal(reply, key)})
        return _dumps({"STATUS": "E", "When": int(time.time()), "Code": 23,
                       "Msg": "Invalid JSON message (cannot decrypt)", "Description": ""})

    def _whatsminer_get_version(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": "S", "When": int(time.time()), "Code": 131,
                       "Msg": {"api_ver": "whatsminer v1.4.0", "fw_ver": "20230803.11.REL"},
                       "Description": "whatsminer v1.4.0"})

    # ---- braiins --------------------------------------------------------------------

    _BOS = "BOSminer+ 0.2.0-ea64aec8e"

    def _braiins_version(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(22, "BOSminer versions", self._BOS),
                       "VERSION": [{"API": "3.7", "BOSminer": "0.2.0-ea64aec8e"}], "id": 1})

    def _braiins_summary(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(11, "Summary", self._BOS), "SUMMARY": [{
            "Elapsed": self._uptime(s), "MHS 5s": s.hashrate_ghs * 1000.0,
            "MHS 1m": s.hashrate_ghs * 1000.0, "MHS av": s.hashrate_ghs * 1000.0}], "id": 1})

    def _braiins_devs(self, s: MinerSample, _p: Any) -> bytes:
        nominal = self.miner.nominal_ghs * 1000.0 / 3
        devs = [{"ASC": i, "ID": i + 6, "Name": "BC5", "Enabled": "Y", "Status": "Alive",
                 "MHS 5s": rate * 1000.0, "Nominal MHS": nominal}
                for i, (rate, _t, _c) in enumerate(self._boards(s))]
        return _dumps({"STATUS": _status(9, f"{len(devs)} ASC(s)", self._BOS), "DEVS": devs,
                       "id": 1})

    def _braiins_temps(self, s: MinerSample, _p: Any) -> bytes:
        temps = [{"TEMP": i, "ID": i + 6, "Board": float(t or 0),
                  "Chip": float(t + CHIP_C) if t else 0.0}
                 for i, (_r, t, _c) in enumerate(self._boards(s))]
        return _dumps({"STATUS": _status(201, f"{len(temps)} Temp(s)", self._BOS),
                       "TEMPS": temps, "id": 1})

    def _braiins_fans(self, s: MinerSample, _p: Any) -> bytes:
        fans = [{"FAN": i, "ID": i, "RPM": rpm, "Speed": 100} for i, rpm in enumerate(s.fans_rpm)]
        return _dumps({"STATUS": _status(202, f"{len(fans)} Fan(s)", self._BOS), "FANS": fans,
                       "id": 1})

    def _braiins_tunerstatus(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(203, "Tuner Status", self._BOS), "TUNERSTATUS": [{
            "ApproximateMinerPowerConsumption": s.power_w, "PowerLimit": 3500,
            "DynamicPowerScaling": "Disabled"}], "id": 1})

    def _braiins_devdetails(self, s: MinerSample, _p: Any) -> bytes:
        det = [{"DEVDETAILS": i, "ID": i + 6, "Chips": chips, "Model": self._model(),
                "Name": f"Hash Chain {i + 6}"} for i, (_r, _t, chips) in enumerate(self._boards(s))]
        return _dumps({"STATUS": _status(69, "Device Details", self._BOS), "DEVDETAILS": det,
                       "id": 1})

    def _braiins_pause(self, s: MinerSample, _p: Any) -> bytes:
        self.commands.append("pause")
        self.miner.command(CONTROL_SLEEP)
        return _dumps({"STATUS": _status(300, "Mining paused", self._BOS), "id": 1})

    def _braiins_resume(self, s: MinerSample, _p: Any) -> bytes:
        self.commands.append("resume")
        self.miner.command(CONTROL_WAKE)
        return _dumps({"STATUS": _status(301, "Mining resumed", self._BOS), "id": 1})

    # ---- luxos ----------------------------------------------------------------------

    _LUX = "LUXminer 2025.4.8.220305-57b389c7"

    def _luxos_version(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(22, "LUXminer versions", self._LUX), "VERSION": [{
            "API": "3.7", "LUXminer": "2025.4.8.220305-57b389c7", "Type": self._model()}],
            "id": 1})

    def _luxos_summary(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(11, "Summary", self._LUX), "SUMMARY": [{
            "Elapsed": self._uptime(s), "GHS 5s": float(s.hashrate_ghs),
            "GHS av": float(s.hashrate_ghs)}], "id": 1})

    def _luxos_devs(self, s: MinerSample, _p: Any) -> bytes:
        devs = [{"ASC": i, "ID": i, "MHS 5s": rate * 1000.0, "Temperature": float(t or 0),
                 "Nominal MHS": self.miner.nominal_ghs * 1000.0 / 3, "Status": "Alive"}
                for i, (rate, t, _c) in enumerate(self._boards(s))]
        return _dumps({"STATUS": _status(9, f"{len(devs)} ASC(s)", self._LUX), "DEVS": devs,
                       "id": 1})

    def _luxos_temps(self, s: MinerSample, _p: Any) -> bytes:
        temps = [{"ID": i, "TEMP": i, "TopLeft": float(t or 0), "TopRight": float(t or 0) - 12,
                  "BottomLeft": float(t or 0) - 1, "BottomRight": float(t or 0) - 13}
                 for i, (_r, t, _c) in enumerate(self._boards(s))]
        return _dumps({"STATUS": _status(201, f"{len(temps)} Temp(s)", self._LUX),
                       "TEMPS": temps, "id": 1})

    def _luxos_fans(self, s: MinerSample, _p: Any) -> bytes:
        fans = [{"FAN": f"FAN{i + 1}", "ID": i, "RPM": rpm, "Speed": 100}
                for i, rpm in enumerate(s.fans_rpm)]
        return _dumps({"STATUS": _status(202, f"{len(fans)} Fan(s)", self._LUX), "FANS": fans,
                       "id": 1})

    def _luxos_power(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(311, "Power usage", self._LUX),
                       "POWER": [{"PSU": False, "Watts": s.power_w}], "id": 1})

    def _luxos_config(self, s: MinerSample, _p: Any) -> bytes:
        mode = "Sleep" if s.state == SLEEPING else "None"
        return _dumps({"STATUS": _status(33, "LUXminer config", self._LUX), "CONFIG": [{
            "Model": self._model(), "CurtailMode": mode, "OS": "LuxOS"}], "id": 1})

    def _luxos_logon(self, s: MinerSample, _p: Any) -> bytes:
        if self._sessions:
            return _dumps({"STATUS": [{"STATUS": "E", "Code": 402, "Msg":
                                       "Another session is active", "Description": self._LUX}],
                           "id": 1})
        sid = secrets.token_hex(4)
        self._sessions.add(sid)
        return _dumps({"STATUS": _status(400, "Session created", self._LUX),
                       "SESSION": [{"SessionID": sid}], "id": 1})

    def _luxos_logoff(self, s: MinerSample, p: Any) -> bytes:
        self._sessions.discard(str(p or ""))
        return _dumps({"STATUS": _status(401, "Session terminated", self._LUX), "id": 1})

    def _luxos_curtail(self, s: MinerSample, p: Any) -> bytes:
        sid, _, verb = str(p or "").partition(",")
        if sid not in self._sessions or verb not in ("sleep", "wakeup"):
            return _dumps({"STATUS": [{"STATUS": "E", "Code": 403, "Msg": "Invalid session or "
                                       "parameter", "Description": self._LUX}], "id": 1})
        self.commands.append(f"curtail {verb}")
        self.miner.command(CONTROL_SLEEP if verb == "sleep" else CONTROL_WAKE)
        return _dumps({"STATUS": _status(403, f"Curtail {verb}", self._LUX), "id": 1})

    # ---- avalon ---------------------------------------------------------------------

    def _avalon_version(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(22, "CGMiner versions", "cgminer 4.11.1"), "VERSION": [{
            "API": "3.7", "CGMiner": "4.11.1", "PROD": "AvalonMiner 1466", "MODEL": "1466"}],
            "id": 1})

    def _avalon_summary(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(11, "Summary", "cgminer 4.11.1"), "SUMMARY": [{
            "Elapsed": self._uptime(s), "MHS 1m": s.hashrate_ghs * 1000.0,
            "MHS av": s.hashrate_ghs * 1000.0}], "id": 1})

    def _avalon_stats(self, s: MinerSample, _p: Any) -> bytes:
        temps = [t for t in s.board_temps if t is not None]
        status = "Work: In Idle" if s.state == SLEEPING else "Work: In Work"
        fans = " ".join(f"Fan{i}[{rpm}]" for i, rpm in enumerate(s.fans_rpm, 1))
        mm = (f"Ver[1466-22093001] Elapsed[{self._uptime(s)}] SYSTEMSTATU[{status}, Hash Board: "
              f"{len(temps)}] ITemp[{s.inlet_c}] HBITemp[{min(temps) if temps else 0}] "
              f"HBOTemp[{max(temps) if temps else 0}] "
              f"TMax[{max(temps) + CHIP_C if temps else 0}] "
              f"TAvg[{sum(temps) // max(1, len(temps))}] {fans} GHSspd[{s.hashrate_ghs}] "
              f"PS[0 1215 2250 105 2382 1215 {s.power_w}]")
        return _dumps({"STATUS": _status(70, "CGMiner stats", "cgminer 4.11.1"), "STATS": [{
            "STATS": 0, "ID": "AVALON0", "Elapsed": self._uptime(s), "MM ID0": mm}], "id": 1})

    def _avalon_devdetails(self, s: MinerSample, _p: Any) -> bytes:
        return _dumps({"STATUS": _status(69, "Device Details", "cgminer 4.11.1"),
                       "DEVDETAILS": [{"DEVDETAILS": 0, "Name": "AVALON", "ID": 0,
                                       "Driver": "avalon", "Model": ""}], "id": 1})

    def _ascset(self, param: str) -> bytes | None:
        parts = param.split(",")
        verb = parts[1] if len(parts) > 1 else ""
        if verb not in ("softoff", "softon"):
            return _dumps({"STATUS": [{"STATUS": "E", "Code": 120, "Msg": "ASC 0 set info: "
                                       "unknown option", "Description": "cgminer 4.11.1"}],
                           "id": 1})
        self.commands.append(f"ascset {verb}")
        self.miner.command(CONTROL_SLEEP if verb == "softoff" else CONTROL_WAKE)
        if verb == "softon":
            return None  # as real Avalons do: the socket closes without a reply
        ts = parts[2].split(":", 1)[-1] if len(parts) > 2 else str(int(time.time()))
        return _dumps({"STATUS": [{"STATUS": "I", "When": int(time.time()), "Code": 118,
                                   "Msg": f"ASC 0 set info: success {verb}:{ts}",
                                   "Description": "cgminer 4.11.1"}], "id": 1})

    # ---- HTTP (antminer, vnish) -------------------------------------------------------

    async def handle_web(self, req: WebRequest) -> WebReply:
        if not self.miner.sample().answering:
            return WebReply(503, {"error": "booting"})
        if self.flavour == "antminer":
            return self._antminer_web(req)
        return self._vnish_web(req)

    def _antminer_web(self, req: WebRequest) -> WebReply:
        if not self._digest.ok(req):
            return self._digest.challenge()
        mode = 1 if self.miner.sample().control == CONTROL_SLEEP else 0
        if req.path == "/cgi-bin/get_miner_conf.cgi":
            return WebReply(200, {"pools": [], "bitmain-fan-ctrl": False,
                                  "bitmain-work-mode": str(mode), "miner-mode": mode})
        if req.path == "/cgi-bin/set_miner_conf.cgi" and req.method == "POST":
            want = req.body.get("miner-mode") if isinstance(req.body, dict) else None
            if str(want) not in ("0", "1"):
                return WebReply(200, {"stats": "error", "msg": "bad miner-mode"})
            self.commands.append(f"miner-mode {want}")
            self.miner.command(CONTROL_SLEEP if str(want) == "1" else CONTROL_WAKE)
            return WebReply(200, {"stats": "success", "code": "M000", "msg": "OK!"})
        return WebReply(404, {"error": "not found"})

    def _vnish_web(self, req: WebRequest) -> WebReply:
        if req.path == "/api/v1/unlock" and req.method == "POST":
            pw = req.body.get("pw") if isinstance(req.body, dict) else None
            if pw != self.password:
                return WebReply(403, {"error": "Wrong password"})
            token = secrets.token_hex(16)
            self._vnish_tokens.add(token)
            return WebReply(200, {"token": token})
        if req.path == "/api/v1/status":
            st = self.miner.sample().state
            state = {MINING: "mining", SLEEPING: "paused", FAULT: "failure"}.get(st, "starting")
            return WebReply(200, {"miner_state": state, "unlocked": False})
        if req.path in ("/api/v1/mining/pause", "/api/v1/mining/resume"):
            auth = req.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self._vnish_tokens:
                return WebReply(401, {"error": "Unauthorized"})
            verb = req.path.rsplit("/", 1)[1]
            self.commands.append(f"mining/{verb}")
            self.miner.command(CONTROL_SLEEP if verb == "pause" else CONTROL_WAKE)
            return WebReply(200)
        return WebReply(404, {"error": "not found"})
