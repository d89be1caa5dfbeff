"""A real Gitea forge on loopback: sqlite, an admin user with an API token, repositories, webhooks to loopback.

The ``gitea`` binary is the pinned one of ``tools/toolchain.py`` (pure-Go sqlite, Gitea's default since
1.26, so no cgo). Its module carries no built web front-end: pages render without their scripts and
styles, while the API, git over HTTP, webhooks, pull requests, comments and commit statuses are all
served. Templates and locales are read from the copies the toolchain put next to the binary
(``STATIC_ROOT_PATH``).

Start-up: ``gitea migrate`` makes the database, ``gitea admin user create`` the admin user ``trident``
with a token of every scope (``token``), once per binary: later starts copy that database (``_template``,
about 6 s of the 11 s a cold start takes on 2 cores); then ``gitea web`` serves http://127.0.0.1:<port>/
(about 4 s). Webhooks may
target loopback (``[security] ALLOWED_HOST_LIST = loopback``: by default Gitea refuses to deliver to
private addresses). Queues are ``immediate`` as in Gitea's own integration tests: a push's webhook is
sent before the push returns. Nothing is fetched from outside (``OFFLINE_MODE``: no CDN, no Gravatar;
no update checker).
"""

import base64
import fcntl
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import tool
from .process import Managed, Service, free_port, http_ok, wait_until

APP_INI = """\
APP_NAME = trident-test
RUN_MODE = prod
RUN_USER = {run_user}
WORK_PATH = {workdir}
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {port}
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:{port}/
LOCAL_ROOT_URL = http://127.0.0.1:{port}/
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
OFFLINE_MODE = true
APP_DATA_PATH = {workdir}/data
STATIC_ROOT_PATH = {static}

[database]
DB_TYPE = sqlite3
PATH = {workdir}/data/gitea.db

[repository]
ROOT = {workdir}/repositories
DEFAULT_BRANCH = main

[repository.signing]
SIGNING_KEY = none

[security]
INSTALL_LOCK = true
SECRET_KEY = {secret_key}
INTERNAL_TOKEN = {internal_token}
ALLOWED_HOST_LIST = loopback
DISABLE_QUERY_AUTH_TOKEN = true

[oauth2]
JWT_SECRET = {jwt_secret}

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false
DEFAULT_KEEP_EMAIL_PRIVATE = true

[webhook]
DELIVER_TIMEOUT = 5

[queue]
TYPE = immediate

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[mailer]
ENABLED = false

[actions]
ENABLED = false

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[log]
MODE = console
LEVEL = Info
"""

TOKEN_LINE = re.compile(r"Access token was successfully created\.\.\. (\S+)")


