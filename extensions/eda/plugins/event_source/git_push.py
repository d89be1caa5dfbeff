"""trident.gitops.git_push: an event when the GitOps repository's branch moves.

Two triggers, one truth: a GitLab, GitHub or Gitea push webhook (authenticated with a shared secret) and a
``git ls-remote`` poll at an interval only *wake* the source. What changed always comes from the
repository itself: the source converges a private mirror of the branch with git_source's code and
diffs the revision it saw last against the new one. Changes are coalesced (a burst of pushes is one
event naming the newest revision and the union of the environments changed) and emitted as

    {"type": "trident.gitops.push", "repo": ..., "branch": ..., "revision": <newest sha>,
     "before": <sha seen before the burst>, "environments": [<env>, ...], "triggers": [...], "pushes": n}

The pure parts (webhook checks, payload schema, environment mapping, coalescing, arguments) live in
plugins/plugin_utils/push_events.py; docs/continuous-reconcile.md explains the whole flow.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import os
import sys
from pathlib import Path

from aiohttp import web


def _collection_importable():
    try:
        return importlib.util.find_spec("ansible_collections.trident.gitops") is not None
    except ModuleNotFoundError:
        return False


if not _collection_importable():
    # ansible-rulebook runs this file by path (runpy), outside Ansible's collection loader: put the
    # collections root it was found under (<root>/ansible_collections/trident/gitops/extensions/...) on the path.
    sys.path.insert(0, str(Path(__file__).parents[7]))

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner  # noqa: E402
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError  # noqa: E402
from ansible_collections.trident.gitops.plugins.module_utils.git.auth import GitAuth  # noqa: E402
from ansible_collections.trident.gitops.plugins.module_utils.git.refs import BRANCH  # noqa: E402
from ansible_collections.trident.gitops.plugins.module_utils.git.source import SyncRequest, sync  # noqa: E402
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.fetch import split_credentials  # noqa: E402
from ansible_collections.trident.gitops.plugins.plugin_utils.push_events import (  # noqa: E402
    Coalescer, PayloadError, authenticate, changed_environments, parse_push, source_settings)

DOCUMENTATION = r"""
---
short_description: An event when a GitOps repository's branch moves (push webhook, polling).
description:
  - Listens for GitLab, GitHub and Gitea push webhooks on O(host):O(port) (loopback by default) and polls
    C(git ls-remote) every O(poll_interval) seconds as a fallback.
  - Every trigger fetches the branch into a private mirror; the event names the new revision and the
    environment folders that changed since the last event. A burst of pushes is one event.
  - A webhook without the shared secret (GitLab C(X-Gitlab-Token)) or a valid signature (Gitea
    C(X-Gitea-Signature), GitHub C(X-Hub-Signature-256)) gets 401 and triggers nothing; bodies over
    O(max_body) get 413; bodies that are not push events get 400; pushes to other branches are ignored (202).
options:
  repo:
    description: URL or local path of the GitOps repository.
    type: str
    required: true
  branch:
    description: The branch to follow; default the repository's default branch.
    type: str
  host:
    description: Address the webhook listener binds to.
    type: str
    default: 127.0.0.1
  port:
    description: Port of the webhook listener (0 picks a free one).
    type: int
    default: 5000
  path:
    description: URL path the webhook is posted to.
    type: str
    default: /
  webhook:
    description: Listen for webhooks; false polls only.
    type: bool
    default: true
  token:
    description: The webhook's shared secret (at least 16 characters). Prefer O(token_env).
    type: str
  token_env:
    description: Environment variable holding the shared secret.
    type: str
    default: TRIDENT_WEBHOOK_TOKEN
  poll_interval:
    description: Seconds between two polls; 0 disables polling (webhook only).
    type: float
    default: 180
  quiet:
    description: Seconds without a new push before the pending changes become an event.
    type: float
    default: 1
  max_delay:
    description: Seconds after the first push of a burst by which the event is sent, pushes or not.
    type: float
    default: 10
  max_body:
    description: Largest webhook body accepted, in bytes.
    type: int
    default: 1048576
  environments_dir:
    description: Folder of the environment folders in the repository.
    type: str
    default: environments
  state_dir:
    description: Where the mirror lives; default C(~/.cache/trident-gitops/eda/<digest of repo and branch>).
    type: str
"""

EXAMPLES = r"""
- name: Reconcile on push
  hosts: all
  sources:
    - trident.gitops.git_push:
        repo: https://git.example.com/ops/gitops.git
        branch: main
        host: 0.0.0.0
        port: 5000
        poll_interval: 180
