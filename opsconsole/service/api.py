"""The site service's HTTP API (aiohttp): versioned JSON endpoints under
/api/v1/, the push stream (WebSocket), /metrics and /healthz. Every endpoint
is listed in docs/api.md.

Limits that keep the service up whatever a client sends: a body larger than
MAX_BODY is 413 (aiohttp's client_max_size), a body that does not arrive
within BODY_TIMEOUT_S is 408, malformed JSON is 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Any

from aiohttp import WSMsgType, web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from opsconsole import __version__
from opsconsole.core.duty import DutyError, ProgressEvent
from opsconsole.core.duty.desk import KINDS, Actor, DeskError, Outcome
from opsconsole.core.duty.model import SWITCH, Plan
from opsconsole.core.history.lookup import history_output
from opsconsole.core.site import DUTIES
from opsconsole.core.storage import SWITCHING as SWITCHING_AREA
from opsconsole.core.wire import site_to_doc
from opsconsole.service.auth import FailLimiter, auth_middleware, error, identity, needs
from opsconsole.service.engine import SiteEngine, alarm_dict
from opsconsole.service.hub import RESYNC
from opsconsole.service.tokens import ROLES, TokenBook, TokenError

log = logging.getLogger(__name__)

API = "/api/v1"
MAX_BODY = 64 * 1024  # no request of this API needs more
BODY_TIMEOUT_S = 10.0
KEEPALIVE_S = 15.0  # a duty run's NDJSON answer carries a line at least this often
SEND_TIMEOUT_S = 60.0  # a stream client that takes no data this long is dropped
# Kernel send buffer of a stream connection: fixed, so a client that stops reading
# holds at most this much there (loopback autotuning would grant megabytes) before
# its bounded queue takes over. 256 KiB still moves a 5 MB snapshot at 5 MB/s over 50 ms.
STREAM_SNDBUF = 256 * 1024
ENGINE = web.AppKey("engine", SiteEngine)
TOKENS = web.AppKey("tokens", TokenBook)
RUNS = web.AppKey("runs", set)
REGISTRY = web.AppKey("registry", CollectorRegistry)


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object: 400 malformed, 408 too slow, 413 too big."""
    if not request.can_read_body:
        return {}
    try:
        raw = await asyncio.wait_for(request.read(), BODY_TIMEOUT_S)
    except TimeoutError:
        raise BadRequest(408, f"request body not received within {BODY_TIMEOUT_S:g} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise BadRequest(413, f"request body larger than {MAX_BODY} bytes") from None
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(400, "request body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadRequest(400, "request body must be a JSON object")
    return doc


def text_field(doc: dict[str, Any], key: str, required: bool = True,
               choices: tuple[str, ...] | None = None, max_len: int = 200) -> str | None:
    v = doc.get(key)
    if v is None:
        if required:
            raise BadRequest(400, f'"{key}" is required')
        return None
    if not isinstance(v, str) or len(v) > max_len:
        raise BadRequest(400, f'"{key}" must be a string of at most {max_len} characters')
    if choices is not None and v not in choices:
        raise BadRequest(400, f'"{key}" must be one of {", ".join(choices)}')
    return v


def int_param(request: web.Request, key: str, lo: int, hi: int) -> int | None:
    v = request.query.get(key)
    if v is None:
        return None
    try:
        n = int(v)
    except ValueError:
        raise BadRequest(400, f"{key} must be an integer") from None
    if not lo <= n <= hi:
        raise BadRequest(400, f"{key} must be between {lo} and {hi}")
    return n


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return error(exc.status, str(exc))
    except DeskError as exc:
        return error(409 if exc.exit_code == 4 else 404, str(exc), exit_code=exc.exit_code)
    except DutyError as exc:
        return error(400, str(exc), exit_code=2)


def actor(request: web.Request) -> Actor:
    """The audit's user and host: the token's user, the client's address."""
    return Actor(identity(request).user, request.remote or "unknown")


def switching_on(engine: SiteEngine) -> None:
    """503 naming the fault when the journal could not be opened (the service
    runs on without duty switching, engine.py)."""
    if engine.ctl is None or engine.desk is None:
        why = "; ".join(f"{f['path']}: {f['problem']}" for f in engine.faults()
                        if f["area"] == SWITCHING_AREA) or "the journal cannot be used"
        raise BadRequest(503, f"duty switching is off: {why}")


def plan_doc(engine: SiteEngine, plan: Plan) -> dict[str, Any]:
    assert engine.desk is not None and engine.ctl is not None
    return {"plan": plan.public(), "summary": plan.summary_lines(),
            "refusals": list(plan.refusals), "read_only": engine.ctl.read_only,
            "needs_approval": engine.desk.approval_reason(plan)}


# -- reading ------------------------------------------------------------------------

@needs("viewer")
async def whoami(request: web.Request) -> web.Response:
    ident = identity(request)
    return web.json_response({"user": ident.user, "role": ident.role,
                              "site": request.app[ENGINE].site.name, "version": __version__})


@needs("viewer")
async def site_info(request: web.Request) -> web.Response:
    site = request.app[ENGINE].site
    return web.json_response({
        "name": site.name, "poll_interval_s": site.poll_interval_s,
        "power_budget_kw": site.power_budget_kw, "approval_kw": site.approval_kw,
        "approval_ttl_s": site.approval_ttl_s, "read_only": request.app[ENGINE].read_only,
        "groups": [{"id": g.id, "name": g.name, "duty": g.duty,
                    "expected_kw": dict(g.expected_kw), "duties": sorted(g.duties),
                    "devices": [{"id": d.id, "kind": d.kind, "address": d.address,
                                 "profile": d.profile, "rack": d.rack,
                                 "position": d.position} for d in g.devices]}
                   for g in site.groups]})


@needs("viewer")
async def site_model(request: web.Request) -> web.Response:
    """The whole site for a client's replica (core.wire), without secrets."""
    return web.json_response(site_to_doc(request.app[ENGINE].site))


@needs("viewer")
async def snapshot(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    await engine.wait_first_pass()
    return web.json_response(await engine.snapshot())


@needs("viewer")
async def groups(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    await engine.wait_first_pass()
    return web.json_response({"groups": (await engine.snapshot())["groups"]})


@needs("viewer")
async def duty_status(request: web.Request) -> web.Response:
    return web.json_response({"groups": await request.app[ENGINE].group_states()})


@needs("viewer")
async def audit(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    switching_on(engine)
    assert engine.ctl is not None
    group = request.query.get("group")
    limit = int_param(request, "limit", 1, 10**9)
    records = await asyncio.to_thread(engine.ctl.audit, group, limit)
    return web.json_response({"site": engine.site.name, "records": records})


@needs("viewer")
async def history(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    q = request.query
    if not q.get("target") or not q.get("metric"):
        raise BadRequest(400, "target and metric are required")
    try:
        doc, csv_text = await asyncio.to_thread(
            history_output, engine.site, engine.data_dir, q["target"], q["metric"],
            q.get("since", "24h"), q.get("until"), time.time())
    except ValueError as exc:
        return error(400, str(exc), exit_code=2)
    return web.json_response({"doc": doc, "csv": csv_text})


@needs("viewer")
async def alarms(request: web.Request) -> web.Response:
    return web.json_response({"alarms": request.app[ENGINE].alarms()})


@needs("viewer")
async def alarm_log(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    limit = int_param(request, "limit", 1, 100_000) or 1000
    since = request.query.get("since")
    try:
        since_ts = float(since) if since is not None else None
    except ValueError:
        raise BadRequest(400, "since must be a Unix time in seconds") from None
    log_ = engine.state.alarm_log
    entries = await asyncio.to_thread(log_.entries, since_ts, limit) if log_ else []
    return web.json_response({"entries": entries})


@needs("viewer")
async def events(request: web.Request) -> web.Response:
    limit = int_param(request, "limit", 1, 1000) or 100
    return web.json_response({"events": list(request.app[ENGINE].events)[-limit:]})


@needs("operator")
async def acknowledge(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    doc = await body(request)
    subject = text_field(doc, "subject")
    key = text_field(doc, "key")
    comment = text_field(doc, "comment", required=False, max_len=2000) or ""
    assert subject is not None and key is not None
    alarm, evs = engine.state.acknowledge(subject, key, identity(request).user, comment)
    if alarm is None:
        return error(404, f"no active alarm {key} on {subject}")
    engine.alarm_events(evs)
    return web.json_response({"alarm": alarm_dict(alarm, engine.state.alarm_log)})


# -- duty ---------------------------------------------------------------------------

async def _plan_from(engine: SiteEngine, doc: dict[str, Any]) -> Plan:
    switching_on(engine)
    assert engine.desk is not None
    kind = text_field(doc, "kind", required=False, choices=KINDS) or SWITCH
    group = text_field(doc, "group")
    duty = text_field(doc, "duty", required=kind == SWITCH, choices=DUTIES)
    assert group is not None
    return await engine.desk.plan(kind, group, duty)


@needs("operator")
async def duty_plan(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return web.json_response(plan_doc(engine, await _plan_from(engine, await body(request))))


async def _audit_forbidden(request: web.Request, ident: Any) -> None:
    """A viewer's switch is refused and, like every refusal, audited."""
    engine = request.app[ENGINE]
    with contextlib.suppress(BadRequest, DutyError, DeskError):
        plan = await _plan_from(engine, await body(request))
        switching_on(engine)
        assert engine.desk is not None
        await engine.desk.run(plan, Actor(ident.user, request.remote or "unknown"),
                              refuse=f"role {ident.role} may not switch duty")


async def _stream_outcome(request: web.Request, head: dict[str, Any],
                          work: Callable[[Callable[[ProgressEvent], None]],
                                         Coroutine[Any, Any, Outcome]]) -> web.StreamResponse:
    """NDJSON: the plan, then one line per progress event, then the outcome.
    The switch runs to its end even if the client goes away."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(work(lambda ev: queue.put_nowait(asdict(ev))))
    request.app[RUNS].add(task)
    task.add_done_callback(request.app[RUNS].discard)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)

    async def send(doc: dict[str, Any]) -> None:
        await resp.write((json.dumps(doc) + "\n").encode())

    try:
        await send({"type": "plan", **head})
        while not (task.done() and queue.empty()):
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, timeout=KEEPALIVE_S,
                               return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                await send({"type": "progress", "event": getter.result()})
                continue
            getter.cancel()
            if not task.done():  # a long step (command, wait-metric): say we are alive
                await send({"type": "keepalive"})
        try:
            out = task.result()
            await send({"type": "outcome", **out.public()})
        except DeskError as exc:
            await send({"type": "error", "error": str(exc), "exit_code": exc.exit_code})
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client left; the task goes on
    return resp


@needs("operator")
async def duty_run(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    switching_on(engine)
    assert engine.desk is not None
    doc = await body(request)
    refuse = text_field(doc, "refuse", required=False, max_len=500)
    plan = await _plan_from(engine, doc)
    who = actor(request)
    return await _stream_outcome(request, plan_doc(engine, plan),
                                 lambda cb: engine.desk.run(plan, who, cb, refuse))  # type: ignore[union-attr]


duty_run.on_forbidden = _audit_forbidden  # type: ignore[attr-defined]


@needs("operator")
async def duty_cancel(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    switching_on(engine)
    assert engine.ctl is not None
    group = text_field(await body(request), "group")
    assert group is not None
    engine.ctl.group(group)
    return web.json_response({"cancelled": engine.ctl.cancel(group)})


@needs("viewer")
async def requests_list(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    if engine.desk is None:  # switching is off (a storage fault): nothing can be pending
        return web.json_response({"requests": []})
    return web.json_response({"requests": await engine.desk.requests()})


def _rid(request: web.Request) -> int:
    try:
        return int(request.match_info["rid"])
    except ValueError:
        raise BadRequest(400, "a request id is a number") from None


@needs("operator")
async def request_plan(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    switching_on(engine)
    assert engine.desk is not None
    req, plan = await engine.desk.plan_approval(_rid(request), actor(request))
    return web.json_response({"request": req, **plan_doc(engine, plan)})


@needs("operator")
async def request_approve(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    switching_on(engine)
    desk = engine.desk
    assert desk is not None
    doc = await body(request)
    refuse = text_field(doc, "refuse", required=False, max_len=500)
    rid, who = _rid(request), actor(request)
    req, plan = await desk.plan_approval(rid, who)
    return await _stream_outcome(request, {"request": req, **plan_doc(engine, plan)},
                                 lambda cb: desk.approve(rid, plan, who, cb, refuse))


@needs("operator")
async def request_reject(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    switching_on(engine)
    assert engine.desk is not None
    comment = text_field(await body(request), "comment", required=False, max_len=2000) or ""
    out = await engine.desk.reject(_rid(request), actor(request), comment)
    return web.json_response(out.public())


# -- tokens (admin) -----------------------------------------------------------------------

@needs("admin")
async def tokens_list(request: web.Request) -> web.Response:
    return web.json_response({"tokens": request.app[TOKENS].list()})


@needs("admin")
async def tokens_create(request: web.Request) -> web.Response:
    doc = await body(request)
    name = text_field(doc, "name", max_len=64)
    role = text_field(doc, "role", choices=ROLES)
    assert name is not None and role is not None
    try:
        token = request.app[TOKENS].create(name, role)
    except TokenError as exc:
        return error(400, str(exc))
    return web.json_response({"name": name, "role": role, "token": token})


@needs("admin")
async def tokens_revoke(request: web.Request) -> web.Response:
    try:
        request.app[TOKENS].revoke(request.match_info["name"])
    except TokenError as exc:
        return error(404, str(exc))
    return web.json_response({"revoked": request.match_info["name"]})


# -- the push stream ----------------------------------------------------------------------

@needs("viewer")
async def stream(request: web.Request) -> web.WebSocketResponse:
    """WebSocket: a snapshot first, then deltas; a fresh snapshot after an overflow."""
    engine = request.app[ENGINE]
    ident = identity(request)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF)
    await ws.prepare(request)
    sub = engine.hub.subscribe(ident.user, request.remote or "unknown")

    async def writer() -> None:
        await engine.wait_first_pass()
        await ws.send_str(json.dumps(await engine.stream_snapshot(ident.user, ident.role)))
        while True:
            text = await sub.queue.get()
            if text == RESYNC:
                text = json.dumps(await engine.stream_snapshot(ident.user, ident.role))
            await asyncio.wait_for(ws.send_str(text), SEND_TIMEOUT_S)
            sub.sent += 1

    task = asyncio.create_task(writer())
    try:
        async for msg in ws:  # clients send nothing but pings and the close
            if msg.type == WSMsgType.ERROR:
                break
            if task.done():
                break
    finally:
        engine.hub.unsubscribe(sub)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await ws.close()
    return ws


# -- outside /api -----------------------------------------------------------------------

async def metrics(request: web.Request) -> web.Response:
    body_ = generate_latest(request.app[REGISTRY])
    return web.Response(body=body_, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return web.json_response({"ok": True, "site": engine.site.name,
                              "polled": engine.first_pass.is_set(), "cycles": engine.cycles,
                              "batches": engine.batches,
                              "stream": {"clients": len(engine.hub.subscribers),
                                         "queue": engine.hub.queue_size,
                                         "overflows": engine.hub.overflows}})


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/healthz", healthz),
    ("GET", "/metrics", metrics),
    ("GET", API + "/whoami", whoami),
    ("GET", API + "/site", site_info),
    ("GET", API + "/site/model", site_model),
    ("GET", API + "/snapshot", snapshot),
    ("GET", API + "/groups", groups),
    ("GET", API + "/duty/status", duty_status),
    ("POST", API + "/duty/plan", duty_plan),
    ("POST", API + "/duty/run", duty_run),
    ("POST", API + "/duty/cancel", duty_cancel),
    ("GET", API + "/duty/requests", requests_list),
    ("POST", API + "/duty/requests/{rid}/plan", request_plan),
    ("POST", API + "/duty/requests/{rid}/approve", request_approve),
    ("POST", API + "/duty/requests/{rid}/reject", request_reject),
    ("GET", API + "/audit", audit),
    ("GET", API + "/history", history),
    ("GET", API + "/alarms", alarms),
    ("POST", API + "/alarms/acknowledge", acknowledge),
    ("GET", API + "/alarms/log", alarm_log),
    ("GET", API + "/events", events),
    ("GET", API + "/stream", stream),
    ("GET", API + "/tokens", tokens_list),
    ("POST", API + "/tokens", tokens_create),
    ("DELETE", API + "/tokens/{name}", tokens_revoke),
]


def build_app(engine: SiteEngine, tokens: TokenBook,
              limiter: FailLimiter | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[errors_middleware,
                                       auth_middleware(tokens, limiter or FailLimiter())])
    app[ENGINE] = engine
    app[TOKENS] = tokens
    app[RUNS] = set()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(engine.collector)
    app[REGISTRY] = registry
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    return app
