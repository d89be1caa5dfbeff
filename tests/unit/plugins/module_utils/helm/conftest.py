"""A recording command runner: the unit tests' stand-in for helm."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandResult


class FakeRunner:
    """Answers each call with ``respond(argv, data)`` -> (rc, stdout, stderr) and records (argv, env, data)."""

    def __init__(self, respond):
        self.respond = respond
        self.calls = []

    def __call__(self, argv, cwd=None, env=None, data=None, check=True, binary_output=False):
        self.calls.append((list(argv), dict(env or {}), data))
        rc, stdout, stderr = self.respond(list(argv), data)
        return CommandResult(tuple(argv), rc, stdout, stderr)


@pytest.fixture
def fake_runner():
    return FakeRunner