"""

EVENT_TYPE = "trident.gitops.push"
logger = logging.getLogger(__name__)


class Mirror:
    """A private checkout of the followed branch, converged with git_source's ``sync``."""

    def __init__(self, settings):
        url, auth = split_credentials(settings.repo, GitAuth())
        self.url = url
        self.runner = CommandRunner(masked=auth.secrets)
        digest = hashlib.sha256(f"{url}\0{settings.branch or 'HEAD'}".encode()).hexdigest()[:16]
        dest = settings.state_dir or os.path.join(os.path.expanduser("~/.cache/trident-gitops/eda"), digest)
        self.request = SyncRequest(repo=url, dest=dest, version=settings.branch, auth=auth)

    def sync(self):
        result = sync(self.request, self.runner)
        if result.kind != BRANCH:
            raise TridentError(f"git_push follows a branch; '{result.ref}' of {self.url} is a {result.kind}")
        return result


class GitPushSource:
    """The webhook listener, the poll timer and the coalescer around one :class:`Mirror`."""

    def __init__(self, queue, settings, mirror=None):
        self.queue = queue
        self.settings = settings
        self.mirror = mirror or Mirror(settings)
        self.pending = Coalescer(settings.quiet, settings.max_delay)
        self.wake = asyncio.Event()
        self.branch = settings.branch
        self.failures = 0
        self.port = None

    async def run(self):
        first = await asyncio.to_thread(self.mirror.sync)  # an unreachable repository fails the start
        self.branch = first.ref
        self.note(first, "start")
        logger.info("git_push: following %s of %s at %s", self.branch, self.mirror.url, first.after)
        site = await self.listen() if self.settings.webhook else None
        try:
            await self.watch()
        finally:
            if site is not None:
                await site.stop()

    async def listen(self):
        app = web.Application(client_max_size=self.settings.max_body)
        app.router.add_post(self.settings.path, self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = runner.addresses[0][1]  # the bound port, also when settings.port is 0
        logger.info("git_push: webhook listening on %s:%s%s", self.settings.host, self.port, self.settings.path)
        return site

    async def handle(self, request):
        """Answer a webhook; only an authenticated push to the followed branch wakes the source."""
        body = await request.read()  # over client_max_size: aiohttp answers 413
        provider = authenticate(request.headers, body, self.settings.token)
        if provider is None:
            logger.warning("git_push: refused a webhook from %s: missing or wrong token/signature", request.remote)
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            push = parse_push(provider, request.headers, body)
        except PayloadError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if push.ping:
            return web.json_response({"status": "pong"})
        if push.ref != f"refs/heads/{self.branch}":
            return web.json_response({"status": "ignored", "reason": f"not {self.branch}"}, status=202)
        self.wake.set()
        return web.json_response({"status": "accepted"}, status=202)

    async def watch(self):
        """Fetch on every wake-up and poll tick; put an event on the queue when the pending one is due."""
        loop = asyncio.get_running_loop()
        interval = self.settings.poll_interval
        next_poll = loop.time() + interval if interval else None
        while True:
            now = loop.time()
            waits = [t for t in (next_poll and max(0.0, next_poll - now), self.pending.due_in(now)) if t is not None]
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=min(waits) if waits else None)
                trigger = "webhook"
            except asyncio.TimeoutError:
                trigger = "poll" if next_poll is not None and loop.time() >= next_poll else None
            if trigger == "poll":
                next_poll = loop.time() + interval
            if trigger:
                self.wake.clear()  # a webhook arriving during the fetch sets it again: one more fetch
                await self.check(trigger)
            if self.pending.due_in(loop.time()) == 0:
                await self.queue.put(self.event(self.pending.take()))

    async def check(self, trigger):
        try:
            result = await asyncio.to_thread(self.mirror.sync)
        except TridentError as exc:
            # Retried with backoff (1, 2, 4 ... 60 s): a server that is down, or a push that moved the
            # branch between ls-remote and fetch. A push is never dropped because its fetch failed.
            delay = min(2 ** self.failures, 60)
            self.failures += 1
            logger.error("git_push: fetching %s of %s failed (retry in %ss): %s", self.branch, self.mirror.url,
                         delay, exc.message)
            asyncio.get_running_loop().call_later(delay, self.wake.set)
            return
        self.failures = 0
        self.note(result, trigger)

    def note(self, result, trigger):
        if result.before and result.before != result.after:
            environments = changed_environments(result.changed_files, self.settings.environments_dir)
            self.pending.note(result.before, result.after, environments, trigger, asyncio.get_running_loop().time())

    def event(self, changes):
        logger.info("git_push: %s moved to %s; environments changed: %s", self.branch, changes["revision"],
                    ", ".join(changes["environments"]))
        return {"type": EVENT_TYPE, "repo": self.mirror.url, "branch": self.branch, **changes}


async def main(queue, args):
    """The entry point ansible-rulebook calls."""
    source = GitPushSource(queue, source_settings(args, os.environ))
    await source.run()


if __name__ == "__main__":
    # Run alone, the source prints its events: python git_push.py <repo> [branch] (webhook off).

    class PrintQueue:
        async def put(self, event):
            print(event, flush=True)

    asyncio.run(main(PrintQueue(), {"repo": sys.argv[1], "branch": (sys.argv[2:] or [None])[0],
                                    "webhook": False, "poll_interval": 5}))
