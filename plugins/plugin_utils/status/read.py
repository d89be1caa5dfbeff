# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every environment runs, read where the collection keeps it, without a reconcile (docs/status.md).

One process reads many environments: the inventory's checkout gives the branch's revision and the tree of each
environment's folder at it (``git``), the ApplySet parent (Kubernetes) or the Terraform state dir's
``deployed-revision.json`` gives the record, and the members of the ApplySet their health (both read by
kube/record.py, as the promotion gate reads them). Nothing is planned, decrypted or written; an environment whose
kubeconfig is encrypted is read without its cluster (its record and health are then unknown, and said so).
:func:`read_record` is the one place that knows where records live. Environments whose kubeconfigs name one cluster
and user share one client (:class:`Clients`): one pool of connections, one TLS handshake per connection, one
discovery, however many environments live there.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import CACHE_DIR
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import (
    ConnectionSettings, connect, connection_key)
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Discovery
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import MISSING
from ansible_collections.trident.gitops.plugins.module_utils.kube.record import read_record as applyset_record
from ansible_collections.trident.gitops.plugins.module_utils.terraform.project import read_record as terraform_record
from ansible_collections.trident.gitops.plugins.plugin_utils.deployed_revision import folder_tree, run_git
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import record_step


# A commit's name as a record holds it (the record is the cluster's or the state dir's: checked before Git reads it).
_REVISION = re.compile(r"^[0-9a-f]{7,64}$")
# kube_diff's default discovery cache (kube/request.py): a cluster's resources are read once for both.
DISCOVERY_CACHE = f"{CACHE_DIR}/kube-discovery"


@dataclass(frozen=True)
class Place:
    """Where one environment is and keeps its record: what the inventory and the operator's variables say."""

    name: str
    env_dir: str
    repository: str
    steps: tuple
    promote_from: str | None = None
    error: str | None = None
    # Kubernetes (records.kubernetes_access): the connection (the repository's kubeconfig, or the operator's; None
    # when the kubeconfig is encrypted and the operator gives none) and the ApplySet parent.
    connection: ConnectionSettings | None = None
    applyset: ApplySet | None = None
    # Terraform: the state dir and workspace of the record file.
    state_dir: str = ""
    workspace: str = "default"


@dataclass
class Read:
    """What was read of one environment: ``recorded`` ({revision, tree} or None), the branch's ``revision``,
    ``tree`` and ``subject``, ``health`` (None without Kubernetes), and ``problems`` that kept something unread."""

    name: str
    recorded: dict | None = None
    revision: str | None = None
    tree: str | None = None
    subject: str = ""
    recorded_subject: str = ""
    health: str | None = None
    unhealthy: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def read_record(place: Place, applyset: dict | None = None) -> dict | None:
    """The ``{revision, tree}`` ``place`` was last deployed from, None when it was never deployed: on the ApplySet
    parent when the environment has Kubernetes (``applyset``: what kube/record.py read of it, None when its cluster
    was not read), else in the Terraform state dir (docs/reconcile.md, "The deployed revision"). The one function
    that knows where records live."""
    keeper = record_step(list(place.steps))
    if keeper == "kubernetes":
        recorded = {"revision": applyset["revision"], "tree": applyset["tree"]} if applyset else None
        return recorded if recorded and recorded["revision"] and recorded["tree"] else None
    if keeper == "terraform":
        return terraform_record(os.path.expanduser(place.state_dir), place.workspace)
    return None


def read_all(places: list, workers: int = 16) -> list:
    """Every environment read, in the order given, ``workers`` at a time. Git is read in bulk, one process per
    checkout for the trees and one for the subjects (:class:`_Checkout`); the clusters environment by environment,
    one client per cluster (:class:`Clients`)."""
    checkouts = {}
    for place in places:
        if not place.error:
            checkouts.setdefault(place.repository, _Checkout(place.repository)).want(place.env_dir)
    for checkout in checkouts.values():
        checkout.read_trees()
    clients = Clients(pool_size=max(1, workers))
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(places) or 1))) as pool:
        reads = list(pool.map(lambda place: read_one(place, checkouts.get(place.repository), clients), places))
    for checkout in checkouts.values():
        checkout.read_subjects([r.revision for r in reads] + [(r.recorded or {}).get("revision") for r in reads])
    for place, read in zip(places, reads):
        checkout = checkouts.get(place.repository)
        if checkout is not None and not place.error:
            read.subject = checkout.subjects.get(read.revision, "")
            read.recorded_subject = checkout.subjects.get((read.recorded or {}).get("revision"), "")
    return reads


