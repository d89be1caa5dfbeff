"""The README's "Quick start for users", run as a new user would: its own command lines, in order.

An empty folder, a fresh HOME (whose only file is the kubeconfig of a local control plane: the cluster the user
brings) and a fresh virtualenv with only the runtime requirements (no development packages): the collection
installed from Git (this repository's committed HEAD, pushed to the local git server), a GitOps repository made by
the README's own line (trident.gitops.init), then drift, reconcile and drift with ``fail_on_drift``. Only the value
the README marks ``# yours`` (the URL of this repository) is replaced; nothing else is prepared.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import toolchain
from testbed import tool
from testbed.controlplane import ControlPlane
from testbed.gitops import kubeconfig_text
from testbed.gitserver import GitServer, git

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PLACEHOLDER_URL = "https://git.example.com/platform/trident-gitops.git"
MARKER = "### quickstart step"


def quickstart_commands(readme_text):
    """The ``$ `` lines of the console block that follows the quickstart marker comment."""
    after = readme_text.split("<!-- quickstart:", 1)[1]
    block = re.search(r"```console\n(.*?)```", after, re.S).group(1)
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


def user_environment(home):
    """What a new user's shell has: no virtualenv, no Ansible settings, the system's Python and tools."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV", "TF_", "PIP_", "TRIDENT_"))}
    # The system's python3 (the one this virtualenv was made from), git, gpg, and the vendors' terraform,
    # tofu and kubectl (here: the pinned builds); not the development virtualenv.
    path = [str(Path(sys.base_prefix) / "bin"), str(toolchain.BIN_DIR), "/usr/local/bin", "/usr/bin", "/bin",
            "/usr/sbin", "/sbin"]
    # A shared download cache only saves time; it installs nothing by itself.
    return {**keep, "HOME": str(home), "PATH": os.pathsep.join(path),
            "PIP_CACHE_DIR": str(toolchain.CACHE / "pip-quickstart")}


def script(commands, url):
    lines = ["set -euo pipefail"]
    for number, command in enumerate(commands):
        if command.rstrip().endswith("# yours"):
            command = command.replace(PLACEHOLDER_URL, url)
        lines += [f"echo '{MARKER} {number}'", command]
    return "\n".join(lines) + "\n"


def outputs_by_step(stdout):
    parts = re.split(rf"^{MARKER} (\d+)$", stdout, flags=re.M)
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2])}


def recap_changed(text):
    return {host: int(changed) for host, changed in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", text, re.M)}


def test_the_readme_quick_start_works_verbatim_on_a_fresh_machine(tmp_path):
    commands = quickstart_commands(README.read_text())
    assert sum(c.rstrip().endswith("# yours") for c in commands) == 1
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    with GitServer(tmp_path / "git") as server, ControlPlane(tmp_path / "plane") as plane:
        server.create_repo("trident-gitops")
        git("push", "--quiet", server.git_url("trident-gitops"), "HEAD:refs/heads/main", cwd=REPO)
        # The user's cluster: their current kubectl context, as kubectl would find it.
        (home / ".kube").mkdir(parents=True)
        (home / ".kube" / "config").write_text(kubeconfig_text(plane))
        proc = subprocess.run(["bash", "-c", script(commands, server.git_url("trident-gitops"))], cwd=work,
                              env=user_environment(home), capture_output=True, text=True, check=False)
        steps = outputs_by_step(proc.stdout)
        assert proc.returncode == 0, f"quick start failed at step {max(steps, default=0)}:\n" \
                                     f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        drift_command = ["ansible-playbook", "trident.gitops.drift"]
        first_drift = next(n for n, c in enumerate(commands) if shlex.split(c, comments=True)[:2] == drift_command)
        # The playbooks' first play, on localhost, only checks that the inventory found environments.
        changed = {host: count for host, count in recap_changed(steps[first_drift]).items() if host != "localhost"}
        assert set(changed) == {"aliyun", "k3s"} and all(changed.values()), "the first drift finds everything to do"
        # The drift report's summary says what would change, by name, in the default output.
        assert re.search(r"^aliyun: .*Terraform 2 to create \(terraform_data\.app_settings, "
                         r"terraform_data\.db_credentials\); Kubernetes \d+ to create \(\w+ gitops-demo",
                         steps[first_drift], re.M), steps[first_drift][-3000:]
        reports = work / "my-gitops-repo" / "reports"
        assert (reports / "verdict").read_text() == "in_sync\n", "ansible.cfg writes the report where it says"
        assert (reports / "drift-report.md").is_file()
        assert "skipping: no hosts matched" not in proc.stdout, "no lines for waves without environments"
        live = subprocess.run([tool("kubectl"), "--kubeconfig", str(plane.kubeconfig), "get", "deployment",
                               "--all-namespaces", "-o", "name"], capture_output=True, text=True, check=True)
        assert "deployment.apps/deploy" in live.stdout, "the reconcile applied the example's Deployment"
    venv_python = home / ".venvs" / "trident" / "bin" / "python"
    installed = subprocess.run([str(venv_python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                               text=True, check=True).stdout
    assert "ansible-core==" in installed and "kubernetes==" in installed
    assert "pytest==" not in installed and "ansible-lint==" not in installed, "only the runtime requirements"
