"""Push events for Event-Driven Ansible: webhook checks, changed environments, and coalescing.

The ``trident.gitops.git_push`` event source (extensions/eda) wires these pure pieces to an HTTP
listener, a poll timer and a mirror of the GitOps repository. They live here, without asyncio or
an HTTP library, so they are unit tested alone and the source stays a thin shell:

- :func:`authenticate` checks a GitLab (``X-Gitlab-Token``), Gitea (``X-Gitea-Signature``: the hex HMAC-SHA256
  of the body) or GitHub (``X-Hub-Signature-256``) webhook against the shared secret in constant time; anything
  else is unauthenticated.
- :func:`parse_push` checks the payload's schema; it only tells *that* a branch moved. The revision
  and the changed files always come from fetching the repository itself, never from the payload.
- :func:`changed_environments` maps changed paths to environment folders.
- :class:`Coalescer` merges a burst of pushes into one event naming the newest revision.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.environment import ENV_NAME

GITLAB = "gitlab"
GITHUB = "github"
GITEA = "gitea"
# The header naming the event, per provider (Gitea also sends GitHub's headers; its own are checked first).
_EVENT_HEADER = {GITLAB: "x-gitlab-event", GITHUB: "x-github-event", GITEA: "x-gitea-event"}
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1, or SHA-256 object ids


class PayloadError(ValueError):
    """A webhook body that is not a push event of the expected shape (answered with 400)."""


@dataclass(frozen=True)
class Push:
    """What a webhook says moved: ``ref`` from ``before`` to ``after`` (``ping`` for GitHub's hello)."""

    provider: str
    ref: str = ""
    before: str = ""
    after: str = ""
    ping: bool = False


def _lower_keys(headers):
    return {str(key).lower(): str(value) for key, value in headers.items()}


def authenticate(headers, body, token):
    """The provider whose signature on ``body`` matches ``token``, or None (the caller answers 401).

    GitLab sends the secret itself in ``X-Gitlab-Token``; Gitea sends the hex HMAC-SHA256 of the body in
    ``X-Gitea-Signature``; GitHub sends ``sha256=<HMAC of the body>`` in ``X-Hub-Signature-256``. Every comparison
    takes the same time whatever the mismatch.
    """
    if not token:
        return None
    headers = _lower_keys(headers)
    secret = token.encode()
    if "x-gitlab-token" in headers:
        return GITLAB if hmac.compare_digest(headers["x-gitlab-token"].encode(), secret) else None
    if "x-gitea-signature" in headers:
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        return GITEA if hmac.compare_digest(headers["x-gitea-signature"].encode(), expected.encode()) else None
    if "x-hub-signature-256" in headers:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        return GITHUB if hmac.compare_digest(headers["x-hub-signature-256"].encode(), expected.encode()) else None
    return None


def _field(payload, name):
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"push payload: '{name}' must be a non-empty string")
    return value


