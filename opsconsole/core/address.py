"""Device addresses in a site file: `host`, `host:port`, `[v6]:port` or a
bare IPv6 literal. Used by the site loader and by the miner-API device keys."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from opsconsole.core.profileload import Problems, join, want_str
from opsconsole.core.site import DEFAULT_SNMP_PORT

_DNS_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def want_address(t: dict[str, Any], path: str, probs: Problems,
                 default_port: int = DEFAULT_SNMP_PORT) -> tuple[str, int] | None:
    """A device's required `address` key as (host, port), or None with the problem
    reported against `path.address`."""
    address = want_str(t, "address", path, probs, required=True)
    if address is None:
        return None
    parsed = parse_address(address, default_port)
    if isinstance(parsed, str):
        probs.add(join(path, "address"), parsed)
        return None
    return parsed


def parse_address(text: str, default_port: int = DEFAULT_SNMP_PORT) -> tuple[str, int] | str:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 literal -> (host, port),
    or a problem description. Without a port: `default_port`."""
    s = text.strip()
    if not s:
        return "must not be empty"
    port_text: str | None = None
    if s.startswith("["):
        host, sep, rest = s[1:].partition("]")
        if not sep:
            return f'"{text}": missing "]" after the IPv6 address'
        if rest and not rest.startswith(":"):
            return f'"{text}": expected ":PORT" after "]"'
        port_text = rest[1:] if rest else None
        if not _is_ipv6(host):
            return f'"{host}" is not a valid IPv6 address'
    elif s.count(":") > 1:
        if _is_ipv6(s):
            return s, default_port
        return f'"{text}" is not a valid IPv6 address (write "[ADDRESS]:PORT" to give a port)'
    else:
        host, sep, rest = s.partition(":")
        port_text = rest if sep else None
        problem = _host_problem(host)
        if problem:
            return problem
    if port_text is None:
        return host, default_port
    if not port_text.isdigit():
        return f'port "{port_text}" is not a number'
    port = int(port_text)
    if not 1 <= port <= 65535:
        return f"port {port} is out of range (must be 1..65535)"
    return host, port


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _host_problem(host: str) -> str | None:
    if not host:
        return "the host is empty"
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f'"{host}" is not a valid IPv4 address'
        return None
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253:
        return "the host name is longer than 253 characters"
    bad = [label for label in name.split(".") if not _DNS_LABEL.match(label)]
    if bad:
        return (
            f'"{host}" is not a valid host name (labels are 1-63 letters, digits or '
            "hyphens, not starting or ending with a hyphen) nor an IP address"
        )
    return None
