"""Site-file keys for miners read over their own API (the `api`/`firmware`
device keys, `[credentials.X] user` + `password_env`; the `miner-power` step
is in core/duty/steps.py). siteload calls these; they report problems through its Problems, in
its one-line `file: key.path: problem` form, with did-you-mean hints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsconsole.core.address import want_address
from opsconsole.core.profileload import (
    check_keys,
    join,
    want_choice,
    want_int,
    want_number,
    want_str,
)
from opsconsole.core.site import Credentials, Device

if TYPE_CHECKING:  # siteload imports this module: no cycle at run time
    from opsconsole.core.siteload import _SiteLoader

API_KINDS = ("cgminer",)
# the firmware families collectors/minerapi/families.py parses (FAMILY has one each)
FAMILIES = ("antminer", "braiins", "whatsminer", "avalon", "luxos", "vnish")
FIRMWARES = ("auto", *FAMILIES)
DEFAULT_API_PORT = 4028
API_DEVICE_KEYS = ("api", "firmware", "web_port")
API_CRED_KEYS = ("user", "password", "password_env")
API_VERSION = "api"  # Credentials.version of a miner login (not SNMP)
# SNMP credential keys: their presence means an SNMP credential, not a miner login
_SNMP_MARKERS = ("version", "community", "community_env", "write_community",
                 "write_community_env", "auth_protocol", "auth_key", "auth_key_env",
                 "priv_protocol", "priv_key", "priv_key_env")
# Firmware whose sleep/wake needs a login (Avalon's ascset and Braiins' pause do not)
NEEDS_LOGIN = ("whatsminer", "antminer", "vnish", "luxos")


def is_api_credential(t: dict[str, Any]) -> bool:
    return not any(k in t for k in _SNMP_MARKERS)


def credential(ld: _SiteLoader, cid: str, t: dict[str, Any], path: str) -> Credentials | None:
    """`[credentials.X] user = "root"`, `password_env = "VAR"` (or `password`)."""
    check_keys(t, API_CRED_KEYS, path, ld.p)
    user = want_str(t, "user", path, ld.p)
    password = ld._secret(t, "password", path, needed=True, min_len=1)
    return Credentials(id=cid, version=API_VERSION, user=user, password=password)


def device_fields(ld: _SiteLoader, t: dict[str, Any], path: str, kind: str) -> dict[str, Any]:
    """The fields of a miner with `api = "cgminer"` (address port 4028 by default)."""
    out: dict[str, Any] = {}
    if kind != "miner":
        ld.p.add(join(path, "api"), f"only miners speak a miner API, not {kind} devices")
    out["api"] = want_choice(t, "api", API_KINDS, path, ld.p, required=True, what="api")
    firmware = want_choice(t, "firmware", FIRMWARES, path, ld.p, what="firmware")
    out["firmware"] = firmware or "auto"
    if "profile" in t:
        ld.p.add(join(path, "profile"), "not used by api miners (their firmware says what it "
                                        "reports): drop profile, or drop api to use SNMP")
    if "retries" in t:
        ld.p.add(join(path, "retries"), "not used by api miners (one request per poll)")
    parsed = want_address(t, path, ld.p, default_port=DEFAULT_API_PORT)
    if parsed is not None:
        out["host"], out["port"] = parsed
    out["web_port"] = want_int(t, "web_port", path, ld.p, lo=1, hi=65535)
    out["credentials"] = want_str(t, "credentials", path, ld.p)
    out["timeout_s"] = want_number(t, "timeout_s", path, ld.p, lo=0, hi=60, lo_open=True)
    want_int(t, "retries", path, ld.p, lo=0, hi=10)
    return out


def check_cred_kind(ld: _SiteLoader, dev: Device, path: str,
                    creds: dict[str, Credentials]) -> None:
    """An api miner needs a miner login; an SNMP device an SNMP credential."""
    cred = creds.get(dev.credentials or "")
    if cred is None:
        return
    is_login = cred.version == API_VERSION
    if dev.api is not None and not is_login:
        ld.p.add(join(path, "credentials"),
                 f'credentials "{cred.id}" are SNMP credentials: an api miner needs '
                 "user and password_env")
    elif dev.api is None and is_login:
        ld.p.add(join(path, "credentials"),
                 f'credentials "{cred.id}" are a miner login (user/password): '
                 "SNMP devices need version and a community or v3 keys")