def parse_push(provider, headers, body):
    """Check an authenticated webhook body; raise :class:`PayloadError` when it is not a push."""
    headers = _lower_keys(headers)
    event = headers.get(_EVENT_HEADER[provider], "")
    if provider == GITHUB and event == "ping":
        return Push(provider, ping=True)
    if event not in ("Push Hook", "push"):
        raise PayloadError(f"not a push event: '{event[:40]}'")
    try:
        payload = json.loads(body)
    except ValueError:
        raise PayloadError("push payload is not JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError("push payload must be a JSON object")
    if provider == GITLAB and payload.get("object_kind") != "push":
        raise PayloadError("push payload: 'object_kind' must be 'push'")
    ref, before, after = (_field(payload, name) for name in ("ref", "before", "after"))
    if not ref.startswith("refs/"):
        raise PayloadError("push payload: 'ref' must be a full ref name (refs/...)")
    for name, value in (("before", before), ("after", after)):
        if not _SHA.match(value):
            raise PayloadError(f"push payload: '{name}' must be a full object id")
    return Push(provider, ref, before, after)


def changed_environments(paths, environments_dir="environments"):
    """Names of the environment folders (``<environments_dir>/<env>/...``) that ``paths`` touch.

    Only names that can be environments (reconcile/environment.py ENV_NAME): the event's names become the
    playbook's ``trident_hosts`` extra variable, which Ansible templates, so a folder named like a template (or a
    pattern) never reaches it. The inventory reports such a folder as a failing environment of its own.
    """
    prefix = environments_dir.strip("/").split("/")
    names = set()
    for path in paths:
        parts = path.split("/")
        if len(parts) > len(prefix) + 1 and parts[:len(prefix)] == prefix and ENV_NAME.match(parts[len(prefix)]):
            names.add(parts[len(prefix)])
    return sorted(names)


@dataclass
class Coalescer:
    """Pending changes since the last event; :meth:`take` empties them into one event.

    A change is due ``quiet`` seconds after the last one arrived, or ``max_delay`` seconds after the
    first one of the burst, whichever comes first: a burst becomes one event, and a steady stream of
    pushes still gets an event at least every ``max_delay`` seconds.
    """

    quiet: float
    max_delay: float
    revision: str = ""
    before: str = ""
    environments: set = field(default_factory=set)
    triggers: set = field(default_factory=set)
    pushes: int = 0
    first_at: float | None = None
    last_at: float | None = None

    def note(self, before, after, environments, trigger, now):
        """Record that the branch moved from ``before`` to ``after``, changing ``environments``."""
        if not environments and self.first_at is None:
            return  # nothing to reconcile; a later push that changes an environment starts a burst
        if self.first_at is None:
            self.first_at, self.before = now, before
        self.last_at = now
        self.revision = after
        self.environments.update(environments)
        self.triggers.add(trigger)
        self.pushes += 1

    def due_in(self, now):
        """Seconds until the pending event is due (0 = now), or None when nothing is pending."""
        if self.first_at is None:
            return None
        return max(0.0, min(self.last_at + self.quiet, self.first_at + self.max_delay) - now)

    def take(self):
        """The pending changes as an event body, and a fresh start."""
        event = {"revision": self.revision, "before": self.before, "environments": sorted(self.environments),
                 "triggers": sorted(self.triggers), "pushes": self.pushes}
        self.revision, self.before, self.environments, self.triggers = "", "", set(), set()
        self.pushes, self.first_at, self.last_at = 0, None, None
        return event


MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class SourceSettings:
    """The event source's arguments, checked before it starts (docs/continuous-reconcile.md)."""

    repo: str
    branch: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    path: str = "/"
    webhook: bool = True
    token: str = field(default="", repr=False)
    poll_interval: float = 180.0
    quiet: float = 1.0
    max_delay: float = 10.0
    max_body: int = 1024 * 1024
    environments_dir: str = "environments"
    state_dir: str = ""


def _number(args, name, default, kind, minimum):
    value = args.get(name, default)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"git_push: '{name}' must be a number, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"git_push: '{name}' must be at least {minimum}, got {number}")
    return number


def _flag(value):
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def source_settings(args, environ):
    """Check the event source's arguments; the webhook token comes from ``token`` or ``token_env``."""
    defaults = SourceSettings(repo="")
    if not args.get("repo"):
        raise ValueError("git_push: 'repo' (URL or path of the GitOps repository) is required")
    webhook = _flag(args.get("webhook", defaults.webhook))
    token = args.get("token") or environ.get(args.get("token_env") or "TRIDENT_WEBHOOK_TOKEN", "")
    if webhook and len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"git_push: the webhook needs a shared secret of at least {MIN_TOKEN_LENGTH} characters "
                         "in 'token' or in the environment variable named by 'token_env' "
                         "(default TRIDENT_WEBHOOK_TOKEN); set webhook: false to poll only")
    poll_interval = _number(args, "poll_interval", defaults.poll_interval, float, 0)
    if not webhook and not poll_interval:
        raise ValueError("git_push: with webhook: false, poll_interval must be positive")
    return SourceSettings(
        repo=str(args["repo"]), branch=args.get("branch") or None, host=str(args.get("host") or defaults.host),
        port=_number(args, "port", defaults.port, int, 0), path=str(args.get("path") or defaults.path),
        webhook=webhook, token=token if webhook else "", poll_interval=poll_interval,
        quiet=_number(args, "quiet", defaults.quiet, float, 0),
        max_delay=_number(args, "max_delay", defaults.max_delay, float, 0),
        max_body=_number(args, "max_body", defaults.max_body, int, 1024),
        environments_dir=str(args.get("environments_dir") or defaults.environments_dir),
        state_dir=str(args.get("state_dir") or ""))
