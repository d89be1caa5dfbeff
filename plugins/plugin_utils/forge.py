# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Tell the forge what a run found: one drift-preview comment per pull/merge request, one commit status per
environment. Controller-only: the drift_report callback is its one user (docs/forge.md).

The same two acts on GitLab (``/api/v4``: merge-request notes, ``PRIVATE-TOKEN``), GitHub (``api.github.com`` or
``/api/v3``: issue comments, ``Bearer``) and Gitea (``/api/v1``: GitHub's paths, ``token``):

- :func:`post_preview` keeps ONE comment per pull request: the comment the token's own user wrote whose body
  starts with :data:`MARKER` is updated, a new one is made only when there is none. A comment someone else wrote
  is never edited, marker or not: a merge-request author who copies the marker must not get the preview written
  under their name (where they could edit it afterwards).
- :func:`post_statuses` sets ``trident/<env>`` on the commit an environment deployed (or waits to deploy, or failed
  to): :func:`commit_state` maps the report's verdict, health and promotion hold to success, pending or failure.

The forge's address and token are the operator's (the callback's options), never the repository's. A request is
built as a :class:`Call` (pure, unit tested against the documented shapes) and sent by an injected ``send``:
:func:`http_send` follows no redirect (the token never goes to another host) and its errors name the method, the
URL and the HTTP status, never the token or the answer's body. A forge that is down fails nothing but the
publishing: the caller warns.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

GITLAB, GITHUB, GITEA = "gitlab", "github", "gitea"
KINDS = (GITLAB, GITHUB, GITEA)
# The first line of the preview comment: how the next run finds it (an HTML comment: Markdown does not show it).
MARKER = "<!-- trident.gitops drift preview -->"
# GitHub refuses comments over 65536 characters; the whole report is in the job's artifacts anyway.
MAX_COMMENT = 60000
MAX_PAGES = 20
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# The report's health words that are not final yet; Degraded is a failure, Healthy a success.
_WAITING_HEALTH = ("Progressing", "Missing", "Suspended", "Unknown")


class ForgeError(Exception):
    """A request the forge did not answer with success (its method, URL and status; never a token)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ForgeSettings:
    """The operator's forge: which API, where, which project, with which token."""

    kind: str
    api_url: str
    project: str
    token: str = field(repr=False)
    pull_request: int | None = None
    target_url: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"forge must be one of {', '.join(KINDS)}, got {self.kind!r}")
        parsed = urllib.parse.urlsplit(self.api_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.username or parsed.password:
            raise ValueError("forge_api_url must be an http(s) URL without credentials, e.g. https://api.github.com")
        if not self.project:
            raise ValueError("forge_project is required (owner/name; on GitLab the project's id or path)")
        if self.kind != GITLAB and len(self.project.split("/")) != 2:
            raise ValueError(f"forge_project must be owner/name on {self.kind}, got {self.project!r}")
        if not self.token:
            raise ValueError("forge_token is required (set it in TRIDENT_FORGE_TOKEN)")


@dataclass(frozen=True)
class Call:
    """One HTTP request to the forge's API."""

    method: str
    url: str
    headers: dict = field(repr=False)
    body: dict | None = None


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: object = None  # the author's user id


class Forge:
    """The request shapes of one forge; :meth:`for_settings` picks the class."""

    paged = True  # listing comments takes per_page/page

    def __init__(self, settings: ForgeSettings):
        self.settings = settings
        self.base = settings.api_url.rstrip("/")

    @staticmethod
    def for_settings(settings: ForgeSettings) -> Forge:
        return {GITLAB: GitLab, GITHUB: GitHub, GITEA: Gitea}[settings.kind](settings)

    def call(self, method, path, body=None, query=None):
        url = f"{self.base}/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "User-Agent": "trident.gitops", **self.auth_headers()}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return Call(method, url, headers, body)

    def whoami(self):
        """The token's own user (``id`` in the answer), on all three forges."""
        return self.call("GET", "user")

    @staticmethod
    def author_of(item: dict):
        """A listed comment's author id (GitHub and Gitea: ``user``; GitLab overrides: ``author``)."""
        return (item.get("user") or {}).get("id")

    # -- overridden per forge ------------------------------------------------------------------
    def auth_headers(self):
        raise NotImplementedError

    def list_comments(self, number, page):
        raise NotImplementedError

    def create_comment(self, number, text):
        raise NotImplementedError

    def update_comment(self, number, comment_id, text):
        raise NotImplementedError

    def set_status(self, sha, state, context, description):
        raise NotImplementedError


class GitHub(Forge):
    """REST API v3 (docs.github.com/rest: issues/comments, commits/statuses)."""

    def _repo(self):
        owner, name = self.settings.project.split("/")
        return f"repos/{urllib.parse.quote(owner, safe='')}/{urllib.parse.quote(name, safe='')}"

    def auth_headers(self):
        return {"Authorization": f"Bearer {self.settings.token}", "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28"}

    def list_comments(self, number, page):
        query = {"per_page": 100, "page": page} if self.paged else None
        return self.call("GET", f"{self._repo()}/issues/{int(number)}/comments", query=query)

    def create_comment(self, number, text):
        return self.call("POST", f"{self._repo()}/issues/{int(number)}/comments", {"body": text})

    def update_comment(self, number, comment_id, text):
        return self.call("PATCH", f"{self._repo()}/issues/comments/{int(comment_id)}", {"body": text})

    def set_status(self, sha, state, context, description):
        body = {"state": state, "context": context, "description": description}
        if self.settings.target_url:
            body["target_url"] = self.settings.target_url
        return self.call("POST", f"{self._repo()}/statuses/{sha}", body)


class Gitea(GitHub):
    """Gitea's API v1 (swagger at /api/swagger): GitHub's paths and bodies, its own token header."""

    paged = False  # Gitea lists all comments of an issue at once (since/before filters only)

    def auth_headers(self):
        return {"Authorization": f"token {self.settings.token}"}


class GitLab(Forge):
    """REST API v4 (docs.gitlab.com/api: notes, commits#set-the-pipeline-status-of-a-commit)."""

    STATES = {"success": "success", "pending": "pending", "failure": "failed"}

    def _project(self):
        return f"projects/{urllib.parse.quote(self.settings.project, safe='')}"

    def auth_headers(self):
        return {"PRIVATE-TOKEN": self.settings.token}

    @staticmethod
    def author_of(item: dict):
        return (item.get("author") or {}).get("id")

    def list_comments(self, number, page):
        return self.call("GET", f"{self._project()}/merge_requests/{int(number)}/notes",
                         query={"per_page": 100, "page": page, "sort": "asc", "order_by": "created_at"})

    def create_comment(self, number, text):
        return self.call("POST", f"{self._project()}/merge_requests/{int(number)}/notes", {"body": text})

    def update_comment(self, number, comment_id, text):
        return self.call("PUT", f"{self._project()}/merge_requests/{int(number)}/notes/{int(comment_id)}",
                         {"body": text})

    def set_status(self, sha, state, context, description):
        body = {"state": self.STATES[state], "name": context, "description": description}
        if self.settings.target_url:
            body["target_url"] = self.settings.target_url
        return self.call("POST", f"{self._project()}/statuses/{sha}", body)


# -- acts ---------------------------------------------------------------------------------------
def comment_text(markdown: str) -> str:
    """The comment's body: the marker, then the report (cut where GitHub would refuse it)."""
    if len(markdown) > MAX_COMMENT:
        markdown = markdown[:MAX_COMMENT] + "\n\n… (cut: the whole report is in the run's artifacts)\n"
    return f"{MARKER}\n{markdown}"


def _comments(forge, send, number):
    found = []
    for page in range(1, MAX_PAGES + 1):
        answer = send(forge.list_comments(number, page))
        if not isinstance(answer, list):
            raise ForgeError(f"listing the comments of #{number}: the answer is not a list")
        found += [Comment(item["id"], item.get("body") or "", forge.author_of(item)) for item in answer
                  if isinstance(item, dict) and isinstance(item.get("id"), int)]
        if not forge.paged or len(answer) < 100:
            break
    return found


def post_preview(forge: Forge, send, markdown: str) -> str:
    """Create or update THE preview comment of the pull request; returns ``created`` or ``updated``."""
    number = forge.settings.pull_request
    text = comment_text(markdown)
    me = send(forge.whoami())
    me = me.get("id") if isinstance(me, dict) else None
    if me is None:
        raise ForgeError("reading the token's own user: the answer has no id")
    ours = [c for c in _comments(forge, send, number) if c.author == me and c.body.startswith(MARKER)]
    if ours:
        send(forge.update_comment(number, ours[-1].id, text))  # the newest
        return "updated"
    send(forge.create_comment(number, text))
    return "created"


def commit_state(entry: dict):
    """``(state, sha, description)`` of one environment of the report (its ``as_dict`` entry), None without a commit.

    failure: the run failed, refused, or the environment is Degraded (on the commit that failed);
    pending: a promotion holds it (on the commit that waits) or its health is not final (Progressing);
    success: in sync and Healthy (or nothing with a health) on the deployed commit.
    """
    health = entry.get("health")
    revision, target = entry.get("revision"), entry.get("target")
    if entry.get("verdict") == "error" or entry.get("status") == "failed":
        state, sha, description = "failure", target or revision, "reconcile failed"
    elif entry.get("refused"):
        state, sha, description = "failure", target or revision, "refused"
    elif entry.get("held"):
        state, sha, description = "pending", target or revision, "waiting for promotion"
    elif health == "Degraded":
        state, sha, description = "failure", revision, "Degraded"
    elif health in _WAITING_HEALTH:
        state, sha, description = "pending", revision, health
    elif entry.get("verdict") == "drift":
        state, sha, description = "pending", revision, "drift remains"
    else:
        state, sha, description = "success", revision, "in sync, Healthy" if health == "Healthy" else "in sync"
    if not isinstance(sha, str) or not _SHA.match(sha):
        return None
    return state, sha, description


def post_statuses(forge: Forge, send, environments: dict) -> tuple[list, list]:
    """Set ``trident/<env>`` for every environment of the report; returns (set, failed) as lists of messages.

    One environment's failure does not stop the others."""
    done, failed = [], []
    for env, entry in sorted(environments.items()):
        found = commit_state(entry)
        if found is None:
            continue
        state, sha, description = found
        try:
            send(forge.set_status(sha, state, f"trident/{env}", description))
            done.append(f"{env}: {state} on {sha[:12]}")
        except ForgeError as exc:
            failed.append(f"{env}: {exc}")
    return done, failed


# -- transport ----------------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an error answer: the token is never sent elsewhere


def http_send(timeout=10.0, attempts=2, delay=1.0):
    """A ``send(call)`` over HTTP: the decoded JSON answer; connection errors and 5xx are tried ``attempts`` times."""
    opener = urllib.request.build_opener(_NoRedirect)

    def send(call: Call):
        data = json.dumps(call.body).encode() if call.body is not None else None
        request = urllib.request.Request(call.url, data=data, method=call.method, headers=call.headers)
        for attempt in range(1, attempts + 1):
            try:
                with opener.open(request, timeout=timeout) as response:
                    answer = response.read()
                return json.loads(answer) if answer.strip() else None
            except urllib.error.HTTPError as exc:
                error = ForgeError(f"{call.method} {call.url}: HTTP {exc.code}", exc.code)
                if exc.code < 500:
                    raise error from None
            except (urllib.error.URLError, OSError) as exc:
                error = ForgeError(f"{call.method} {call.url}: {getattr(exc, 'reason', exc)}")
            except ValueError:
                raise ForgeError(f"{call.method} {call.url}: the answer is not JSON") from None
            if attempt < attempts:
                time.sleep(delay)
        raise error

    return send


def publish(settings: ForgeSettings, report: dict, markdown: str, check_mode: bool, send=None) -> tuple[list, list]:
    """What the callback calls at the end of a run: the preview comment when a pull request is named, the
    statuses after an apply run. Returns (messages of what was done, messages of what failed); raises nothing."""
    forge, send = Forge.for_settings(settings), send or http_send()
    done, failed = [], []
    if settings.pull_request:
        try:
            done.append(f"preview comment {post_preview(forge, send, markdown)} on #{settings.pull_request}")
        except ForgeError as exc:
            failed.append(f"preview comment on #{settings.pull_request}: {exc}")
    if not check_mode:
        set_, unset = post_statuses(forge, send, report.get("environments", {}))
        done += [f"commit status {m}" for m in set_]
        failed += [f"commit status {m}" for m in unset]
    token = settings.token
    return [m.replace(token, "********") for m in done], [m.replace(token, "********") for m in failed]
