"""miner-power per family against the simulator's flavours on 127.0.0.1:
each family gets its own command, the state is read back from the miner,
and a firmware or login that cannot do it fails with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from opsconsole.collectors.minerapi.client import MinerApi
from opsconsole.collectors.minerapi.collector import collect
from opsconsole.collectors.minerapi.control import set_power
from opsconsole.collectors.minerapi.whatsminer_crypto import md5_crypt, seal, unseal
from opsconsole.core.readings import Status
from opsconsole.core.site import Credentials, Device
from opsconsole.sim.miner import MinerTiming, SimMiner
from opsconsole.sim.minerapi.flavours import FLAVOURS, SIM_PASSWORD, SIM_USER, ApiMiner

LOGIN = Credentials(id="miner-web", version="api", user=SIM_USER, password=SIM_PASSWORD)
FAST = MinerTiming(boot_s=0.0, ramp_s=0.0, sleep_s=0.0)
OWN_COMMAND = {
    "antminer": ("miner-mode 1", "miner-mode 0"),
    "whatsminer": ("power_off", "power_on"),
    "braiins": ("pause", "resume"),
    "luxos": ("curtail sleep", "curtail wakeup"),
    "avalon": ("ascset softoff", "ascset softon"),
    "vnish": ("mining/pause", "mining/resume"),
}


def device(m: ApiMiner, firmware: str = "auto") -> Device:
    return Device(id=f"sim-{m.flavour}", kind="miner", group="g", host="127.0.0.1",
                  port=m.port, api="cgminer", firmware=firmware, web_port=m.web_port,
                  credentials="miner-web")


async def started(flavour: str, **kw) -> ApiMiner:
    return await ApiMiner(SimMiner(flavour, 7, timing=FAST), flavour, **kw).start()


def sleep_once(flavour: str, login: Credentials | None = LOGIN, timeout_s: float = 5,
               prepare: Callable[[ApiMiner], object] | None = None,
               **kw) -> tuple[tuple[bool, str], list]:
    """A simulated miner (`kw`: its ApiMiner options, `prepare`: what to change
    first) asked to sleep once: (ok, message) and the commands it ran."""
    async def main():
        m = await started(flavour, **kw)
        try:
            if prepare is not None:
                prepare(m)
            return (await set_power(MinerApi(), device(m), login, "sleep", timeout_s),
                    list(m.commands))
        finally:
            await m.stop()

    return asyncio.run(main())


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sleep_and_wake_with_the_familys_own_command(flavour):
    async def main():
        m = await started(flavour)
        try:
            api = MinerApi()
            dev = device(m)
            before = await collect(api, dev)
            slept = await set_power(api, dev, LOGIN, "sleep", 10)
            asleep = await collect(api, dev)
            woke = await set_power(api, dev, LOGIN, "wake", 10)
            awake = await collect(api, dev)
            return before, slept, asleep, woke, awake, list(m.commands)
        finally:
            await m.stop()

    before, slept, asleep, woke, awake, commands = asyncio.run(main())
    assert before.status is Status.OK, before.error
    assert before.metrics["firmware"] == flavour and before.metrics["hashrate_ths"] > 50
    assert slept[0], slept[1]
    assert "reads back" in slept[1]
    assert asleep.metrics["hashrate_ths"] == 0
    assert asleep.metrics["state"] in ("sleeping", "idle")
    if flavour not in ("antminer", "vnish"):  # bmminer-based: no power over 4028
        assert asleep.metrics["power_w"] < before.metrics["power_w"] / 5
    assert woke[0], woke[1]
    assert awake.metrics["hashrate_ths"] > 50 and awake.metrics["state"] == "mining"
    assert commands == list(OWN_COMMAND[flavour])
    assert SIM_PASSWORD not in slept[1] + woke[1]


@pytest.mark.parametrize("flavour", ["whatsminer", "antminer", "vnish"])
def test_no_login_fails_with_the_reason(flavour):
    (ok, msg), commands = sleep_once(flavour, login=None)
    assert not ok and "needs a login" in msg and "password_env" in msg
    assert commands == []


@pytest.mark.parametrize("flavour,why", [
    ("whatsminer", "wrong password?"),
    ("antminer", "HTTP 401"),
    ("vnish", "HTTP 403"),
])
def test_wrong_password_fails_and_is_never_shown(flavour, why):
    wrong = Credentials(id="w", version="api", user=SIM_USER, password="not-the-pw-123")
    (ok, msg), commands = sleep_once(flavour, login=wrong)
    assert not ok and why in msg, msg
    assert "not-the-pw-123" not in msg and commands == []


def test_whatsminer_write_api_disabled():
    (ok, msg), _ = sleep_once("whatsminer", write_api=False)
    assert not ok and "enable the write API" in msg and "Permission denied" in msg


def test_luxos_another_session_active():
    (ok, msg), _ = sleep_once("luxos", prepare=lambda m: m._sessions.add("someone-else"))
    assert not ok and "Another session is active" in msg and "402" in msg


def test_a_command_that_does_nothing_fails_on_read_back():
    """Braiins says "Mining paused" but keeps hashing: not a success."""
    def ignore_commands(m: ApiMiner) -> None:
        m.miner.command = lambda value: None  # the firmware ignores it

    (ok, msg), _ = sleep_once("braiins", timeout_s=2.5, prepare=ignore_commands)
    assert not ok
    assert "pause accepted" in msg and "still reads state mining" in msg and "after 2.5 s" in msg


def test_unreachable_miner_fails():
    dev = Device(id="gone", kind="miner", group="g", host="127.0.0.1", port=9,
                 api="cgminer", firmware="braiins")
    ok, msg = asyncio.run(set_power(MinerApi(timeout_s=1), dev, LOGIN, "sleep", 2))
    assert not ok and "unreachable" in msg


def test_md5_crypt_matches_openssl():
    # `openssl passwd -1 -salt BQ5hoXV9 admin` and `-salt saltsalt` of 40 x "a"
    assert md5_crypt("admin", "BQ5hoXV9") == "$1$BQ5hoXV9$RxmaDUO33TS7O26yeMHZ81"
    assert md5_crypt("a" * 40, "saltsalt") == "$1$saltsalt$xbcEYb2v/vQerF.rDxN620"
    sealed = seal({"cmd": "power_off", "token": "x"}, "k")
    assert unseal(sealed, "k") == {"cmd": "power_off", "token": "x"}
    with pytest.raises(ValueError):
        unseal(sealed, "other-key")


def test_whatsminer_sealing_matches_pyasic():
    """A command sealed by pyasic 0.79's create_privileged_cmd (run once, in its
    own venv: password "admin", salt "BQ5hoXV9", token "SIGN") opens with our
    key, so both speak the same write API."""
    from opsconsole.collectors.minerapi.whatsminer_crypto import session_keys

    key, _sign = session_keys("admin", "BQ5hoXV9", "x", "0")
    assert key == "RxmaDUO33TS7O26yeMHZ81"
    vector = ("YJracrWpLn2XvqWuNiNqyg70K64pfivIJhwE32DXNCeyv4iYIDyJ6mJuwbGpytIyYzNtn0Lr8NqSdnpi"
              "neXdXg==")
    assert unseal(vector, key) == {"cmd": "power_off", "respbefore": "true", "token": "SIGN"}


def test_avalon_real_ascset_replies():
    """The captured Avalon Q answers to ascset softoff/softon (tests/data):
    softoff is accepted and the miner reads back idle; softon is accepted but
    this replayed miner stays idle, so wake fails on read-back."""
    from tests.minerapi.support import captures, serve

    async def main(state: str, reply: str):
        replies = captures("avalon")
        replies["ascset"] = replies[reply]
        srv = await serve(replies)
        try:
            dev = Device(id="q", kind="miner", group="g", host="127.0.0.1", port=srv.port,
                         api="cgminer", firmware="auto")
            return await set_power(MinerApi(), dev, None, state, 2.5)
        finally:
            await srv.stop()

    ok, msg = asyncio.run(main("sleep", "ascset_softoff"))
    assert ok and "ascset softoff accepted" in msg and "state sleeping" in msg, msg
    ok, msg = asyncio.run(main("wake", "ascset_softon"))
    assert not ok and "ascset softon accepted" in msg and "still reads state sleeping" in msg
