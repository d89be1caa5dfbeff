"""Local services for the Molecule scenarios: a real kube-apiserver and git server serving a GitOps repository.

With TRIDENT_MOLECULE_WORKLOADS=1 the control plane also runs the controllers, scheduler and kwok nodes
(docs/testbed.md: about 2 s more start-up), and the repository gets the seed's app as environment
``k3s`` (examples/gitops-repo's Namespace and Deployment), so a scenario can check it ends Healthy.

    services.py start <state_dir>   start them in the background; write <state_dir>/gitops.environments.yml
                                    (the inventory the scenario runs against) and <state_dir>/services.json
    services.py stop <state_dir>    stop them

The background process holds the services (they die with it) until it gets SIGTERM.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))

from testbed.controlplane import ControlPlane  # noqa: E402  (tools/ is put on the path above)
from testbed.gitops import GitOpsRepo, kubeconfig_text, write_inventory  # noqa: E402
from testbed.gitserver import GitServer  # noqa: E402
from testbed.keys import age_identity  # noqa: E402
from testbed.sops import sops  # noqa: E402

ENVIRONMENTS = {
    # manifests only
    "web": {"env.yml": "namespace: molecule-web\nprune: true\n",
            "yaml/app.yaml": "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: molecule-web\n"
                             "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
                             "data:\n  mode: blue\n"},
    # Terraform (no provider download) and manifests
    "infra": {"env.yml": "namespace: default\n",
              "main.tf": 'resource "terraform_data" "marker" {\n  input = "molecule"\n}\n',
              "manifests/settings.yaml": "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: infra-settings\n"
                                         "data:\n  mode: green\n"},
}


SEED_APP = Path(__file__).resolve().parents[3] / "examples" / "gitops-repo" / "environments" / "k3s"
SEED_APP_FILES = ("env.yml", "yaml/namespace.yaml", "yaml/app.yaml")


def environments(workloads):
    """The scenario's environments: the seed's app (``k3s``) too when Deployments can roll out."""
    if not workloads:
        return ENVIRONMENTS
    return {**ENVIRONMENTS, "k3s": {name: (SEED_APP / name).read_text() for name in SEED_APP_FILES}}


def serve(state_dir):
    state_dir.mkdir(parents=True, exist_ok=True)
    workloads = os.environ.get("TRIDENT_MOLECULE_WORKLOADS") == "1"
    with ControlPlane(state_dir / "control-plane", workloads=workloads) as plane, \
            GitServer(state_dir / "git") as server:
        repo = GitOpsRepo(server, "molecule", state_dir / "clone")
        for env, files in environments(workloads).items():
            for name, text in files.items():
                repo.write(f"environments/{env}/{name}", text)
            repo.write(f"environments/{env}/kubeconfig.yaml", kubeconfig_text(plane))
        # A SOPS file encrypted by the real sops for an age key kept next to the services (age.txt).
        key = age_identity(state_dir)
        key.path.rename(state_dir / "age.txt")
        secret = repo.write("environments/web/secrets/app.sops.yaml", "greeting: hello from molecule\n")
        secret.write_bytes(sops("--encrypt", "--age", key.public, str(secret)))
        repo.push("molecule scenario")
        write_inventory(state_dir, repo.url, state_dir / "inventory-cache")
        (state_dir / "services.json").write_text(json.dumps({
            "pid": os.getpid(), "server": plane.server, "token": plane.admin_token, "ca_file": str(plane.ca_file),
            "repo": repo.url}))
        stopped = []
        signal.signal(signal.SIGTERM, lambda *args: stopped.append(True))
        while not stopped:
            time.sleep(0.5)


def start(state_dir):
    state = state_dir / "services.json"
    state.unlink(missing_ok=True)
    log = open(state_dir / "services.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    process = subprocess.Popen([sys.executable, __file__, "serve", str(state_dir)], stdout=log, stderr=log,
                               start_new_session=True)
    deadline = time.monotonic() + 180
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"the services did not start: {(state_dir / 'services.log').read_text()[-3000:]}")
        time.sleep(0.5)
    print(state.read_text())


def stop(state_dir):
    state = state_dir / "services.json"
    if not state.exists():
        return
    pid = json.loads(state.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
        for _attempt in range(120):
            os.kill(pid, 0)
            time.sleep(0.5)
    except ProcessLookupError:
        pass
    state.unlink()


if __name__ == "__main__":
    command, folder = sys.argv[1], Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    {"serve": serve, "start": start, "stop": stop}[command](folder)
