"""Who may do what: bearer tokens, roles and the rate limit on failures.

Every path under /api/ needs `Authorization: Bearer TOKEN` (401 without a
valid one) and the role its handler declares (403 below it): viewer reads,
operator switches duty and acknowledges alarms, admin also manages tokens.
Repeated wrong tokens from one address (FAIL_LIMIT within FAIL_WINDOW_S)
get 429 until the window has passed; a request without a token is 401 and
not counted. Nothing here ever writes a presented token anywhere.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from opsconsole.service.tokens import Identity, TokenBook, TokenError

FAIL_LIMIT = 10  # failed authentications per address ...
FAIL_WINDOW_S = 60.0  # ... within this window, then 429
MAX_TRACKED = 10_000  # addresses remembered (oldest dropped first)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def needs(role: str) -> Callable[[Handler], Handler]:
    """Declare the least role a handler needs (the middleware enforces it)."""
    def mark(fn: Handler) -> Handler:
        fn.role = role  # type: ignore[attr-defined]
        return fn
    return mark


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class FailLimiter:
    def __init__(self, limit: int = FAIL_LIMIT, window_s: float = FAIL_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, addr: str, now: float) -> deque[float] | None:
        q = self._fails.get(addr)
        if q is None:
            return None
        while q and now - q[0] > self.window_s:
            q.popleft()
        if not q:
            del self._fails[addr]
            return None
        return q

    def blocked_for(self, addr: str, now: float | None = None) -> float:
        """Seconds this address must wait (0: not blocked)."""
        now = time.monotonic() if now is None else now
        q = self._recent(addr, now)
        if q is None or len(q) < self.limit:
            return 0.0
        return max(1.0, self.window_s - (now - q[0]))

    def failed(self, addr: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if addr not in self._fails and len(self._fails) >= MAX_TRACKED:
            self._fails.pop(next(iter(self._fails)))
        self._fails.setdefault(addr, deque()).append(now)


def bearer(request: web.Request) -> str:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def auth_middleware(tokens: TokenBook, limiter: FailLimiter) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        addr = request.remote or "unknown"
        wait = limiter.blocked_for(addr)
        if wait:
            return web.json_response(
                {"error": "too many failed authentications from this address; try later"},
                status=429, headers={"Retry-After": str(int(wait + 0.999))})
        presented = bearer(request)
        try:
            ident = tokens.check(presented)
        except TokenError as exc:  # the file is broken: the operator must see why
            return error(500, str(exc))
        if ident is None:
            if presented:  # a wrong guess counts; asking without a token guesses nothing
                limiter.failed(addr)
            return web.json_response({"error": "a valid token is required"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        request["identity"] = ident
        if request.match_info.http_exception is not None:  # 404 / 405: say so
            return await handler(request)
        role = getattr(getattr(request.match_info, "handler", None), "role", "admin")
        if not ident.may(role):
            forbidden = getattr(request.match_info.handler, "on_forbidden", None)
            if forbidden is not None:
                await forbidden(request, ident)
            return error(403, f"role {ident.role} may not do this (needs {role})")
        return await handler(request)

    return middleware


def identity(request: web.Request) -> Identity:
    return request["identity"]
