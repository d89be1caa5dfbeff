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
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from . import MissingTool, tool
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


class Rulebook(Managed):
    """``ansible-rulebook -r trident.gitops.reconcile_on_push`` with the given rulebook variables."""

    def __init__(self, workdir, inventory_dir, variables, token):
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
               "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(self.workdir / ".ansible-tmp")}
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
