"""The generated attack suite of issue 24: the repository is data, through the real playbooks (docs/security.md).

Every repository input a merge-request author or a merger controls (environment folder names, env.yml keys and
values, ``vars`` entries and the gate names among them, manifest and SOPS file names, kubeconfig fields, commit
subjects, branch names) is crossed with every hostile form (Jinja expressions and statements, ``$VAR`` and ``${VAR}``
naming a variable that holds a canary, ``~``, absolute and ``..`` paths to a canary file, a symlink out of the
repository, URL schemes and Git address forms pointing at a spy server, Markdown and HTML). One repository holds one
environment per hostile value of an input class, so one ``drift.yml`` run (the merge-request preview) and, where a
merger could land it, one ``reconcile.yml`` run attack the whole class at ``-vvv`` against the testbed's
kube-apiserver, real git, sops and age, and Terraform.

Oracles, for every class:
1. no canary (the content of a controller file, the value of an environment variable, a decrypted secret) appears
   in stdout or stderr, in any file of the report folder (JSON, Markdown, JUnit, verdict) or in any object of the
   cluster;
2. no marker file is created (the Jinja forms and the kubeconfig's exec command would create one);
3. the spy server records no request (every URL form names it);
4. the outcome is the one the docs promise: refused with a message naming the environment's file, or deployed
   literally (the object or the Terraform state holds the hostile text as written), never a crash (no traceback).
"""

import json
import os
import re
import secrets
import subprocess
from xml.etree import ElementTree
from html.parser import HTMLParser

import cmarkgfm
import pytest
import yaml
from cmarkgfm.cmark import Options
from markdown_it import MarkdownIt

from kube_support import unique
from test_reconcile_e2e import Cluster
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.gitserver import git
from testbed.sops import sops
from testbed.spy import Spy

# One worker runs the module: its classes share the spy, the canaries and the control plane's namespaces.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("attacks")]

VAR = "TRIDENT_ATTACK_CANARY"
ENV_CANARY = f"env-canary-{secrets.token_hex(8)}"
FILE_CANARY = f"file-canary-{secrets.token_hex(8)}"
SECRET_CANARY = f"secret-canary-{secrets.token_hex(8)}"
CANARIES = (ENV_CANARY, FILE_CANARY, SECRET_CANARY)
# Enough '..' to reach / from wherever the checkout is.
UP = "../" * 24


class World:
    """The controller as an attacker would like it: a canary file in HOME, a canary variable, a marker folder and
    a spy server; every hostile form is spelled against them."""

    def __init__(self, work, spy):
        self.work = work
        self.spy = spy
        self.home = work / "home"
        self.home.mkdir()
        self.canary = self.home / "canary.txt"
        self.canary.write_text(f"{FILE_CANARY}\n")
        self.markers = work / "markers"
        self.markers.mkdir()

    def marker(self, name):
        return self.markers / name

    def created_markers(self):
        """Files the hostile commands would create: in the marker folder, or named ``am-*`` anywhere (HOME, the
        working folders): a hostile file name holds a space or a quote, a created marker none."""
        named = [path for path in self.work.rglob("am-*") if not set(path.name) & set(" '\"&$")]
        return sorted(str(path) for path in [*self.markers.iterdir(), *named])

    def forms(self, tag):
        """``{form name: hostile text}``; ``tag`` keeps each form's marker file and spy path apart per input."""
        spy, canary = self.spy.host, str(self.canary)
        return {
            "jinja": f"{{{{ lookup('pipe', 'touch {self.marker(tag + '-jinja')}') }}}}",
            "jinja-statement": f"{{% if lookup('pipe', 'touch {self.marker(tag + '-stmt')}') %}}x{{% endif %}}",
            "jinja-env": f"{{{{ lookup('env', '{VAR}') }}}}",
            "jinja-file": f"{{{{ lookup('file', '{canary}') }}}}",
            "dollar": f"${VAR}",
            "dollar-braced": f"${{{VAR}}}",
            "tilde": "~/canary.txt",
            "absolute": canary,
            "dot-dot": f"{UP}{canary.lstrip('/')}",
            "symlink": "link-out",  # each repository commits this link to the canary
            "file-url": f"file://{canary}",
            "http-spy": f"http://{spy}/{tag}/http",
            "ssh-url": f"ssh://git@{spy}/{tag}/repo.git",
            "scp-address": f"git@{spy.split(':')[0]}:{tag}/repo.git",
            "markdown": f"![x](http://{spy}/{tag}/img) [approve](http://{spy}/{tag}/link) @all",
            "html": f'<img src="http://{spy}/{tag}/html"><script>x</script>',
        }


