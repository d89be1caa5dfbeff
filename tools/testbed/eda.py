"""The real ``ansible-rulebook`` running the collection's reconcile_on_push rulebook, and webhooks to it.

ansible-rulebook's rule engine (Drools) runs in a JVM: :func:`java_home` finds a Java 17+ the way
ansible-rulebook does (``JAVA_HOME``, else the ``java`` on PATH; Debian's openjdk-17-jre-headless,
which ``make tools`` installs when it is missing) and raises :class:`MissingTool` when there is none,
so a test fails instead of skipping.
"""

import hashlib
import hmac
import json
import os
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from . import MissingTool, tool
from .gitops import GitOpsRepo, isolated_vars, kubeconfig_text, write_inventory
from .process import Managed, Service, free_port, wait_until

EVENT_LINE = re.compile(r"git_push: \S+ moved to ([0-9a-f]{40}); environments changed: (.*)$", re.MULTILINE)


def java_home():
    """JAVA_HOME of a Java 17 or newer, or MissingTool."""
    java = str(Path(os.environ["JAVA_HOME"]) / "bin" / "java") if os.environ.get("JAVA_HOME") else tool("java")
    try:
        proc = subprocess.run([java, "-XshowSettings:properties", "-version"], capture_output=True, text=True,
                              check=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise MissingTool(f"Java 17 is needed by ansible-rulebook and {java} does not run: {exc}") from None
    settings = dict(re.findall(r"^\s*(java\.home|java\.specification\.version) = (.*)$", proc.stderr, re.MULTILINE))
    if int(settings.get("java.specification.version", "0").split(".")[0]) < 17:
        raise MissingTool(f"ansible-rulebook needs Java 17 or newer; {java} is {settings}")
    return settings["java.home"]


def write_eda_inventory(folder, inventory_file, role_vars):
    """An inventory folder for ansible-rulebook: the environments inventory and group_vars for the roles.

    ansible-rulebook copies the folder into a private directory for every run, so both travel together.
    """
    folder = Path(folder)
    (folder / "group_vars").mkdir(parents=True, exist_ok=True)
    (folder / "group_vars" / "all.yml").write_text(yaml.safe_dump(role_vars))
    (folder / "gitops.environments.yml").write_text(Path(inventory_file).read_text())
    return folder


def namespaced_configmap(namespace, mode):
    """An environment's manifests: its namespace and a ConfigMap ``settings`` whose ``mode`` tells the revision."""
    return (f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
            f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {namespace}\n"
            f"data:\n  mode: {mode}\n")


class PushWorkspace:
    """A GitOps repository of manifest-only environments on the git server, the cluster they target,
    and the inventory folder rulebooks read. Each environment's namespace is its name."""

    def __init__(self, tmp, plane, server, environments, repo_name="eda-gitops"):
        self.tmp = Path(tmp)
        self.plane = plane
        self.repo = GitOpsRepo(server, repo_name, self.tmp / "clone")
        kubeconfig = kubeconfig_text(plane)
        for env in environments:
            self.repo.write(f"environments/{env}/kubeconfig.yaml", kubeconfig)
            self.repo.write(f"environments/{env}/env.yml", f"namespace: {env}\n")
        self.set_mode(environments[0], "initial")
        self.head = self.push("environments")
        inventory = write_inventory(self.tmp / "inventory-file", self.repo.url, self.tmp / "inventory-cache")
        self.inventory_dir = write_eda_inventory(self.tmp / "inventory", inventory, isolated_vars(self.tmp / "runs"))

    def set_mode(self, env, mode):
        self.repo.write(f"environments/{env}/yaml/all.yaml", namespaced_configmap(env, mode))

    def push(self, message):
        self.head = self.repo.push(message)
        return self.head

    def mode(self, env):
        """The applied ConfigMap's mode, or None when the environment was never applied."""
        request = urllib.request.Request(f"{self.plane.server}/api/v1/namespaces/{env}/configmaps/settings",
                                         headers={"Authorization": f"Bearer {self.plane.admin_token}"})
        try:
            with urllib.request.urlopen(request, context=self._tls(), timeout=30) as response:
                return json.loads(response.read())["data"]["mode"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def _tls(self):
        return ssl.create_default_context(cafile=str(self.plane.ca_file))

    def rulebook(self, name, token, env=None, **variables):
        """A rulebook of this workspace; ``env`` is added to the environment of ansible-rulebook and its runs."""
        return Rulebook(self.tmp / name, self.inventory_dir, {
            "trident_repo": self.repo.url, "trident_branch": "main",
            "trident_eda_state_dir": str(self.tmp / name / "mirror"), **variables}, token, env=env)


class Rulebook(Managed):
    """``ansible-rulebook -r trident.gitops.reconcile_on_push`` with the given rulebook variables."""

    def __init__(self, workdir, inventory_dir, variables, token, env=None):
        self.extra_env = dict(env or {})
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = token
        self.variables = {"trident_webhook_port": self.port, **variables}
        self.inventory_dir = inventory_dir
        self.service = None

    def start(self, timeout=120):
        vars_file = self.workdir / "rulebook-vars.yml"
        vars_file.write_text(yaml.safe_dump(self.variables))
        env = {**os.environ, "JAVA_HOME": java_home(), "TRIDENT_WEBHOOK_TOKEN": self.token,
               "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
               "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(self.workdir / ".ansible-tmp"), **self.extra_env}
        self.service = Service("ansible-rulebook", [
            tool("ansible-rulebook"), "-r", "trident.gitops.reconcile_on_push", "-i", self.inventory_dir,
            "--vars", vars_file, "--env-vars", "TRIDENT_WEBHOOK_TOKEN", "-v"],
            self.workdir / "ansible-rulebook.log", env=env, cwd=self.workdir).start()
        wait_until(lambda: "git_push: following" in self.log(), timeout, "the git_push source", self.service)
        return self

    def stop(self):
        if self.service is not None:
            self.service.stop()

    def log(self):
        return self.service.log_tail(chars=10_000_000) if self.service else ""

    def events(self):
        """(revision, [environments]) of every event the source emitted, in order."""
        return [(sha, envs.split(", ")) for sha, envs in EVENT_LINE.findall(self.log())]

    def runs(self):
        """Playbook runs the rulebook finished."""
        return self.log().count("PLAY RECAP")

    def wait_idle(self, timeout=120):
        """Until every event emitted so far has had its run."""
        wait_until(lambda: self.runs() >= len(self.events()), timeout, "the reconcile runs", self.service, 0.2)

    def webhook(self, headers, body, path="/"):
        """POST to the source's listener; returns the HTTP status."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code


def gitlab_push(before, after, branch="main"):
    """A GitLab push hook body (the fields the source checks, as GitLab sends them)."""
    return json.dumps({"object_kind": "push", "event_name": "push", "ref": f"refs/heads/{branch}",
                       "before": before, "after": after, "total_commits_count": 1}).encode()


def gitlab_headers(token):
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token}


def github_headers(token, body):
    signature = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}
