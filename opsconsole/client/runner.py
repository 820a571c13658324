"""The client on its own thread: one asyncio loop that keeps the push
stream open (reconnecting with back-off when the service goes away) and runs
requests submitted from other threads. Callbacks run ON THE RUNNER'S THREAD:
a GUI hands them over to its own thread (ui/ does that; nothing here knows Qt).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from opsconsole.client.api import ApiError, SiteClient

log = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


class ClientRunner:
    """`on_message(msg)`: every push-stream message (a "snapshot" first after
    each (re)connection). `on_state(connected, since)`: the link came up or
    went down, with the time (Unix) it did; a down link is retried forever,
    except on 401/403 (a bad or revoked token), reported with `error`."""

    def __init__(self, url: str, token: str, on_message: Callable[[dict[str, Any]], None],
                 on_state: Callable[[bool, float], None] | None = None,
                 ca_file: Path | None = None) -> None:
        self.client = SiteClient(url, token, ca_file=ca_file)
        self.client.gentle = True  # its own thread, beside a GUI: big documents in steps
        self.on_message = on_message
        self.on_state = on_state
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connected = False
        self.since = time.time()  # when `connected` last changed
        self.error: ApiError | None = None  # why it stopped trying (401 / 403)
        self.connects = 0
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="site-client", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        self._task = loop.create_task(self._keep_streaming())
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(self._task)
        try:  # calls submitted by the window and still in flight end here, not at exit
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(self.client.close())
        finally:
            loop.close()

    def _set(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected, self.since = connected, time.time()
            if self.on_state is not None:
                self.on_state(connected, self.since)

    async def _keep_streaming(self) -> None:
        failures = 0
        while True:
            try:
                async for msg in self.client.stream(on_open=lambda: self._set(True)):
                    failures = 0
                    if msg.get("type") == "snapshot":
                        self.connects += 1
                    self.on_message(msg)
            except ApiError as exc:
                if exc.status in (401, 403):
                    self.error = exc
                    self._set(False)
                    return
                log.debug("push stream: %s", exc)
            except Exception:  # a broken callback must not end the stream
                log.exception("push stream consumer failed")
            self._set(False)
            await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
            failures += 1

    def submit(self, fn: Callable[[SiteClient], Awaitable[T]]) -> Future[T]:
        """Run `fn(client)` on the runner's loop; never blocks the caller."""
        if self.loop is None:
            raise RuntimeError("start() the runner first")
        return asyncio.run_coroutine_threadsafe(fn(self.client), self.loop)  # type: ignore[arg-type]

    def stop(self, timeout: float = 5.0) -> None:
        if self.loop is not None and self._task is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