@pytest.fixture(scope="module")
def spy():
    server = Spy().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory, spy):
    return World(tmp_path_factory.mktemp("attacks"), spy)


# -- repositories and runs ---------------------------------------------------------------------------------------

def env_name(form):
    return f"f-{form}"


def namespace_doc(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def config_map_doc(name, ns, data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def dump(*docs):
    return yaml.safe_dump_all(docs, sort_keys=False)


class Attack:
    """One input class: a repository on the git server with one environment per hostile value, and its runs."""

    def __init__(self, world, git_server, control_plane, age_key, name):
        self.world, self.plane, self.age_key = world, control_plane, age_key
        self.name = name
        self.work = world.work / name
        self.repo = GitOpsRepo(git_server, f"attack-{name}", self.work / "clone")
        self.ns = unique("atk-" + re.sub(r"[^a-z0-9]+", "-", name.lower())[-24:].strip("-"))
        self.kubeconfig = kubeconfig_text(control_plane)
        self.runs = []
        self.namespaces = []
        self.spy_seen = len(world.spy.requests)
        # Path prefixes the spy may be asked for: what docs/security.md ("Requests a preview makes") says a preview
        # fetches from the addresses the branch names (the cluster's API server, chart repositories). Such a
        # request must still carry no canary.
        self.spy_allowed = ()
        self.markers_before = set(world.created_markers())

    def environment(self, folder, env_yml=None, manifests=True, kubeconfig=True):
        """A plain environment: its own namespace with a ConfigMap; ``env_yml`` as data (dumped, never formatted)."""
        base = f"environments/{folder}"
        index = len(self.namespaces)
        ns = f"{self.ns}-{index}"
        self.namespaces.append(ns)
        if kubeconfig:
            self.repo.write(f"{base}/kubeconfig.yaml", self.kubeconfig)
        # Its own namespace holds the ApplySet parent too: environments of other classes share names.
        env_yml = {"namespace": ns, **(env_yml or {})}
        self.repo.write(f"{base}/env.yml", yaml.safe_dump(env_yml, sort_keys=False))
        if manifests:
            self.repo.write(f"{base}/yaml/app.yaml", dump(namespace_doc(ns), config_map_doc(
                "app", ns, {"environment": folder.replace("/", "_")[:60] or "x"})))
        self.link_out(f"{base}/link-out")
        return ns

    def link_out(self, relative):
        """The symlink form: a committed link to the controller's canary."""
        target = self.repo.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_symlink():
            os.symlink(self.world.canary, target)

    def encrypt(self, relative, text):
        path = self.repo.write(relative, text)
        path.write_bytes(sops("--encrypt", "--age", self.age_key.public, "--input-type", "yaml", "--output-type",
                              "yaml", str(path)))

    def push(self, message="attack"):
        return self.repo.push(message)

    def run(self, playbook, version="main", extra=None):
        inventory = write_inventory(self.work / "inventory", self.repo.url, self.work / "inventory-cache",
                                    version=version)
        env = {VAR: ENV_CANARY, "HOME": str(self.world.home), "SOPS_AGE_KEY_FILE": str(self.age_key.path),
               "ANSIBLE_REMOTE_TMP": str(self.work / "remote-tmp")}
        result = run_gitops(playbook, inventory, self.work, extra_vars={**isolated_vars(self.work), **(extra or {})},
                            env=env, args=("-vvv",))
        self.runs.append(result)
        return result


@pytest.fixture
def attack(world, git_server, control_plane, age_key, request):
    name = request.node.callspec.id if hasattr(request.node, "callspec") else request.node.name
    made = Attack(world, git_server, control_plane, age_key, name.replace("[", "-").replace("]", ""))
    yield made
    assert_oracles(made)


# -- the oracles -------------------------------------------------------------------------------------------------

def report_files(result):
    return {path.name: path.read_text(errors="replace") for path in sorted(result.report_dir.glob("*"))
            if path.is_file()}


def assert_oracles(attack):
    """Oracles 1 to 3 for every run of the class, and the cluster's objects afterwards."""
    assert attack.runs, "the class ran no playbook"
    for result in attack.runs:
        places = {"stdout": result.stdout, "stderr": result.stderr, **report_files(result)}
        for place, text in places.items():
            for canary in CANARIES:
                assert canary not in text, f"{attack.name}: a canary reached {place}:\n{excerpt(text, canary)}"
            assert "Traceback (most recent call last)" not in text, f"{attack.name}: a crash in {place}"
    cluster = Cluster(attack.plane)
    for kind in ("/api/v1/configmaps", "/api/v1/secrets", "/api/v1/namespaces"):
        objects = json.dumps(cluster.get(kind))
        for canary in CANARIES:
            assert canary not in objects, f"{attack.name}: a canary reached the cluster ({kind})"
    created = sorted(set(attack.world.created_markers()) - attack.markers_before)
    assert created == [], f"{attack.name}: marker files were created: {created}"
    requests = attack.world.spy.requests[attack.spy_seen:]
    seen = [(r.method, r.path) for r in requests if not r.path.startswith(attack.spy_allowed or ("\0",))]
    assert seen == [], f"{attack.name}: the spy saw requests: {seen}"
    for request in requests:
        for canary in CANARIES:
            assert canary not in request.text(), f"{attack.name}: a canary reached the spy: {request.path}"


def excerpt(text, needle, width=600):
    at = text.find(needle)
    return text[max(0, at - width):at + width]


def outcome(result, env):
    """``(verdict, failure messages)`` of one environment of a run: the pipeline's (what every report and the
    environment's last task say), then its failed tasks' own."""
    report = (result.report or {}).get("environments", {}).get(env, {})
    failure = report.get("failure") if isinstance(report.get("failure"), dict) else {}
    messages = [str(failure["message"])] if failure.get("message") else []
    messages += [str(msg) for host, _task, msg in result.failures() if host == env]
    return report.get("verdict"), messages


def assert_refused(result, env, *words):
    """The environment failed, and a message names each of ``words`` (the file, the key)."""
    verdict, messages = outcome(result, env)
    assert verdict == "error" and messages, f"{env} was not refused:\n{result.explain()}"
    text = "\n".join(messages)
    for word in words:
        assert word in text, f"{env}: the refusal does not name {word!r}: {text}"


def assert_not_failed(result, env, *verdicts):
    verdict, messages = outcome(result, env)
    assert verdict in verdicts and not messages, f"{env}: {verdict} {messages}\n{result.explain()[-3000:]}"


# -- the Markdown comment: nothing live ----------------------------------------------------------------------------

MARKDOWN_IT = MarkdownIt("commonmark", {"linkify": True}).enable(["table", "strikethrough", "linkify"])
LIVE_TAGS = {"a", "img", "script", "iframe", "object", "embed", "style", "link", "form", "input", "video", "audio"}


class Rendered(HTMLParser):
    """The tags and the text outside code of rendered HTML."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags, self.outside, self._in_code = set(), [], 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self._in_code += tag == "code"

    def handle_endtag(self, tag):
        self._in_code -= tag == "code"

    def handle_data(self, data):
        if not self._in_code:
            self.outside.append(data)


def assert_markdown_inert(result, spy):
    """The Markdown report, as GitHub (cmark-gfm, raw HTML kept) and markdown-it (linkify) render it, holds no
    link, image or HTML element from the repository, and no mention or spy address outside code."""
    markdown = (result.report_dir / "drift-report.md").read_text()
    github = cmarkgfm.markdown_to_html_with_extensions(
        markdown, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "autolink", "strikethrough"])
    for name, html in (("github", github), ("markdown-it", MARKDOWN_IT.render(markdown))):
        rendered = Rendered(html)
        assert not rendered.tags & LIVE_TAGS, f"{name}: live elements {rendered.tags & LIVE_TAGS}\n{markdown}"
        outside = "".join(rendered.outside)
        assert "@all" not in outside and spy.host not in outside, f"{name}: live text outside code\n{markdown}"
    junit = result.report_dir / "drift-report.xml"
    if junit.exists():
        ElementTree.parse(junit)  # valid XML whatever the repository said


# -- the classes -------------------------------------------------------------------------------------------------

def name_forms(world, tag):
    """The forms that can be one folder or file name (no '/'), with their markers touched in HOME."""
    forms = {form: text for form, text in world.forms(tag).items() if "/" not in text}
    forms["jinja"] = f"{{{{ lookup('pipe', 'cd && touch am-{tag}-jinja') }}}}"
    forms["jinja-statement"] = f"{{% if lookup('pipe', 'cd && touch am-{tag}-stmt') %}}x{{% endif %}}"
    forms["tilde"] = "~"
    forms["dot-dot"] = "..."
    forms["markdown"] = f"![x](http:{world.spy.host}) [approve](x) @all"
    forms["html"] = f"<img src=http:{world.spy.host}>"
    return forms


def test_environment_folder_names(attack):
    """A folder whose name cannot be a host name is an invalid environment that fails on its own; a folder symlink
    out of the repository is refused naming the link; the valid environment beside them is deployed."""
    forms = {form: text for form, text in name_forms(attack.world, "folder").items() if form != "symlink"}
    for text in forms.values():
        attack.environment(text)
    control = attack.environment("control")
    os.symlink(attack.world.home, attack.repo.path / "environments" / "linked")
    attack.push()
    for playbook in ("drift", "reconcile"):
        result = attack.run(playbook)
        hosts = set(result.stats)
        invalid = sorted(host for host in hosts if host.startswith("invalid-environment-"))
        # A hidden folder ('...') is no environment; every other hostile name is an invalid one.
        assert len(invalid) == len(forms) - 1, f"{playbook}: {sorted(hosts)}\n{result.explain()}"
        assert not hosts & set(forms.values()), "a hostile folder name became a host"
        for host in invalid:
            assert result.stats[host].get("failures"), f"{host} did not fail"
        assert_refused(result, "linked", "environments/linked")
        assert_not_failed(result, "control", "drift" if playbook == "drift" else "corrected")
        assert_markdown_inert(result, attack.world.spy)
    assert Cluster(attack.plane).get(f"/api/v1/namespaces/{control}/configmaps/app")["data"]


# env.yml keys: the value each form takes in that key (string keys take the form itself).
TERRAFORM = 'variable "v" {\n  type    = string\n  default = "d"\n}\nresource "terraform_data" "x" {\n  input = var.v\n}\n'
ENV_KEYS = {
    "namespace": lambda text: {"namespace": text},
    "kube_context": lambda text: {"kube_context": text},
    "kubeconfig": lambda text: {"kubeconfig": text},
    "manifests": lambda text: {"manifests": text},
    "tags": lambda text: {"tags": [text]},
    "depends_on": lambda text: {"depends_on": [text]},
    "promote_from": lambda text: {"promote_from": text},
    "trusted_keys": lambda text: {"trusted_keys": [text]},
    "terraform_workspace": lambda text: {"terraform_workspace": text},
    "terraform_vars": lambda text: {"terraform_vars": {"v": text}},
    "terraform_var_files": lambda text: {"terraform_var_files": [text]},
    "terraform_backend_config": lambda text: {"terraform_backend_config": {"path": text}},
    "helm_releases.chart.repo": lambda text: {"helm_releases": [{"name": "web", "namespace": "web", "chart": {
        "repo": text, "name": "web", "version": "1.0.0"}}]},
    "helm_releases.chart.path": lambda text: {"helm_releases": [{"name": "web", "namespace": "web", "chart": {
        "path": text}}]},
    "helm_releases.values_files": lambda text: {"helm_releases": [{"name": "web", "namespace": "web", "chart": {
        "path": "chart"}, "values_files": [text]}]},
    "helm_releases.values": lambda text: {"helm_releases": [{"name": "web", "namespace": "web", "chart": {
        "path": "chart"}, "values": {"greeting": text}}]},
    "vars.kubernetes_secrets": lambda text: {"vars": {"kubernetes_secrets": [{"name": "s", "from": text}]}},
    "vars.kubernetes_wait_timeout": lambda text: {"vars": {"kubernetes_wait_timeout": text}},
    "vars.terraform_secret_vars": lambda text: {"vars": {"terraform_secret_vars": {"v": text}}},
    # Hostile key names: the key itself is the form.
    "key-name": lambda text: {text: "x"},
    "vars.key-name": lambda text: {"vars": {text: "x"}},
}
CHART = {"Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
         "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n"
                              "  greeting: {{ .Values.greeting | default \"none\" | quote }}\n"}


@pytest.mark.parametrize("key", list(ENV_KEYS))
def test_env_yml_values(attack, key):
    """Every env.yml key (and `vars` entry, and key name) with every hostile form, one environment per form: each
    is refused with a message naming its env.yml, or deployed with the text as written (Terraform's state and the
    chart's ConfigMap hold it literally); nothing is templated, expanded, read or fetched."""
    tag = key.replace(".", "-").replace("_", "-")
    forms = attack.world.forms(tag)
    if key == "helm_releases.chart.repo":  # the chart index of the URL the branch names is fetched (http(s) only)
        attack.spy_allowed = (f"/{tag}/http/",)
    for form, text in forms.items():
        folder = env_name(form)
        attack.environment(folder, ENV_KEYS[key](text))
        if key.startswith("terraform"):
            attack.repo.write(f"environments/{folder}/main.tf", TERRAFORM)
        if key.startswith("helm"):
            for name, body in CHART.items():
                attack.repo.write(f"environments/{folder}/chart/{name}", body)
    attack.push()
    drift = attack.run("drift")
    reconcile = attack.run("reconcile")
    for form, text in forms.items():
        folder = env_name(form)
        for result in (drift, reconcile):
            verdict, messages = outcome(result, folder)
            assert verdict in ("error", "drift", "corrected", "in_sync"), f"{folder}: {verdict}\n{result.explain()}"
            if verdict == "error":
                joined = "\n".join(messages)
                assert folder in joined or f"environments/{folder}" in joined, f"{folder}: {joined}"
        assert_markdown_inert(drift, attack.world.spy)
        if outcome(reconcile, folder)[0] == "corrected" and key == "terraform_vars":
            state = attack.work / "terraform-state" / folder / "terraform.tfstate"
            inputs = [r["instances"][0]["attributes"]["input"]["value"]
                      for r in json.loads(state.read_text())["resources"]]
            assert inputs == [text], f"{folder}: Terraform got {inputs!r}, not the text as written"


GATES = {"fail_on_drift": False, "fail_on_degraded": False, "reconcile_steps": ["kubernetes"],
         "reconcile_pin": "0" * 40, "reconcile_trusted_keys": [], "trusted_keys": [], "ansible_connection": "ssh",
         "ansible_python_interpreter": "/bin/sh", "kubernetes_kustomize_remote": True,
         "terraform_plugin_dirs": ["link-out"], "terraform_cli_config_file": "link-out", "terraform_binary": "sh",
         "kubernetes_kubeconfig_exec_commands": ["sh"], "kubernetes_helm_binary": "sh", "source_dest": "/tmp",
         "trident_environment": {}, "trident_check_mode": False, "kubernetes_applyset_namespace": "kube-system"}
OPERATOR_KEYS = {"kustomize_remote": True, "terraform_plugin_dirs": ["link-out"], "terraform_cli_config": "link-out"}


def test_env_yml_cannot_set_a_gate(attack):
    """`vars:` naming a gate, a connection setting, a program or a controller path, and the top-level keys that used
    to say where from, are refused naming the env.yml and the key; the operator's fail_on_drift holds."""
    for gate, value in GATES.items():
        attack.environment(f"vars-{gate}".replace("_", "-"), {"vars": {gate: value}})
    for key, value in OPERATOR_KEYS.items():
        attack.environment(f"key-{key}".replace("_", "-"), {key: value})
    attack.environment("control")
    attack.push()
    result = attack.run("drift", extra={"fail_on_drift": True})
    assert result.rc == 2, result.explain()
    for gate in GATES:
        assert_refused(result, f"vars-{gate}".replace("_", "-"), "env.yml", gate)
    for key in OPERATOR_KEYS:
        assert_refused(result, f"key-{key}".replace("_", "-"), "env.yml", key)
    assert outcome(result, "control")[0] == "drift"
    assert (result.report_dir / "verdict").read_text().strip() == "error"
    reconcile = attack.run("reconcile")
    for gate in GATES:
        assert_refused(reconcile, f"vars-{gate}".replace("_", "-"), "env.yml", gate)


def test_manifest_file_names(attack):
    """Manifests named with every form (a '/' makes folders) are read literally and deployed; a manifest that is a
    symlink out of the repository is refused naming the link."""
    forms = attack.world.forms("manifest")
    ns = attack.environment("names", manifests=False)
    docs = [namespace_doc(ns)]
    attack.repo.write("environments/names/yaml/namespace.yaml", dump(*docs))
    for index, text in enumerate(forms.values()):
        if text == "link-out":
            continue
        # '..' cannot be part of a path that stays in the repository: the form becomes a name holding it (a name starting with a dot is hidden).
        name = "x..y" if text.startswith("../") else text.lstrip("/")
        relative = f"environments/names/yaml/{name}.yaml"
        attack.repo.write(relative, dump(config_map_doc(f"m-{index}", ns, {"form": text})))
    attack.environment("linked", manifests=False)
    os.symlink(attack.world.canary, attack.repo.path / "environments/linked/yaml-link.yaml")
    (attack.repo.path / "environments/linked/yaml").mkdir()
    os.symlink(attack.world.canary, attack.repo.path / "environments/linked/yaml/link-out.yaml")
    attack.push()
    drift = attack.run("drift")
    assert_refused(drift, "linked", "environments/linked/yaml/link-out.yaml")
    assert_not_failed(drift, "names", "drift")
    assert_markdown_inert(drift, attack.world.spy)
    reconcile = attack.run("reconcile")
    assert_not_failed(reconcile, "names", "corrected")
    deployed = {item["metadata"]["name"]: item.get("data") for item in
                Cluster(attack.plane).get(f"/api/v1/namespaces/{ns}/configmaps")["items"]}
    expected = {f"m-{index}": {"form": text} for index, text in enumerate(forms.values()) if text != "link-out"}
    missing = {name: data for name, data in expected.items() if deployed.get(name) != data}
    assert not missing, f"not deployed as written: {missing}"


def test_sops_file_names(attack):
    """SOPS files named with every form are decrypted from the literal file; a SOPS file that is a symlink out of
    the repository is refused naming it; no decrypted value is shown."""
    forms = name_forms(attack.world, "sops")
    attack.environment("names")
    for index, text in enumerate(forms.values()):
        if text != "link-out":
            attack.encrypt(f"environments/names/secrets/{text}.sops.yaml", f"value: {SECRET_CANARY}-{index}\n")
    attack.environment("linked")
    (attack.repo.path / "environments/linked/secrets").mkdir()
    os.symlink(attack.world.canary, attack.repo.path / "environments/linked/secrets/link-out.sops.yaml")
    attack.push()
    for playbook, verdict in (("drift", "drift"), ("reconcile", "corrected")):
        result = attack.run(playbook)
        assert_not_failed(result, "names", verdict)
        assert_refused(result, "linked", "environments/linked/secrets/link-out.sops.yaml")
        assert_markdown_inert(result, attack.world.spy)


KUBECONFIG_FIELDS = ("tokenFile", "certificate-authority", "client-certificate", "server", "proxy-url")


def hostile_kubeconfig(plane, field, text):
    config = yaml.safe_load(kubeconfig_text(plane))
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    if field == "tokenFile":
        del user["token"]
        user["tokenFile"] = text
    elif field == "certificate-authority":
        del cluster["certificate-authority-data"]
        cluster["certificate-authority"] = text
    elif field == "client-certificate":
        del user["token"]
        user.update({"client-certificate": text, "client-key": text})
    elif field in ("server", "proxy-url"):
        cluster[field] = text
    elif field == "exec":
        del user["token"]
        user["exec"] = {"apiVersion": "client.authentication.k8s.io/v1", "command": "sh",
                        "args": ["-c", text], "interactiveMode": "Never"}
    return yaml.safe_dump(config)


@pytest.mark.parametrize("field", KUBECONFIG_FIELDS + ("exec",))
def test_kubeconfig_fields(attack, field):
    """A repository kubeconfig whose field is each hostile form: nothing outside the repository is read, no command
    runs, no request leaves for an address the form names; the environment fails naming itself."""
    forms = attack.world.forms(f"kc-{field}")
    if field == "server":  # the branch's kubeconfig names the environment's own API server, which is asked
        attack.spy_allowed = (f"/kc-{field}/http/",)
    if field == "exec":
        forms = {"touch": "cd && touch am-kc-exec", **forms}
    for form, text in forms.items():
        folder = env_name(form)
        attack.environment(folder, kubeconfig=False)
        attack.repo.write(f"environments/{folder}/kubeconfig.yaml", hostile_kubeconfig(attack.plane, field, text))
    attack.push()
    for playbook in ("drift", "reconcile"):
        result = attack.run(playbook)
        for form in forms:
            verdict, messages = outcome(result, env_name(form))
            if field == "proxy-url":  # not used to connect (the spy sees nothing): the environment is deployed
                assert verdict in ("drift", "corrected") and not messages, f"{form}: {verdict} {messages}"
                continue
            assert verdict == "error" and messages, f"{form}: {verdict}\n{result.explain()[-3000:]}"
        assert_markdown_inert(result, attack.world.spy)


def test_commit_subjects(attack):
    """Commit subjects with every form are listed in the reports as text: verbatim in the JSON report, inert in the
    Markdown comment, valid XML in JUnit."""
    attack.environment("app")
    attack.push()
    attack.run("reconcile")
    forms = attack.world.forms("subject")
    for index, text in enumerate(forms.values()):
        attack.repo.write("environments/app/notes.txt", f"{index}\n")
        attack.push(text)
    drift = attack.run("drift", extra={"source_depth": 0})
    assert_not_failed(drift, "app", "drift")
    assert_markdown_inert(drift, attack.world.spy)
    shown = json.dumps(drift.report)
    for text in forms.values():
        assert json.dumps(text)[1:-1] in shown, f"the subject {text!r} is not in the JSON report as written"
    assert_not_failed(attack.run("reconcile"), "app", "corrected")


def branch_names(world):
    """The forms Git accepts as a branch name."""
    candidates = {**world.forms("branch"), "jinja-nospace": "{{lookup('pipe','cd&&touch${IFS}am-branch-jinja')}}",
                  "html-nospace": f"<img_src=http:{world.spy.host}>", "mention": "@all"}
    return {form: text for form, text in candidates.items()
            if subprocess.run(["git", "check-ref-format", "--branch", text], capture_output=True,
                              check=False).returncode == 0}


def test_branch_names(attack):
    """A merge request's branch, named with every form Git allows, previewed as the docs say (the inventory's
    version is the branch): the preview reports it as text and runs, reads and fetches nothing."""
    attack.environment("app")
    attack.push()
    names = branch_names(attack.world)
    assert len(names) >= 5, names
    for text in names.values():
        git("push", "--quiet", "origin", f"main:refs/heads/{text}", cwd=attack.repo.path)
    for form, text in names.items():
        result = attack.run("drift", version=text)
        assert_not_failed(result, "app", "drift")
        assert_markdown_inert(result, attack.world.spy)
