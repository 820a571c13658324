"""A real HTTP/1.1 server on loopback that serves Prometheus pages: the
simulated dcgm-exporters and inference servers of the demo, and the test
exporters (good, 500, garbage, hanging, cut short).

Routes map a path to a callable returning (status, body); a body of None
hangs the request until the server stops (an exporter that never answers).
Connections are kept alive, as real exporters do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"  # loopback only: this is a simulator
Route = Callable[[], tuple[int, bytes | None]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: MetricsHttpServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests += 1
        route = srv.routes.get(self.path.split("?")[0])
        status, body = route() if route is not None else (404, b"not found\n")
        if body is None:  # hang: answer nothing until the server stops
            srv.stopping.wait()
            self.close_connection = True
            return
        cut = srv.cut_bytes.get(self.path.split("?")[0])
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut is not None:  # a partial page: the connection drops mid-body
            self.wfile.write(body[:cut])
            self.close_connection = True
            return
        self.wfile.write(body)


class MetricsHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0):
        super().__init__((HOST, port), _Handler)
        self.routes: dict[str, Route] = {}
        self.cut_bytes: dict[str, int] = {}  # path -> bytes sent before the connection drops
        self.requests = 0
        self.connections = 0
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def get_request(self):  # count TCP connections: keep-alive means fewer than requests
        conn = super().get_request()
        self.connections += 1
        return conn

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/metrics") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def route(self, path: str, fn: Route) -> str:
        self.routes[path] = fn
        return self.url(path)

    def static(self, path: str, text: str | bytes, status: int = 200) -> str:
        data = text.encode() if isinstance(text, str) else text
        return self.route(path, lambda: (status, data))

    def start(self) -> MetricsHttpServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"metrics-http-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)
