"""The miners' vendor HTTP endpoints that sleep/wake needs (stock Antminer
CGI with HTTP digest, VNish's REST API), through the standard library's
urllib in a worker thread: a few requests per duty switch, no new
dependency. Errors are one line and never hold the password."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

DEFAULT_WEB_PORT = 80
MAX_BODY = 256 * 1024


class WebError(Exception):
    pass


def _opener(url: str, user: str | None, password: str | None) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = []
    if user is not None and password is not None:
        mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        mgr.add_password(None, url, user, password)  # this URL, any realm
        handlers.append(urllib.request.HTTPDigestAuthHandler(mgr))
    return urllib.request.build_opener(*handlers)


def _call(url: str, method: str, body: Any, headers: dict[str, str], timeout: float,
          user: str | None, password: str | None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **headers})
    try:
        with _opener(url, user, password).open(req, timeout=timeout) as resp:
            raw = resp.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        why = {401: "login refused (check user/password_env)", 403: "forbidden (wrong password?)",
               404: "not found (this firmware has no such endpoint)"}.get(exc.code, "")
        raise WebError(f"HTTP {exc.code}{': ' + why if why else ''}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise WebError(getattr(reason, "strerror", None) or str(reason)) from None
    except (OSError, ValueError) as exc:
        raise WebError(type(exc).__name__) from None
    if len(raw) > MAX_BODY:
        raise WebError("reply too large")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise WebError("reply is not JSON") from None


async def call(host: str, port: int, path: str, *, method: str = "GET", body: Any = None,
               headers: dict[str, str] | None = None, timeout_s: float = 10.0,
               user: str | None = None, password: str | None = None) -> Any:
    """One HTTP request -> the decoded JSON reply (None when empty)."""
    h = f"[{host}]" if ":" in host else host
    url = f"http://{h}:{port}{path}"
    return await asyncio.to_thread(_call, url, method, body, headers or {}, timeout_s,
                                   user, password)
