"""A spy server: a loopback HTTP server that records every request it gets, the oracle of attack tests.

An attack test points a hostile value (a chart index URL, a kustomize entry, a redirect, a Terraform backend
address or module source) at the spy and then asserts on what the spy saw: no request at all when nothing may
be fetched, or exactly the allowed ones, and no canary's content in any request (:meth:`Spy.transcript`: path,
headers and body). What it answers is set per path (:meth:`Spy.answer`, :meth:`Spy.redirect`); anything else
gets 404, which is still recorded: a request the test did not allow is a failure whatever the answer was, and a
client that reached it fails visibly instead of going on with made-up data.
"""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .process import Managed


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict
    body: bytes = b""

    def text(self):
        """The whole request as text, to search for a canary."""
        headers = "\n".join(f"{name}: {value}" for name, value in self.headers.items())
        return f"{self.method} {self.path}\n{headers}\n{self.body.decode(errors='replace')}"


class Spy(Managed):
    """Records ``(method, path, headers, body)`` of every request on 127.0.0.1:<port>; answers what it was told."""

    def __init__(self):
        self.requests = []
        self._answers = {}
        self._lock = threading.Lock()
        self.server = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def answer(self, path, body, status=200, headers=None):
        """Answer GET ``path`` with ``body`` (bytes)."""
        self._answers[path] = (status, dict(headers or {}), body)
        return f"{self.url}{path}"

    def redirect(self, path, location, status=302):
        """Answer GET ``path`` with a redirect to ``location`` (any text: the test decides what is hostile)."""
        return self.answer(path, b"", status, {"Location": location})

    def seen(self, path_prefix="/"):
        """The requests whose path starts with ``path_prefix``."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def transcript(self):
        """Every request so far as text (method, path, headers, body)."""
        with self._lock:
            return "\n".join(request.text() for request in self.requests)

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def _record(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(Request(handler.command, handler.path, dict(handler.headers.items()), body))
        return self._answers.get(handler.path, (404, {}, b"not here\n"))


def _handler_for(spy):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            status, headers, body = spy._record(self)  # pylint: disable=protected-access
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        # CONNECT too: the spy is also a proxy that answers every tunnel request with 404. LOCK and UNLOCK are
        # what Terraform's http backend sends.
        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_CONNECT = do_LOCK = do_UNLOCK = _serve

        def log_message(self, *args):
            pass

    return Handler
