"""A loopback HTTP server that records every request it gets (a webhook receiver, a spy server).

Tests point a forge's webhooks, or any URL a hostile input might make the code fetch, at it and assert
on what arrived: method, path, headers and body of each request, in order. It answers every request
with ``status`` and an empty JSON object, or with what ``respond(request)`` returns: ``(status, JSON value)`` or
``(status, JSON value, extra headers)`` (a forge's API played by a test).
"""

import json

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .process import Managed


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict = field(default_factory=dict)  # lower-cased names
    body: bytes = b""


class RequestRecorder(Managed):
    """Start with :meth:`start`; ``url`` is its base URL; ``requests`` what it received so far."""

    def __init__(self, status=200, respond=None):
        self.status = status
        self.respond = respond
        self.requests = []
        self._server = None
        self._arrived = threading.Condition()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def record(self, request):
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def wait_for(self, predicate, timeout=30):
        """The first recorded request for which ``predicate`` is true, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = next((r for r in self.requests if predicate(r)), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    break
                self._arrived.wait(remaining)
        if found is None:
            seen = [(r.method, r.path) for r in self.requests]
            raise TimeoutError(f"no matching request within {timeout}s; received: {seen}")
        return found


def _handler_for(recorder):
    class RecordingHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # requests are recorded, not printed
            pass

        def _record(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            recorder.record(request)
            status, answer, headers = (recorder.status, {}, {})
            if recorder.respond is not None:
                status, answer, *more = recorder.respond(request)
                headers = more[0] if more else {}
            payload = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

    return RecordingHandler
