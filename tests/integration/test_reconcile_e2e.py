"""End-to-end acceptance: a GitOps repository on the local git server, reconciled against the real
control plane with the collection's playbooks (issue 7).

Three environments:
- ``alpha``: Terraform (a local_file whose content comes from a SOPS secret) + manifests + an
  age-encrypted kubeconfig.sops.yaml and secrets/app.sops.yaml (encrypted by the real sops binary);
- ``beta``: manifests only, plain kubeconfig.yaml;
- ``seed``: the seed layout as it is: kubeconfig.yaml, main.tf (terraform_data), yaml/app.yaml.

It runs on the fuller cluster (controllers, scheduler, kwok nodes), so the Deployments really roll out
and every environment, the seed's app included, must end Healthy.
"""

import base64
import json
import subprocess
import ssl
import threading
import urllib.request

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.sops import sops

# The fuller cluster is shared by its group on one worker (make integration: --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workload_cluster")]

SECRET_GREETING = "s3cr3t-greeting-7f1e"

ALPHA_TF = """
variable "greeting" {
  type = string
}
variable "motd_path" {
  type = string
}
resource "local_file" "motd" {
  filename = var.motd_path
  content  = "${var.greeting} from alpha"
}
"""

SEED_TF = """
resource "terraform_data" "seed" {
  input = "seed"
}
"""


def namespace(name):
    return f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"


def configmap(name, ns, value):
    return (f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
            f"data:\n  mode: {value}\n")


def deployment(name, ns, image, replicas=1):
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: {image}
"""


def encrypt(path, age_key):
    """Encrypt ``path`` in place with the real sops binary (age recipient)."""
    path.write_bytes(sops("--encrypt", "--age", age_key.public, "--input-type", "yaml", "--output-type", "yaml",
                          str(path)))


class Cluster:
    """Direct API calls for injecting drift as other actors would (kubectl edit, kubectl delete)."""

    def __init__(self, plane):
        self.plane = plane
        self.context = ssl.create_default_context(cafile=str(plane.ca_file))

    def request(self, method, path, body=None, content_type="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.plane.server}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.plane.admin_token}", "Content-Type": content_type})
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def get(self, path):
        return self.request("GET", path)


@pytest.fixture(scope="module")
def gitops(tmp_path_factory, workload_cluster, git_server, age_key):
    work = tmp_path_factory.mktemp("e2e")
    repo = GitOpsRepo(git_server, "e2e-gitops", work / "clone")
    kubeconfig = kubeconfig_text(workload_cluster)
    motd = work / "outside" / "motd.txt"
    motd.parent.mkdir()

    repo.write("environments/alpha/env.yml", json.dumps({
        "namespace": "alpha", "prune": True, "terraform_binary": "terraform",
        "terraform_vars": {"motd_path": str(motd)},
        # The same SOPS file also becomes a Kubernetes Secret (the kubernetes role's kubernetes_secrets).
        "vars": {"kubernetes_secrets": [{"name": "app-secret", "from": "app"}]}}))
    repo.write("environments/alpha/main.tf", ALPHA_TF)
    encrypt(repo.write("environments/alpha/kubeconfig.sops.yaml", kubeconfig), age_key)
    encrypt(repo.write("environments/alpha/secrets/app.sops.yaml", f"greeting: {SECRET_GREETING}\n"), age_key)
    repo.write("environments/alpha/manifests/namespace.yaml", namespace("alpha"))
    repo.write("environments/alpha/manifests/settings.yaml", configmap("settings", "alpha", "blue"))
    repo.write("environments/alpha/manifests/web.yaml", deployment("web", "alpha", "nginx:1.25"))

    repo.write("environments/beta/env.yml", "namespace: beta\ntags: [edge]\n")
    repo.write("environments/beta/kubeconfig.yaml", kubeconfig)
    repo.write("environments/beta/yaml/all.yaml", namespace("beta") + configmap("settings", "beta", "green")
               + deployment("api", "beta", "httpd:2.4", replicas=2))

    repo.write("environments/seed/kubeconfig.yaml", kubeconfig)
    repo.write("environments/seed/main.tf", SEED_TF)
    repo.write("environments/seed/yaml/app.yaml", deployment("deploy", "default", "registry.example.com/app:v6.1.0"))
    repo.push("three environments")

    inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")
    # ~/.ansible/tmp of these runs (where AnsiballZ payloads, module arguments included, go without pipelining).
    env = {"SOPS_AGE_KEY_FILE": str(age_key.path), "ANSIBLE_REMOTE_TMP": str(work / "remote-tmp")}

    # The operator lets alpha's Terraform write the motd folder (terraform_apply's sandbox shows nothing else).
    operator = {"terraform_sandbox_write_paths": [str(motd.parent)]}

    def run(playbook, args=(), **extra):
        return run_gitops(playbook, inventory, work, extra_vars={**isolated_vars(work), **operator, **extra}, env=env,
                          args=args)

    return {"repo": repo, "run": run, "motd": motd, "work": work, "cluster": Cluster(workload_cluster)}


class RemoteTmpWatch(threading.Thread):
    """Records every file that appears under ~/.ansible/tmp while the runs go on (polling every 10 ms)."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.seen, self.done = root, set(), threading.Event()

    def run(self):
        while not self.done.wait(0.01):
            self.seen.update(str(path) for path in self.root.rglob("*") if path.is_file())

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()


