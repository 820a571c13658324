"""The site service's client (aiohttp): one method per endpoint of
docs/api.md, NDJSON for duty runs, and the push stream.

Async throughout; a caller on another thread (the GUI) runs it on its own
loop (see opsconsole.client.runner). Errors are `ApiError` with the HTTP
status, the service's one-line message and the CLI exit code it maps to; a
token never appears in one.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from opsconsole.client.gentle_json import loads_gently

API = "/api/v1"
TOKEN_ENV = "OPSCONSOLE_TOKEN"
EXIT_FAIL, EXIT_USAGE, EXIT_REFUSED = 1, 2, 4


class ApiError(Exception):
    """`str()` is one line for the operator; `exit_code` follows the CLI contract."""

    def __init__(self, message: str, status: int | None = None, exit_code: int = EXIT_FAIL):
        super().__init__(message)
        self.status = status
        self.exit_code = exit_code


def exit_code_for(status: int) -> int:
    if status in (403, 409, 429):
        return EXIT_REFUSED  # not allowed, not now
    if status in (400, 401, 404, 413):
        return EXIT_USAGE  # bad token, unknown group or request, bad input
    return EXIT_FAIL


def read_token(token_file: Path | None) -> str:
    """The token from `--token-file` (first line), else $OPSCONSOLE_TOKEN."""
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ApiError(f"{token_file}: cannot read the token file "
                           f"({exc.strerror or exc})", exit_code=EXIT_USAGE) from None
        token = text.splitlines()[0].strip() if text else ""
        if not token:
            raise ApiError(f"{token_file}: the token file is empty", exit_code=EXIT_USAGE)
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ApiError(f"a token is required: --token-file FILE or {TOKEN_ENV}",
                       exit_code=EXIT_USAGE)
    return token


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(f'--connect "{url}": use http://HOST:PORT or https://HOST:PORT',
                       exit_code=EXIT_USAGE)
    if parts.username or parts.password or parts.query:
        raise ApiError("--connect: no user, password or query in the URL (the token goes "
                       "in --token-file)", exit_code=EXIT_USAGE)
    return f"{parts.scheme}://{parts.netloc}"


def tls_context(ca_file: Path | None) -> ssl.SSLContext | None:
    """With `--ca-file`: trust that certificate (a site's own CA, or the
    service's self-signed certificate) and no other; else None, the default
    (the system's CAs, or the file named by SSL_CERT_FILE)."""
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ApiError(f"{ca_file}: not a readable PEM certificate for --ca-file ({why})",
                       exit_code=EXIT_USAGE) from None


class SiteClient:
    """`async with SiteClient(url, token) as c: doc = await c.snapshot()`;
    `ca_file`: the certificate to trust for an https:// URL (tls_context)."""

    def __init__(self, url: str, token: str, *, timeout_s: float = 60.0,
                 ca_file: Path | None = None) -> None:
        self.base = check_url(url)
        self._ssl = tls_context(ca_file)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        # a GUI's client thread (ClientRunner) decodes big documents in small
        # steps, so the GUI thread is never locked out of the GIL for long
        self.gentle = False

    def _loads(self, text: str | bytes) -> Any:
        return loads_gently(text) if self.gentle else json.loads(text)

    async def __aenter__(self) -> SiteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # no --ca-file: the default SSL context (system CAs, or SSL_CERT_FILE)
            connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None else None
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout,
                                                  connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- transport ----------------------------------------------------------------
    def _fail(self, exc: BaseException) -> ApiError:
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return ApiError(f"cannot reach the site service at {self.base}: its certificate "
                            f"is not trusted ({exc.certificate_error}); give the service's "
                            "certificate or its CA with --ca-file", exit_code=EXIT_FAIL)
        return ApiError(f"cannot reach the site service at {self.base}: "
                        f"{type(exc).__name__}: {exc}", exit_code=EXIT_FAIL)

    @staticmethod
    async def _error(resp: aiohttp.ClientResponse) -> ApiError:
        try:
            doc = await resp.json(content_type=None)
            text = doc.get("error") or resp.reason
            code = doc.get("exit_code")
        except (ValueError, aiohttp.ClientError, AttributeError):
            text, code = resp.reason, None
        return ApiError(str(text), resp.status,
                        int(code) if isinstance(code, int) else exit_code_for(resp.status))

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: dict[str, Any] | None = None) -> Any:
        params = {k: str(v) for k, v in (params or {}).items() if v is not None}
        try:
            async with self.session.request(method, self.base + path, params=params,
                                            json=body) as resp:
                if resp.status >= 400:
                    raise await self._error(resp)
                if self.gentle:
                    return loads_gently(await resp.read())
                return await resp.json()
        except aiohttp.ClientError as exc:
            raise self._fail(exc) from None

    async def lines(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """POST, then each NDJSON line of the answer as it arrives."""
        try:
            # a switch may run for minutes: the service sends a line at least every 15 s
            async with self.session.post(self.base + path, json=body,
                                         timeout=aiohttp.ClientTimeout(
                                             total=None, connect=10.0, sock_read=120.0)) as resp:
                if resp.status >= 400:
                    raise await self._error(resp)
                async for raw in resp.content:
                    if raw.strip():
                        yield json.loads(raw)
        except aiohttp.ClientError as exc:
            raise self._fail(exc) from None

    # -- reading --------------------------------------------------------------------
    async def whoami(self) -> dict[str, Any]:
        return await self.request("GET", API + "/whoami")

    async def site(self) -> dict[str, Any]:
        return await self.request("GET", API + "/site")

    async def site_model(self) -> dict[str, Any]:
        """The whole site without secrets (core.wire.site_from_doc makes it a Site)."""
        return await self.request("GET", API + "/site/model")

    async def snapshot(self) -> dict[str, Any]:
        """The `poll --once --format json` document of the service's latest readings."""
        return await self.request("GET", API + "/snapshot")

    async def groups(self) -> list[dict[str, Any]]:
        return (await self.request("GET", API + "/groups"))["groups"]

    async def duty_status(self) -> list[dict[str, Any]]:
        return (await self.request("GET", API + "/duty/status"))["groups"]

    async def audit(self, group: str | None = None, limit: int | None = None
                    ) -> dict[str, Any]:
        return await self.request("GET", API + "/audit", params={"group": group,
                                                                  "limit": limit})

    async def history(self, target: str, metric: str, since: str = "24h",
                      until: str | None = None) -> dict[str, Any]:
        """{"doc": the JSON output of `history`, "csv": its CSV output}."""
        return await self.request("GET", API + "/history", params={
            "target": target, "metric": metric, "since": since, "until": until})

    async def alarms(self) -> list[dict[str, Any]]:
        return (await self.request("GET", API + "/alarms"))["alarms"]

    async def alarm_log(self, since: float | None = None, limit: int | None = None
                        ) -> list[dict[str, Any]]:
        return (await self.request("GET", API + "/alarms/log",
                                   params={"since": since, "limit": limit}))["entries"]

    async def events(self, limit: int | None = None) -> list[dict[str, Any]]:
        return (await self.request("GET", API + "/events", params={"limit": limit}))["events"]

    # -- acting ---------------------------------------------------------------------
    async def acknowledge(self, subject: str, key: str, comment: str = "") -> dict[str, Any]:
        return (await self.request("POST", API + "/alarms/acknowledge",
                                   body={"subject": subject, "key": key,
                                         "comment": comment}))["alarm"]

    async def duty_plan(self, group: str, duty: str | None = None, kind: str = "switch"
                        ) -> dict[str, Any]:
        """{"plan", "summary" (lines), "refusals", "read_only", "needs_approval"}."""
        return await self.request("POST", API + "/duty/plan",
                                  body={"group": group, "duty": duty, "kind": kind})

    def duty_run(self, group: str, duty: str | None = None, kind: str = "switch",
                 refuse: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Lines {"type": "plan"|"progress"|"outcome"|"error", ...}; `refuse`:
        record a refusal (no confirmation) instead of running."""
        return self.lines(API + "/duty/run", {"group": group, "duty": duty, "kind": kind,
                                              "refuse": refuse})

    async def duty_cancel(self, group: str) -> bool:
        return (await self.request("POST", API + "/duty/cancel",
                                   body={"group": group}))["cancelled"]

    async def requests(self) -> list[dict[str, Any]]:
        return (await self.request("GET", API + "/duty/requests"))["requests"]

    async def request_plan(self, rid: int) -> dict[str, Any]:
        return await self.request("POST", f"{API}/duty/requests/{int(rid)}/plan")

    def approve(self, rid: int, refuse: str | None = None) -> AsyncIterator[dict[str, Any]]:
        return self.lines(f"{API}/duty/requests/{int(rid)}/approve", {"refuse": refuse})

    async def reject(self, rid: int, comment: str = "") -> dict[str, Any]:
        return await self.request("POST", f"{API}/duty/requests/{int(rid)}/reject",
                                  body={"comment": comment})

    # -- tokens (admin) -------------------------------------------------------------------
    async def tokens(self) -> list[dict[str, Any]]:
        return (await self.request("GET", API + "/tokens"))["tokens"]

    async def create_token(self, name: str, role: str) -> str:
        return (await self.request("POST", API + "/tokens",
                                   body={"name": name, "role": role}))["token"]

    async def revoke_token(self, name: str) -> None:
        await self.request("DELETE", f"{API}/tokens/{name}")

    # -- the push stream --------------------------------------------------------------------
    async def stream(self, on_open: Callable[[], None] | None = None
                     ) -> AsyncIterator[dict[str, Any]]:
        """Messages of the push stream until it closes: first a "snapshot",
        then "readings", "cycle", "events", "alarms", "duty", "groups",
        "request" (and a new "snapshot" after this client fell behind)."""
        try:
            async with self.session.ws_connect(self.base + API + "/stream", heartbeat=30.0,
                                               max_msg_size=0) as ws:
                if on_open is not None:
                    on_open()
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        yield self._loads(msg.data)
                    elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                        break
        except aiohttp.WSServerHandshakeError as exc:
            raise ApiError(f"push stream refused (HTTP {exc.status})", exc.status,
                           exit_code_for(exc.status)) from None
        except aiohttp.ClientError as exc:
            raise self._fail(exc) from None
