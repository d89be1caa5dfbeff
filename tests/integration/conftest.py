"""Session-wide real services for integration tests. A missing tool fails the test, never skips it."""

import inspect

import pytest

from testbed.controlplane import ControlPlane
from testbed.gitea import GiteaServer
from testbed.gitserver import GitServer
from testbed.keys import GnuPGHome, age_identity
from testbed.recorder import RequestRecorder
from testbed.sshserver import SSHServer
from testbed.vault import VaultServer


# Services built from a deferred tool (tools/toolchain.py): a cold `make test` builds them while the other tests run.
DEFERRED_SERVICES = (GiteaServer, VaultServer)


DEFERRED_FIXTURES = {"vault_server", "gitea_server"}


def uses_deferred_service(item):
    """Whether a test starts Vault or Gitea: a fixture, a fixture its parameter asks for, or its module's own server."""
    asked = set(item.fixturenames)
    for value in getattr(getattr(item, "callspec", None), "params", {}).values():
        if callable(value):  # a driver that names the fixtures it needs (test_repository_paths)
            asked.update(inspect.signature(value).parameters)
    return bool(asked & DEFERRED_FIXTURES) or any(getattr(item.module, cls.__name__, None) is cls
                                                  for cls in DEFERRED_SERVICES)


def pytest_collection_modifyitems(items):
    """The tests that start Vault or Gitea last, so a cold run builds those tools while the others run.

    A stable sort: the order within each part stays pytest's (and the same on every xdist worker)."""
    items.sort(key=uses_deferred_service)


def _running(plane):
    """Start ``plane`` and stop it afterwards, also when its start fails half-way."""
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    yield from _running(ControlPlane(tmp_path_factory.mktemp("control-plane"), audit=True))


@pytest.fixture(scope="session")
def workload_cluster(tmp_path_factory):
    """The control plane plus kube-controller-manager, kube-scheduler and kwok nodes: workloads run.

    Shared by every test of the session that needs controllers; tests that do not keep using the
    bare ``control_plane``, which starts faster.
    """
    yield from _running(ControlPlane(tmp_path_factory.mktemp("workload-cluster"), workloads=True))


@pytest.fixture(scope="session")
def git_server(tmp_path_factory):
    with GitServer(tmp_path_factory.mktemp("git-server") / "repos") as server:
        yield server


@pytest.fixture(scope="session")
def gnupg_home(tmp_path_factory):
    """A GnuPG home with one RSA and one ed25519/cv25519 key, both without passphrase."""
    home = GnuPGHome(tmp_path_factory.mktemp("gnupg"))
    home.generate("Trident RSA <rsa@trident.invalid>", "rsa3072")
    home.generate("Trident Ed <ed@trident.invalid>", "ed25519")
    yield home
    home.close()


@pytest.fixture(scope="session")
def age_key(tmp_path_factory):
    return age_identity(tmp_path_factory.mktemp("age"))


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory):
    """A real sshd on loopback (key authentication only) for git over SSH."""
    with SSHServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="session")
def vault_server(tmp_path_factory):
    """A real Vault in dev mode: root token, KV v2 at secret/, transit, AppRole and JWT auth (testbed.vault)."""
    yield from _running(VaultServer(tmp_path_factory.mktemp("vault")))


@pytest.fixture(scope="session")
def gitea_server(tmp_path_factory):
    """A real Gitea: admin user ``trident`` with an API token; webhooks may target loopback (testbed.gitea)."""
    yield from _running(GiteaServer(tmp_path_factory.mktemp("gitea")))


@pytest.fixture()
def request_recorder():
    """A loopback HTTP server that records every request (webhook receiver, spy server)."""
    with RequestRecorder() as recorder:
        yield recorder