def assert_ok(result):
    assert result.rc == 0, result.explain()


def changed_steps(result, env):
    steps = result.report["environments"].get(env, {}).get("steps", {})
    return sorted(name for name, step in steps.items() if step["status"] == "changed")


def test_reconcile_drift_and_repair(gitops):
    run, cluster, motd = gitops["run"], gitops["cluster"], gitops["motd"]

    # 1. Everything converges from nothing (waiting until it is Healthy), and a second run has nothing to do.
    first = run("reconcile", kubernetes_wait=True)
    assert_ok(first)
    assert first.changed_hosts() == ["alpha", "beta", "seed"], first.explain()
    assert motd.read_text() == f"{SECRET_GREETING} from alpha"
    assert cluster.get("/apis/apps/v1/namespaces/beta/deployments/api")["spec"]["replicas"] == 2
    assert cluster.get("/api/v1/namespaces/alpha/configmaps/settings")["data"] == {"mode": "blue"}
    secret = cluster.get("/api/v1/namespaces/alpha/secrets/app-secret")["data"]
    assert base64.b64decode(secret["greeting"]).decode() == SECRET_GREETING
    again = run("reconcile")
    assert_ok(again)
    assert again.changed_hosts() == [], again.stats

    clean = run("drift")
    assert_ok(clean)
    assert clean.drifted() == [] and clean.report["mode"] == "check"
    # The Deployments rolled out: every environment, the seed's app included, is Healthy.
    assert {env: report.get("health") for env, report in clean.report["environments"].items()} == {
        "alpha": "Healthy", "beta": "Healthy", "seed": "Healthy"}
    seed = clean.report["environments"]["seed"]["steps"]["kubernetes"]["stats"]
    assert seed["health"] == {"status": "Healthy", "counts": {"Healthy": 1}} and seed["unhealthy"] == []

    # 2. Drift from four directions.
    cluster.request("PATCH", "/apis/apps/v1/namespaces/beta/deployments/api?fieldManager=kubectl-edit",
                    {"spec": {"replicas": 5}}, content_type="application/merge-patch+json")
    cluster.request("DELETE", "/api/v1/namespaces/alpha/configmaps/settings")
    motd.write_text("edited by hand")
    repo = gitops["repo"]
    repo.write("environments/beta/yaml/all.yaml", namespace("beta") + configmap("settings", "beta", "yellow")
               + deployment("api", "beta", "httpd:2.4", replicas=2))
    repo.push("beta: settings yellow")

    drift = run("drift")
    assert_ok(drift)
    assert drift.drifted() == ["alpha", "beta"]
    assert drift.changed_hosts() == ["alpha", "beta"]
    assert changed_steps(drift, "alpha") == ["kubernetes", "terraform"]
    assert changed_steps(drift, "beta") == ["kubernetes", "source"]
    assert changed_steps(drift, "seed") == []
    assert [(i["kind"], i["name"], i["action"]) for i in drift.items("alpha", "kubernetes")] == [
        ("ConfigMap", "settings", "create")]
    assert sorted((i["kind"], i["name"], i["action"]) for i in drift.items("beta", "kubernetes")) == [
        ("ConfigMap", "settings", "update"), ("Deployment", "api", "update")]
    assert [i["address"] for i in drift.items("alpha", "terraform")] == ["local_file.motd"]
    # The reviewer reads why: the file was changed by hand, so Terraform's refresh found it gone.
    assert "`local_file.motd` *create* — deleted outside Terraform" in (drift.report_dir / "drift-report.md").read_text()
    # Check mode changed nothing.
    assert motd.read_text() == "edited by hand"
    assert cluster.get("/apis/apps/v1/namespaces/beta/deployments/api")["spec"]["replicas"] == 5

    failing = run("drift", fail_on_drift=True)
    assert failing.rc != 0
    # localhost: the playbook's first play, which fails when no environment is found
    assert sorted(failing.stats) == ["alpha", "beta", "localhost", "seed"]
    assert {h for h, s in failing.stats.items() if s["failures"]} == {"alpha", "beta"}

    # 3. Reconcile repairs exactly the drifted environments.
    fix = run("reconcile")
    assert_ok(fix)
    assert fix.changed_hosts() == ["alpha", "beta"]
    assert motd.read_text() == f"{SECRET_GREETING} from alpha"
    assert cluster.get("/apis/apps/v1/namespaces/beta/deployments/api")["spec"]["replicas"] == 2
    assert cluster.get("/api/v1/namespaces/beta/configmaps/settings")["data"] == {"mode": "yellow"}
    assert cluster.get("/api/v1/namespaces/alpha/configmaps/settings")["data"] == {"mode": "blue"}

    after = run("drift", fail_on_drift=True)
    assert_ok(after)
    assert after.drifted() == []
    final = run("reconcile")
    assert_ok(final)
    assert final.changed_hosts() == [], final.stats


