"""The sandbox over real HTTP (`serve`), for benchmarks and manual runs.

Latency is added to every request, and while more than `concurrency_limit`
requests are in flight the extra ones get 429 / 20429 with `Retry-After`, as
Twilio does over its REST concurrency. A time-out fault makes the server answer
only after `Faults.slow_seconds`, so the client's own time-out fires.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from .core import Sandbox, SandboxResponse, internal_error


def serve(
    sandbox: Sandbox,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: float = 0,
    concurrency_limit: int | None = None,
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve `sandbox` from a daemon thread; `server.server_address` has the port."""
    inflight = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes; with Nagle on, the second
        # waits for the client's delayed ACK, some 40 ms a request.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_DELETE(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: Any) -> None:
            # Benchmarks drive thousands of requests; stderr noise helps nobody.
            pass

        def _answer(self) -> None:
            with lock:
                inflight[0] += 1
                count = inflight[0]
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if latency_ms:
                    time.sleep(latency_ms / 1000)
                if concurrency_limit is not None and count > concurrency_limit:
                    self._send(sandbox.too_many_requests())
                    return
                try:
                    response, timed_out = sandbox.respond(
                        self.command,
                        self.path,
                        data=dict(parse_qsl(raw, keep_blank_values=True)),
                        headers=dict(self.headers.items()),
                    )
                except Exception:
                    # A sandbox bug must still reach the client as an answer.
                    response, timed_out = internal_error(), False
                if timed_out:
                    time.sleep(sandbox.faults.slow_seconds)
                self._send(response)
            finally:
                with lock:
                    inflight[0] -= 1

        def _send(self, response: SandboxResponse) -> None:
            body = response.body.encode()
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, name="meetzy-sandbox-http", daemon=True
    )
    thread.start()
    return server, thread
