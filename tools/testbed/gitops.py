"""A GitOps repository served by the local git server, and the collection's playbooks run against it.

Shared by the end-to-end tests, the Molecule scenarios, the benchmark and ``make demo``: the repository
is an ordinary clone pushed to :class:`testbed.gitserver.GitServer`; the playbooks run as users run
them (``ansible-playbook -i <inventory> trident.gitops.reconcile``) with the drift report enabled.
"""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from .ansible import PlaybookResult
from .gitserver import git


def kubeconfig_text(plane, cluster="trident-test"):
    """A self-contained kubeconfig (CA inline) for the control plane, as a repository would commit it."""
    ca_data = base64.b64encode(Path(plane.ca_file).read_bytes()).decode()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": plane.server, "certificate-authority-data": ca_data}}],
        "users": [{"name": "reconciler", "user": {"token": plane.admin_token}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": "reconciler"}}],
    }
    return yaml.safe_dump(config, sort_keys=False)


class GitOpsRepo:
    """A working clone of a bare repository on the git server; edit files, then :meth:`push`."""

    def __init__(self, server, name, workdir):
        self.server = server
        self.name = name
        self.path = Path(workdir)
        server.create_repo(name)
        git("clone", "--quiet", server.git_url(name), str(self.path))
        git("checkout", "--quiet", "-B", "main", cwd=self.path)

    @property
    def url(self):
        return self.server.git_url(self.name)

    def copy_from(self, source, ignore=None):
        shutil.copytree(source, self.path, dirs_exist_ok=True, ignore=ignore)

    def write(self, relative, text):
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def push(self, message):
        git("add", "--all", cwd=self.path)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.path)
        git("push", "--quiet", "origin", "main", cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path)


EXAMPLE_REPO = Path(__file__).resolve().parents[2] / "examples" / "gitops-repo"
# The example's placeholder kubeconfigs: the seed's two layouts (in the folder, inside yaml/).
EXAMPLE_KUBECONFIGS = ("environments/aliyun/kubeconfig.yaml", "environments/k3s/yaml/kubeconfig.yaml")


def copy_example(dest, plane):
    """examples/gitops-repo copied to ``dest`` with its kubeconfigs pointed at the control plane."""
    dest = Path(dest)
    shutil.copytree(EXAMPLE_REPO, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
    for relative in EXAMPLE_KUBECONFIGS:
        (dest / relative).write_text(kubeconfig_text(plane, cluster=relative.split("/")[1]))
    return dest


def write_inventory(folder, repo_url, cache_dir, version="main"):
    """An inventory file of the environments plugin that fetches the repository."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gitops.environments.yml"
    path.write_text(yaml.safe_dump({"plugin": "trident.gitops.environments", "repo": repo_url,
                                    "version": version, "cache_dir": str(cache_dir)}, sort_keys=False))
    return path


# The reconcile role's last task when an environment failed (roles/reconcile/tasks/main.yml, rescue).
PIPELINE_FAILED = "trident.gitops.reconcile : The environment failed"


class GitOpsRun(PlaybookResult):
    """A playbook run with its drift report (``report``: the parsed drift-report.json)."""

    def __init__(self, proc, data, report_dir):
        super().__init__(proc, data)
        report = Path(report_dir) / "drift-report.json"
        self.report_dir = Path(report_dir)
        self.report = json.loads(report.read_text()) if report.exists() else None

    def changed_hosts(self):
        return sorted(host for host, counts in self.stats.items() if counts.get("changed"))

    def drifted(self):
        return sorted(self.report["summary"]["drifted"]) if self.report else None

    def items(self, env, step):
        """What drifted in one step of one environment, from the roles' set_stats data."""
        steps = self.report["environments"].get(env, {}).get("steps", {})
        return (steps.get(step, {}).get("stats") or {}).get("items", [])

    def failures(self):
        """``(host, task name, msg)`` of every failed task result. The reconcile role fails an environment once more
        after its pipeline's finish (PIPELINE_FAILED) to mark the host failed: that repeat is left out when the task
        that failed first is there."""
        found = [(host, task["task"]["name"], result.get("msg"))
                 for play in (self.data or {}).get("plays", []) for task in play["tasks"]
                 for host, result in task["hosts"].items() if result.get("failed")]
        first = {host for host, name, _msg in found if name != PIPELINE_FAILED}
        return [(host, name, msg) for host, name, msg in found if name != PIPELINE_FAILED or host not in first]

    def explain(self):
        failed = "".join(f"\n{host} | {name}: {msg}" for host, name, msg in self.failures())
        return f"rc={self.rc}\nFAILED:{failed}\nSTDERR:\n{self.stderr[-4000:]}\nSTDOUT:\n{self.stdout[-8000:]}"


def isolated_vars(workdir):
    """Extra vars that keep every lasting file of a run (checkout, Terraform state, locks) in ``workdir``."""
    workdir = Path(workdir)
    return {"source_dest": str(workdir / "checkout"),
            "terraform_state_dir": str(workdir / "terraform-state") + "/{{ inventory_hostname }}",
            "reconcile_lock_dir": str(workdir / "locks"), "reconcile_revisions_dir": str(workdir / "revisions")}


def run_gitops(playbook, inventory, workdir, extra_vars=None, env=None, stdout_callback="ansible.posix.json",
               args=()):
    """``ansible-playbook -i inventory trident.gitops.<playbook>`` (or a playbook file, given by its path or as
    ``*.yml``) with the drift report in ``workdir``."""
    workdir = Path(workdir)
    report_dir = workdir / f"report-{Path(playbook).stem}"
    shutil.rmtree(report_dir, ignore_errors=True)
    is_file = os.sep in str(playbook) or str(playbook).endswith(".yml")
    argv = ["ansible-playbook", "-i", str(inventory), str(playbook) if is_file else f"trident.gitops.{playbook}", *args]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    run_env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": stdout_callback, "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report", "TRIDENT_DRIFT_REPORT_DIR": str(report_dir),
               "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_LOCAL_TEMP": str(workdir / ".ansible-tmp"),
               "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments", **(env or {})}
    proc = subprocess.run(argv, cwd=workdir, env=run_env, capture_output=True, text=True, check=False)
    data = _json_document(proc.stdout) if stdout_callback == "ansible.posix.json" else None
    return GitOpsRun(proc, data, report_dir)


def _json_document(stdout):
    """The JSON callback's document: it starts at a line holding only "{"; the drift report's summary
    (another callback) and, at -v, plain lines may come before or after it."""
    start = 0 if stdout.startswith("{\n") else stdout.find("\n{\n") + 1
    try:
        return json.JSONDecoder().raw_decode(stdout[start:])[0]
    except ValueError:
        return None