class GiteaError(RuntimeError):
    """Gitea's API answered an error; ``status`` is the HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class GiteaServer(Managed):
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(self, workdir=None, username="trident"):
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="trident-gitea-")
        self.workdir = Path(workdir or self._tmp.name)
        self.username = username
        self.password = "pw-" + secrets.token_hex(12)
        self.token = None  # the admin's API token (every scope), once started
        self.port = None
        self.service = None
        self.ready_seconds = None

    # -- addresses ---------------------------------------------------------------------------
    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self):
        return self.workdir / "app.ini"

    def git_url(self, repo):
        """The clone URL with the admin's credentials (testbed.gitops.GitOpsRepo's server interface)."""
        return self.http_url(repo, with_credentials=True)

    @property
    def api_url(self):
        return f"{self.url}/api/v1"

    def http_url(self, repo, owner=None, with_credentials=False):
        """The clone URL of ``owner/repo`` (the admin's by default), with the admin's credentials if asked."""
        auth = f"{self.username}:{self.password}@" if with_credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}/{owner or self.username}/{repo}.git"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout=90):
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        keys = _template(self.username)
        (self.workdir / "data").mkdir(exist_ok=True)
        shutil.copyfile(keys["database"], self.workdir / "data" / "gitea.db")
        self.password, self.token = keys["password"], keys["token"]
        self._write_config(keys)
        self.resume(timeout)
        self.ready_seconds = time.monotonic() - started
        return self

    def pause(self):
        """Stop serving (the forge is down); :meth:`resume` serves the same data on the same port again."""
        if self.service is not None:
            self.service.stop()
            self.service = None

    def resume(self, timeout=90):
        self.service = Service("gitea", [tool("gitea"), *self._global_flags(), "web"], self.workdir / "gitea.log",
                               env=self._env(), cwd=self.workdir).start()
        wait_until(lambda: http_ok(f"{self.url}/api/v1/version"), timeout, "gitea /api/v1/version", self.service,
                   interval=0.2)

    def stop(self):
        self.pause()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _write_config(self, keys):
        static = Path(os.path.realpath(tool("gitea"))).parent
        if not (static / "templates").is_dir():
            raise RuntimeError(f"gitea's templates are not next to its binary in {static}: run `make tools`")
        self.config.write_text(APP_INI.format(
            run_user=_current_user(), workdir=self.workdir, port=self.port, static=static,
            secret_key=keys["secret_key"], internal_token=keys["internal_token"], jwt_secret=keys["jwt_secret"]))
        self.config.chmod(0o600)

    def _global_flags(self):
        return ["--config", str(self.config), "--work-path", str(self.workdir)]

    def _env(self):
        # Git run by Gitea reads no configuration of the caller's; no proxy variable reaches webhooks.
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workdir / "home"),
                "USER": _current_user(), "GIT_CONFIG_NOSYSTEM": "1"}

    def _gitea(self, *args):
        proc = subprocess.run([tool("gitea"), *self._global_flags(), *args], capture_output=True, text=True,
                              env=self._env(), cwd=self.workdir, check=False)
        if proc.returncode != 0:
            output = proc.stdout[-2000:] + proc.stderr[-2000:]
            raise RuntimeError(f"gitea {args[0]} failed ({proc.returncode}): {output}")
        return proc.stdout

    # -- HTTP API ----------------------------------------------------------------------------
    def api(self, method, path, body=None, token=""):
        """One request to ``/api/v1/<path>`` with the admin's token (or ``token``; None sends none).

        Returns the decoded JSON answer (None when empty); an error answer raises :class:`GiteaError`.
        """
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        token = self.token if token == "" else token
        if token is not None:
            headers["Authorization"] = f"token {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/v1/{path.lstrip('/')}", data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            raise GiteaError(exc.code, f"gitea {method} /api/v1/{path}: {exc.code} "
                                       f"{exc.read().decode(errors='replace')[:500]}") from None
        return json.loads(answer) if answer.strip() else None

    def create_repo(self, name, private=False):
        """An empty repository ``<admin>/<name>`` (default branch main); returns Gitea's answer."""
        return self.api("POST", "user/repos", {"name": name, "private": private, "auto_init": False,
                                               "default_branch": "main"})

    def add_webhook(self, repo, url, secret, events=("push", "pull_request"), owner=None):
        """A Gitea-type webhook of ``owner/repo`` posting JSON to ``url``, signed with ``secret``."""
        return self.api("POST", f"repos/{owner or self.username}/{repo}/hooks", {
            "type": "gitea", "active": True, "events": list(events),
            "config": {"url": url, "content_type": "json", "secret": secret}})


def _template(username):
    """A migrated database with the admin user and its token, made once per Gitea binary and configuration.

    ``gitea migrate`` takes most of a start (seconds); every later start copies the database (and the keys that
    go with it: the configuration's secrets, the admin's password and token; test keys of a loopback forge).
    """
    binary = os.path.realpath(tool("gitea"))
    digest = hashlib.sha256(f"{binary}\0{os.path.getmtime(binary)}\0{APP_INI}\0{username}".encode()).hexdigest()
    folder = Path(os.environ.get("TRIDENT_CACHE") or tempfile.gettempdir()) / "gitea-templates" / digest[:16]
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        keys_file = folder / "keys.json"
        if not keys_file.exists():
            with tempfile.TemporaryDirectory(prefix="trident-gitea-template-") as work:
                _make_template(Path(work), username, folder)
        keys = json.loads(keys_file.read_text())
    return {**keys, "database": str(folder / "gitea.db")}


def _make_template(work, username, folder):
    server = GiteaServer(work, username)
    server.port = free_port()
    keys = {"secret_key": secrets.token_hex(16), "internal_token": secrets.token_hex(32),
            "jwt_secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode(),
            "password": server.password}
    server._write_config(keys)
    server._gitea("migrate")
    created = server._gitea("admin", "user", "create", "--username", username, "--password", server.password,
                            "--email", f"{username}@trident.invalid", "--admin", "--must-change-password=false",
                            "--access-token", "--access-token-name", "testbed", "--access-token-scopes", "all")
    found = TOKEN_LINE.search(created)
    if not found:
        raise RuntimeError(f"gitea admin user create printed no access token:\n{created}")
    shutil.copyfile(work / "data" / "gitea.db", folder / "gitea.db")
    partial = folder / "keys.json.part"
    partial.write_text(json.dumps({**keys, "token": found.group(1)}))
    partial.chmod(0o600)
    partial.replace(folder / "keys.json")


def _current_user():
    """Gitea refuses to start unless RUN_USER is the user it runs as."""
    return pwd.getpwuid(os.getuid()).pw_name
