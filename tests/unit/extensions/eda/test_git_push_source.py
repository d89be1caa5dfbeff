"""The git_push event source's loop and webhook listener, with a scripted mirror behind its seam.

The listener is the real aiohttp server on loopback; only the git fetch is replaced (the integration
test tests/integration/test_eda.py runs the whole thing against a real git server and ansible-rulebook).
"""

import asyncio
import json
import threading
import urllib.error
import urllib.request

from ansible_collections.trident.gitops.extensions.eda.plugins.event_source.git_push import GitPushSource
from ansible_collections.trident.gitops.plugins.module_utils.git.source import SyncResult
from ansible_collections.trident.gitops.plugins.plugin_utils.push_events import source_settings

TOKEN = "unit-test-webhook-secret-000"


class ScriptedMirror:
    """The branch tip is whatever the test pushed last; ``gate`` can hold a fetch mid-way."""

    url = "git://example.invalid/gitops.git"

    def __init__(self):
        self.seen = "r0"
        self.tip = ("r0", [])
        self.fetches = 0
        self.gate = threading.Event()
        self.gate.set()
        self.fetching = threading.Event()

    def push(self, revision, *environments):
        self.tip = (revision, [f"environments/{env}/yaml/app.yaml" for env in environments])

    def sync(self):
        self.fetches += 1
        before, (after, files) = self.seen, self.tip  # the tip when the fetch starts (ls-remote)
        self.fetching.set()
        self.gate.wait(5)
        self.seen = after
        return SyncResult(before != after, before, after, "branch", "main", files)


class WakeCounter(asyncio.Event):
    """The source's wake-up event, counting who set it (the loop clears it as soon as it wakes)."""

    sets = 0

    def set(self):
        self.sets += 1
        super().set()


def start(mirror, **args):
    queue = asyncio.Queue()
    settings = source_settings({"repo": mirror.url, "token": TOKEN, "port": 0, "quiet": 0.05, "poll_interval": 0,
                                **args}, {})
    source = GitPushSource(queue, settings, mirror)
    return source, queue, asyncio.create_task(source.run())


async def next_event(queue, timeout=5):
    return await asyncio.wait_for(queue.get(), timeout)


async def stop(task):
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def post(port, headers, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def push_body(ref="refs/heads/main"):
    return json.dumps({"object_kind": "push", "ref": ref, "before": "a" * 40, "after": "b" * 40}).encode()


def test_a_burst_of_wakeups_is_one_event_of_the_newest_revision():
    async def scenario():
        mirror = ScriptedMirror()
        source, queue, task = start(mirror, quiet=0.3)
        await asyncio.sleep(0.1)
        for number, env in enumerate(["alpha", "beta", "alpha"], start=1):
            mirror.push(f"r{number}", env)
            source.wake.set()
            await asyncio.sleep(0.05)
        event = await next_event(queue)
        await asyncio.sleep(0.5)
        assert queue.empty()
        await stop(task)
        return event

    event = asyncio.run(scenario())
    assert (event["revision"], event["before"], event["environments"]) == ("r3", "r0", ["alpha", "beta"])
    assert event["type"] == "trident.gitops.push" and event["branch"] == "main" and event["triggers"] == ["webhook"]


def test_a_push_during_a_fetch_is_fetched_again_not_lost():
    async def scenario():
        mirror = ScriptedMirror()
        source, queue, task = start(mirror)
        await asyncio.sleep(0.1)
        mirror.gate.clear()
        mirror.fetching.clear()
        mirror.push("r1", "alpha")
        source.wake.set()
        await asyncio.to_thread(mirror.fetching.wait, 5)  # the fetch has read r1 and is still going ...
        mirror.push("r2", "beta")  # ... when the next push lands and its webhook arrives
        source.wake.set()
        mirror.gate.set()
        events = [await next_event(queue)]
        while events[-1]["revision"] != "r2":
            events.append(await next_event(queue))
        await stop(task)
        return events, mirror.fetches

    events, fetches = asyncio.run(scenario())
    assert {env for event in events for env in event["environments"]} == {"alpha", "beta"}
    assert fetches == 3, "the start, the first webhook, and one more for the webhook during the fetch"


def test_polling_alone_finds_a_push_and_pushes_outside_environments_emit_nothing():
    async def scenario():
        mirror = ScriptedMirror()
        source, queue, task = start(mirror, webhook=False, poll_interval=0.1)
        mirror.tip = ("r1", ["README.md"])
        await asyncio.sleep(0.5)
        assert queue.empty()
        mirror.push("r2", "gamma")
        event = await next_event(queue)
        await stop(task)
        return event, source.port

    event, port = asyncio.run(scenario())
    assert (event["revision"], event["before"], event["environments"], event["triggers"]) == (
        "r2", "r1", ["gamma"], ["poll"])
    assert port is None, "webhook: false opens no listener"


def test_the_listener_wakes_the_source_only_for_an_authenticated_push_of_its_branch():
    async def scenario():
        mirror = ScriptedMirror()
        source, _queue, task = start(mirror, max_body=4096)
        source.wake = WakeCounter()
        while source.port is None:
            await asyncio.sleep(0.02)
        answers = {}
        cases = {
            "no token": ({"X-Gitlab-Event": "Push Hook"}, push_body()),
            "wrong token": ({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "x" * 30}, push_body()),
            "too big": ({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN}, b"x" * 5000),
            "not a push": ({"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": TOKEN}, push_body()),
            "other branch": ({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN}, push_body("refs/heads/dev")),
            "push": ({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN}, push_body()),
        }
        for name, (headers, body) in cases.items():
            before = source.wake.sets
            answers[name] = (await asyncio.to_thread(post, source.port, headers, body), source.wake.sets > before)
        await stop(task)
        return answers, source.settings.host

    answers, host = asyncio.run(scenario())
    assert answers == {"no token": (401, False), "wrong token": (401, False), "too big": (413, False),
                       "not a push": (400, False), "other branch": (202, False), "push": (202, True)}
    assert host == "127.0.0.1"
