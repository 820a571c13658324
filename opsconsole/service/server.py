"""`opsconsole serve`: the site engine and its API on one asyncio loop.

Listening rules (docs/api.md, "Authentication and roles"): default
127.0.0.1:8470; a non-loopback address needs TLS (`--tls-cert` and
`--tls-key`) or `--insecure-http`, which logs a warning at every start.
Stops cleanly on SIGTERM / SIGINT (systemd); a switch still running then is
left `interrupted` in the journal for any operator to resume or roll back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from opsconsole.core.site import Site
from opsconsole.service import DEFAULT_LISTEN
from opsconsole.service.guard import GuardedSite
from opsconsole.service.tokens import TokenBook

log = logging.getLogger("opsconsole.service")

EXIT_OK, EXIT_USAGE = 0, 2


class ServeError(Exception):
    """Bad listen options or TLS files: one line, exit 2."""


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_listen(text: str) -> Listen:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ServeError(f'--listen "{text}": use HOST:PORT, e.g. {DEFAULT_LISTEN}')
    host = host.strip("[]")
    try:
        n = int(port)
    except ValueError:
        n = -1
    if not 0 <= n <= 65535:
        raise ServeError(f'--listen "{text}": port must be 0-65535')
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ServeError(f'--listen "{text}": the host must be an IP address '
                             "(binding is explicit, never a name)") from None
    return Listen(host, n)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ServeError("--tls-cert and --tls-key go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(f"{cert} / {key}: cannot load the TLS certificate and key "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    return ctx


def check_listen(listen: Listen, tls: ssl.SSLContext | None, insecure_http: bool) -> None:
    if not listen.loopback and tls is None and not insecure_http:
        raise ServeError(f"refusing to serve plain HTTP on {listen.host} (not loopback): "
                         "give --tls-cert PEM --tls-key PEM, or --insecure-http on a "
                         "network you trust")


async def start_demo(demo: Any, data_dir: Path) -> Site:
    """`serve --demo`: the simulated site's agents on this loop, its site file beside the data."""
    from opsconsole.core.siteload import load_site

    await demo.start()
    data_dir.mkdir(parents=True, exist_ok=True)
    return load_site(demo.write_config(data_dir.parent / "demo-site.toml"))


async def serve(site: Site | None, data_dir: Path, listen: Listen,
                tls: ssl.SSLContext | None, *, read_only: bool = False,
                ready: asyncio.Event | None = None, stop: asyncio.Event | None = None,
                session_token: str | None = None, demo: Any = None,
                simulated_nvml: Any = None) -> None:
    """`session_token`: the embedded mode (service/embedded.py): that token is
    the OS user's operator token, the URL goes to stdout as one JSON line, a
    discovery file is written and the end of stdin stops the service.
    `demo`: an unstarted SimSite to serve instead of `site`; `simulated_nvml`:
    the simulated GPUs for `nvml = "simulated"` (both from the cli: no sim here)."""
    from opsconsole.core.duty.journal import os_user
    from opsconsole.service import embedded
    from opsconsole.service.api import RUNS, build_app
    from opsconsole.service.engine import SiteEngine

    if demo is not None:
        site = await start_demo(demo, data_dir)
    assert site is not None
    engine = SiteEngine(site, data_dir, read_only=read_only, simulated_nvml=simulated_nvml)
    await engine.start()
    tokens = TokenBook(data_dir)
    if session_token is not None:
        tokens.add_session_token(session_token, os_user(), "operator")
    app = build_app(engine, tokens)
    discovery: Path | None = None
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        tcp = GuardedSite(runner, listen.host, listen.port, ssl_context=tls)
        try:
            await tcp.start()
        except OSError as exc:
            raise ServeError(f"cannot listen on {listen.host}:{listen.port}: "
                             f"{exc.strerror or exc}") from None
        port = tcp.port
        host = f"[{listen.host}]" if ":" in listen.host else listen.host
        url = f"{'https' if tls else 'http'}://{host}:{port}"
        print(f"opsconsole serve: site {site.name!r} on {url} (data {data_dir})",
              file=sys.stderr, flush=True)
        log.info("serving %s on %s", site.name, url)
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        if session_token is not None:
            try:
                discovery = embedded.write_discovery(data_dir, url, session_token, site.name)
            except (OSError, embedded.EmbeddedError) as exc:
                log.warning("no discovery file: %s", getattr(exc, "strerror", None) or exc)
            print(json.dumps({"url": url, "pid": os.getpid()}), flush=True)  # to the GUI
            ended = stop  # the parent GUI is gone: stop as on SIGTERM, once no window is left

            async def outlive() -> None:
                await embedded.outlive_parent(lambda: len(engine.hub.subscribers), data_dir)
                ended.set()

            def parent_gone() -> None:
                loop.call_soon_threadsafe(lambda: background.add(loop.create_task(outlive())))

            background: set[asyncio.Task] = set()
            embedded.watch_stdin(parent_gone)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping")
    finally:
        for task in list(app.get(RUNS, ())):
            task.cancel()  # the journal marks those switches interrupted
        await runner.cleanup()
        await engine.stop()
        if discovery is not None:
            embedded.remove_discovery(discovery)
        if demo is not None:
            await demo.stop()


def run(site: Site | None, data_dir: Path, listen_text: str, cert: Path | None,
        key: Path | None, insecure_http: bool, read_only: bool = False,
        session_token: str | None = None, demo: Any = None,
        simulated_nvml: Any = None) -> int:
    try:
        listen = parse_listen(listen_text)
        tls = tls_context(cert, key)
        check_listen(listen, tls, insecure_http)
    except ServeError as exc:
        print(f"opsconsole serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if insecure_http:
        log.warning("--insecure-http: tokens and data travel unencrypted%s",
                    "" if tls else f" on {listen.host}:{listen.port}")
    try:
        asyncio.run(serve(site, data_dir, listen, tls, read_only=read_only,
                          session_token=session_token, demo=demo,
                          simulated_nvml=simulated_nvml))
    except ServeError as exc:
        print(f"opsconsole serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        pass
    return EXIT_OK