def read_one(place: Place, checkout=None, clients=None) -> Read:
    """One environment: its folder's tree at the branch (from ``checkout`` when given), its record and health."""
    read = Read(place.name)
    if place.error:
        read.problems.append(place.error)
        return read
    if checkout is None:
        checkout = _Checkout(place.repository).want(place.env_dir).read_trees()
    read.revision, read.tree = checkout.commit, checkout.trees.get(place.env_dir.strip("/"))
    if read.tree is None:
        read.problems.append(f"{place.env_dir}: not a folder of the checkout's commit"
                             if checkout.commit else "the inventory's repository is not a Git checkout")
    try:
        cluster = (clients or Clients()).get(place.connection) if place.connection and place.applyset else None
        if "kubernetes" in place.steps and cluster is None:
            read.problems.append("the kubeconfig is encrypted (status decrypts nothing): record and health unread")
        on_cluster = record_step(list(place.steps)) == "kubernetes"
        if not on_cluster:
            read.recorded = read_record(place)
        if cluster is not None:
            found = applyset_record(*cluster, place.applyset)
            if on_cluster:
                read.recorded = read_record(place, found)
            # No parent: health Missing with no members (with a parent and no members the health is Healthy).
            no_parent = found["health"] == MISSING and not found["objects"]
            read.health, read.unhealthy = (None, []) if no_parent else (found["health"], found["unhealthy"])
    except TridentError as exc:
        read.problems.append(exc.message)
    return read


class Clients:
    """One client (and discovery) per cluster among many environments' connections, by :func:`connection_key`
    (the kubeconfig's server and credentials, not its path): environments on one cluster share its connections.
    Safe for the reading threads; a connection that fails is tried again by the next environment (which then
    reports the same problem)."""

    def __init__(self, pool_size: int = 4):
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._clusters = {}
        self._connecting = {}

    def get(self, settings: ConnectionSettings) -> tuple:
        """``(client, loaded discovery)`` of the cluster ``settings`` reach (read with a 10 s timeout)."""
        settings = replace(settings, timeout=10.0)
        key = connection_key(settings)
        with self._lock:
            connecting = self._connecting.setdefault(key, threading.Lock())
        with connecting:
            if key not in self._clusters:
                client = connect(settings, pool_size=self.pool_size)
                self._clusters[key] = (client, Discovery(client, DISCOVERY_CACHE).load())
            return self._clusters[key]


class _Checkout:
    """One Git checkout read in bulk: the commit HEAD is, the trees of the environment folders at it, and the
    subjects of commits (``git cat-file --batch-check`` and ``--batch``: one process each, whatever the count)."""

    def __init__(self, repository: str):
        self.repository = repository
        self.folders = []
        self.commit = None
        self.trees = {}
        self.subjects = {}

    def want(self, env_dir: str):
        self.folders.append(env_dir)
        return self

    def read_trees(self):
        self.commit, _tree = folder_tree(run_git(self.repository), "HEAD", "")
        names = [folder.strip("/") for folder in self.folders if "\n" not in folder]
        if self.commit and names:
            out = self._cat_file("--batch-check=%(objectname) %(objecttype)", [f"{self.commit}:{n}" for n in names])
            for name, line in zip(names, out.decode("utf-8", "replace").splitlines()):
                sha, _space, kind = line.partition(" ")
                self.trees[name] = sha if kind == "tree" else None
        return self

    def read_subjects(self, revisions: list):
        wanted = sorted({r for r in revisions if isinstance(r, str) and _REVISION.match(r)})
        out = self._cat_file("--batch", wanted) if wanted else b""
        for revision in wanted:
            header, _newline, out = out.partition(b"\n")
            parts = header.split(b" ")
            if len(parts) != 3 or not parts[2].isdigit():
                continue  # "<name> missing": a shallow checkout may lack a recorded commit
            size = int(parts[2])
            body, out = out[:size], out[size + 1:]
            if parts[1] == b"commit":
                message = body.split(b"\n\n", 1)[1] if b"\n\n" in body else b""
                # git's %s: the first paragraph, its lines joined by spaces
                self.subjects[revision] = " ".join(message.decode("utf-8", "replace").strip("\n")
                                                   .split("\n\n", 1)[0].split("\n"))
        return self

    def _cat_file(self, option: str, names: list) -> bytes:
        done = subprocess.run(["git", "-C", self.repository, "cat-file", option], capture_output=True, check=False,
                              input=("\n".join(names) + "\n").encode("utf-8"))
        return done.stdout if done.returncode == 0 else b""
