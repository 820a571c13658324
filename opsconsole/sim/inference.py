"""A simulated inference service for the demo's hybrid rack: a small HTTP
server on loopback with a /health endpoint. Duty steps drive it:

  python -m opsconsole.sim.inference start --port P   # spawn it detached, wait until it answers
  python -m opsconsole.sim.inference stop --port P    # ask it to exit (ok if it is not running)
  python -m opsconsole.sim.inference serve --port P   # the server itself, in the foreground

/health answers 503 while "loading the model" (--warmup seconds), then 200.
`start` and `stop` are idempotent, so a resumed or retried switch may run them again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"  # loopback only: this is a simulator


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet: no stderr noise
        pass

    def _send(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/health":
            ready = time.monotonic() >= self.server.ready_at
            self._send(200 if ready else 503, {"status": "ok" if ready else "loading"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path == "/shutdown":
            self._send(200, {"status": "stopping"})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        else:
            self._send(404, {"error": "not found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ready_at = 0.0


def serve(port: int, warmup_s: float) -> None:
    srv = _Server((HOST, port), _Handler)
    srv.ready_at = time.monotonic() + warmup_s
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()


def _status(port: int, path: str = "/health", method: str = "GET") -> int | None:
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=2.0) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None  # nothing listening


def health(port: int) -> int | None:
    """The service's /health status, or None when nothing listens."""
    return _status(port)


def start(port: int, warmup_s: float, wait_s: float) -> int:
    if _status(port) is not None:
        print(f"inference service already running on port {port}")
        return 0
    flags: dict[str, object] = {}
    if sys.platform == "win32":
        flags["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        flags["start_new_session"] = True  # outlives the step that started it
    subprocess.Popen(
        [sys.executable, "-m", "opsconsole.sim.inference", "serve", "--port", str(port),
         "--warmup", str(warmup_s)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        close_fds=True, **flags)  # type: ignore[call-overload]
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if _status(port) is not None:
            print(f"inference service started on port {port} (warming up {warmup_s:g} s)")
            return 0
        time.sleep(0.1)
    print(f"inference service did not come up on port {port} within {wait_s:g} s",
          file=sys.stderr)
    return 1


def shutdown(port: int) -> bool:
    """Ask a service on `port` to exit, quietly; whether one answered."""
    return _status(port, "/shutdown", "POST") is not None


def stop(port: int, wait_s: float) -> int:
    if _status(port, "/shutdown", "POST") is None:
        print(f"inference service not running on port {port}")
        return 0
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if _status(port) is None:
            print(f"inference service on port {port} stopped")
            return 0
        time.sleep(0.1)
    print(f"inference service on port {port} still answers after {wait_s:g} s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m opsconsole.sim.inference")
    p.add_argument("action", choices=("start", "stop", "serve"))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--warmup", type=float, default=1.0, help="seconds /health answers 503")
    p.add_argument("--wait", type=float, default=10.0, help="start/stop: seconds to wait")
    a = p.parse_args(argv)
    if a.action == "serve":
        serve(a.port, a.warmup)
        return 0
    if a.action == "start":
        return start(a.port, a.warmup, a.wait)
    return stop(a.port, a.wait)


if __name__ == "__main__":
    sys.exit(main())
