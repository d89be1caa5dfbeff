"""A loopback HTTP or HTTPS server that records every request and answers 401: the oracle of attack tests.

Named where the repository may name a server (a kubeconfig's cluster, an identity provider, a chart URL), it must
see no request the test did not allow: :attr:`SpyServer.requests` holds each one (method, path, headers, body, and
the client certificate presented, if any) and :meth:`SpyServer.saw` says whether any of them carries a string.

With ``authority`` (a testbed.pki.CertificateAuthority) it serves HTTPS with a certificate for 127.0.0.1 that
authority signed, and asks for a client certificate signed by it (optional): a client that trusts the authority
completes the handshake and is recorded, one that does not is refused by TLS before it sends anything.
"""

import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class SpyServer:
    """Use as a context manager; :attr:`url` is where it listens."""

    def __init__(self, authority=None):
        self.authority = authority
        self.requests = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = None
        self._tmp = None

    @property
    def url(self):
        scheme = "https" if self.authority else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        if self.authority:
            self._tmp = tempfile.TemporaryDirectory(prefix="trident-spy-")
            cert, key = self.authority.issue("spy", hosts=["127.0.0.1"])
            (Path(self._tmp.name) / "spy.crt").write_bytes(cert)
            (Path(self._tmp.name) / "spy.key").write_bytes(key)
            (Path(self._tmp.name) / "ca.crt").write_bytes(self.authority.cert_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(Path(self._tmp.name) / "spy.crt", Path(self._tmp.name) / "spy.key")
            context.load_verify_locations(cafile=str(Path(self._tmp.name) / "ca.crt"))
            context.verify_mode = ssl.CERT_OPTIONAL
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def record(self, entry):
        with self._lock:
            self.requests.append(entry)

    def saw(self, text):
        """Whether any recorded request carries ``text`` (in its path, a header, the body or the client certificate)."""
        with self._lock:
            return any(text in str(entry) for entry in self.requests)


def _handler(spy):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # recorded instead
            pass

        def _record(self):
            length = int(self.headers.get("Content-Length") or 0)
            peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
            spy.record({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                        "body": self.rfile.read(length).decode("utf-8", "replace") if length else "",
                        "client_certificate": peer or None})
            body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _record  # noqa: N815 (http.server's naming)

    return Handler
