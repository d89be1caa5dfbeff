"""A loopback HTTP server that records every request it gets: the oracle of attack tests.

An attack test points whatever a hostile repository could make the controller fetch (a backend address, a
module source, a chart URL) at the spy, then asserts on what the spy saw: no request it was not allowed, and
no canary's content in any request (path, headers or body). It answers 404 to everything, so a client that
reached it fails visibly instead of going on with made-up data.
"""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .process import Managed


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: str
    body: bytes

    def text(self):
        return f"{self.method} {self.path}\n{self.headers}\n{self.body.decode(errors='replace')}"


class SpyServer(Managed):
    """``url`` is ``http://127.0.0.1:<port>``; ``requests`` lists what arrived, in order."""

    def __init__(self):
        self.requests = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        spy = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with spy._lock:  # pylint: disable=protected-access
                    spy.requests.append(Request(self.command, self.path, str(self.headers), body))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_LOCK = do_UNLOCK = _record

            def log_message(self, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def seen(self):
        """Every request so far as text (method, path, headers, body)."""
        with self._lock:
            return "\n".join(request.text() for request in self.requests)
