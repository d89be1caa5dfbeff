# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every environment runs, read where the collection keeps it, without a reconcile (docs/status.md).

One process reads many environments: the inventory's checkout gives the branch's revision and the tree of each
environment's folder at it (``git``), the ApplySet parent (Kubernetes) or the Terraform state dir's
``deployed-revision.json`` gives the record, and the members of the ApplySet their health. Nothing is planned,
decrypted or written; an environment whose kubeconfig is encrypted is read without its cluster (its record and
health are then unknown, and said so). :func:`read_record` is the one place that knows where records live.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import CACHE_DIR
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import (
    PART_OF, ApplySet)
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings, connect
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Discovery
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import HEALTHY, UNKNOWN, health, worst
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import live_parent
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
    # Kubernetes: the connection (the repository's kubeconfig, or the operator's) and the ApplySet parent.
    kubeconfig: str | None = None
    kubeconfig_encrypted: bool = False
    context: str | None = None
    exec_commands: tuple = ()
    applyset_name: str = ""
    applyset_namespace: str = "default"
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


def read_record(place: Place, client=None) -> dict | None:
    """The ``{revision, tree}`` ``place`` was last deployed from, None when it was never deployed: on the ApplySet
    parent when the environment has Kubernetes (``client`` connected to its cluster), else in the Terraform state
    dir (docs/reconcile.md, "The deployed revision"). The one function that knows where records live."""
    keeper = record_step(list(place.steps))
    if keeper == "kubernetes":
        return ApplySet.deployed(live_parent(client, _applyset(place))) if client is not None else None
    if keeper == "terraform":
        return terraform_record(os.path.expanduser(place.state_dir), place.workspace)
    return None


def read_all(places: list, workers: int = 16) -> list:
    """Every environment read, in the order given, ``workers`` at a time. Git is read in bulk, one process per
    checkout for the trees and one for the subjects (:class:`_Checkout`); the clusters environment by environment."""
    checkouts = {}
    for place in places:
        if not place.error:
            checkouts.setdefault(place.repository, _Checkout(place.repository)).want(place.env_dir)
    for checkout in checkouts.values():
        checkout.read_trees()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(places) or 1))) as pool:
        reads = list(pool.map(lambda place: read_one(place, checkouts.get(place.repository)), places))
    for checkout in checkouts.values():
        checkout.read_subjects([r.revision for r in reads] + [(r.recorded or {}).get("revision") for r in reads])
    for place, read in zip(places, reads):
        checkout = checkouts.get(place.repository)
        if checkout is not None and not place.error:
            read.subject = checkout.subjects.get(read.revision, "")
            read.recorded_subject = checkout.subjects.get((read.recorded or {}).get("revision"), "")
    return reads


def read_one(place: Place, checkout=None) -> Read:
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
        client = _client(place) if "kubernetes" in place.steps else None
        if "kubernetes" in place.steps and client is None:
            read.problems.append("the kubeconfig is encrypted (status decrypts nothing): record and health unread")
        read.recorded = read_record(place, client)
        if client is not None:
            read.health, read.unhealthy = _health(client, place)
    except TridentError as exc:
        read.problems.append(exc.message)
    return read


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


def _applyset(place: Place) -> ApplySet:
    return ApplySet(place.applyset_name or f"trident-{place.name}", place.applyset_namespace or "default")


def _client(place: Place):
    """A client of the environment's cluster, None when its kubeconfig is encrypted (not decrypted here)."""
    if place.kubeconfig_encrypted and not place.kubeconfig:
        return None
    settings = ConnectionSettings(kubeconfig=place.kubeconfig or None, context=place.context or None,
                                  exec_commands=tuple(place.exec_commands), repository_root=place.repository,
                                  timeout=10.0)
    return connect(settings, pool_size=4)


def _health(client, place: Place) -> tuple:
    """The worst health of the ApplySet's members, and ``[{kind, namespace, name, health, reason}]`` of those that
    are not Healthy; (None, []) when there is no parent."""
    applyset = _applyset(place)
    parent = live_parent(client, applyset)
    if parent is None:
        return None, []
    kinds, namespaces = ApplySet.recorded(parent)
    if not kinds:
        return HEALTHY, []
    discovery = Discovery(client, DISCOVERY_CACHE).load()
    statuses, unhealthy = [], []
    for group, kind in sorted(kinds):
        resource = next((r for (g, _v, k), r in discovery.resources.items() if g == group and k == kind), None)
        if resource is None:
            statuses.append(UNKNOWN)
            continue
        for namespace in sorted(namespaces) if resource.namespaced else [None]:
            for listed in _members(client, resource, namespace, applyset.id):
                obj = {**listed, "apiVersion": resource.api_version, "kind": kind}  # a LIST's items lack both
                judged = health(obj)
                statuses.append(judged.status)
                if judged.status != HEALTHY:
                    meta = obj.get("metadata") or {}
                    unhealthy.append({"kind": kind, "namespace": meta.get("namespace") or "", "name": meta.get("name"),
                                      "health": judged.status, "reason": judged.reason})
    return worst(statuses), unhealthy


def _members(client, resource, namespace, applyset_id):
    base = f"/api/{resource.version}" if not resource.group else f"/apis/{resource.group}/{resource.version}"
    if namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    try:
        answer = client.request("GET", f"{base}/{resource.plural}", query={"labelSelector": f"{PART_OF}={applyset_id}"})
        return answer.get("items") or []
    except TridentError as exc:
        if getattr(exc, "status", None) == 404:
            return []
        raise
