"""A thin proxy in front of Prism for runs that need state Prism cannot keep.

Prism answers every request with the same example, an unassigned number, so
`swap` would find nothing to swap and `reset` nothing to clear. The overlay
forwards every request to Prism unchanged, so Prism still validates each one,
and changes only two things:

- answers that carry the example number show it routed to an agent;
- an update that Prism refuses only for the documented false alarm (an empty
  string, which Twilio accepts to clear a URL or SID field) is forwarded again
  without the empty strings; if Prism accepts the rest, the tool gets that
  answer with the emptied fields cleared, as Twilio would give it. Every such
  request is recorded, so a test can tell a forgiven false alarm from a real
  violation.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode


@dataclass
class Overlay:
    url: str
    forgiven: list[tuple[str, set[str]]] = field(default_factory=list)


def _snake(parameter: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in parameter).lstrip("_")


@contextmanager
def overlay(
    prism_url: str, number_sid: str, routing: dict[str, str]
) -> Iterator[Overlay]:
    state = Overlay(url="")

    def forward(
        method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            prism_url + path, data=body or None, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def routed(payload: Any) -> Any:
        records = (
            payload.get("incoming_phone_numbers") if isinstance(payload, dict) else None
        )
        for record in records if isinstance(records, list) else [payload]:
            if isinstance(record, dict) and record.get("sid") == number_sid:
                record.update(routing)
        return payload

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def do_DELETE(self) -> None:
            self.answer()

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("authorization", "content-type", "accept")
            }
            status, text = forward(self.command, self.path, body, headers)
            emptied = {
                k
                for k, v in parse_qsl(body.decode(), keep_blank_values=True)
                if v == ""
            }
            if status == 422 and emptied and self._only(text, emptied):
                rest = [(k, v) for k, v in parse_qsl(body.decode()) if v != ""]
                status, text = forward(
                    self.command, self.path, urlencode(rest).encode(), headers
                )
                if status < 400:
                    state.forgiven.append((self.path, emptied))
                    cleared = json.loads(text)
                    cleared.update({_snake(k): None for k in emptied})
                    text = json.dumps(cleared).encode()
            elif (
                status == 200
                and self.command == "GET"
                and "IncomingPhoneNumbers" in self.path
            ):
                text = json.dumps(routed(json.loads(text))).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        @staticmethod
        def _only(text: bytes, emptied: set[str]) -> bool:
            try:
                violations = json.loads(text).get("validation", [])
            except ValueError:
                return False
            return bool(violations) and all(
                tuple(v.get("location", ())) in {("body", name) for name in emptied}
                for v in violations
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(timeout=5)