def test_secrets_never_reach_output_or_disk(gitops):
    """At -vvvv neither the SOPS secret nor the encrypted kubeconfig's token shows; nothing decrypted is left."""
    run = gitops["run"]
    with RemoteTmpWatch(gitops["work"] / "remote-tmp") as watch:
        results = [run("reconcile", args=("-vvvv",)), run("drift", args=("-vvvv",))]
    assert watch.seen == set(), "with pipelining nothing is written to ~/.ansible/tmp, module arguments included"
    for result in results:
        assert_ok(result)
        text = result.stdout + result.stderr + "".join(p.read_text() for p in result.report_dir.iterdir())
        assert SECRET_GREETING not in text
        assert "trident.gitops.kube_diff" in text  # the verbose output is there, without the values
    # The decrypted values exist only where Terraform was asked to put them (the managed file) and in
    # Terraform's state, outside the checkout; the checkout, the locks and the temp dirs hold none.
    work = gitops["work"]
    leaked = subprocess.run(["grep", "-rl", SECRET_GREETING, str(work / "checkout"), str(work / "locks"),
                             str(work / ".ansible-tmp")], capture_output=True, text=True, check=False)
    assert leaked.stdout == ""
    for lock in (work / "locks").iterdir():  # the files stay; nobody holds them
        with file_lock(str(lock), timeout=0):
            pass


HOSTVARS_DUMP = """\
- name: Reconcile
  ansible.builtin.import_playbook: trident.gitops.reconcile

- name: Write down every variable the environment hosts still hold
  hosts: all
  gather_facts: false
  tasks:
    - name: Dump the host's variables
      ansible.builtin.copy:
        dest: "{{ dump_dir }}/{{ inventory_hostname }}.json"
        content: "{{ hostvars[inventory_hostname] | to_json }}"
        mode: "0600"
      delegate_to: localhost
"""


def test_no_host_variable_keeps_a_decrypted_value(gitops, control_plane):
    """After the run, the forget step has cleared every variable that held decrypted data: the SOPS file's
    value, the Secret made of it and the decrypted kubeconfig (its token) are in no host variable."""
    work = gitops["work"]
    playbook, dump = work / "dump-hostvars.yml", work / "hostvars"
    playbook.write_text(HOSTVARS_DUMP)
    dump.mkdir(exist_ok=True)
    result = gitops["run"](str(playbook), dump_dir=str(dump))
    assert_ok(result)
    dumped = {path.stem: path.read_text() for path in dump.iterdir()}
    assert sorted(dumped) == ["alpha", "beta", "seed"]
    assert '"secrets_data": {}' in dumped["alpha"]  # the secrets step ran there, then was forgotten
    encoded = base64.b64encode(SECRET_GREETING.encode()).decode()
    for text in dumped.values():
        assert SECRET_GREETING not in text and encoded not in text
        assert control_plane.admin_token not in text
