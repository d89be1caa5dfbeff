"""Masking hides a secret where it stands (issue 24, class 8), through real ansible-playbook runs at -vvvv with
--diff and the drift report callback, against the real apiserver, helm, sops and terraform/tofu.

Secret values are generated: very short ones that are parts of kinds, apiVersions, namespaces, field names and
of the text around them (``app``, ``v1``, ``a``, ``data``), values with regex and URL metacharacters, and random
long ones. For each: neither the old nor the new value is shown anywhere (stdout, stderr, report files, the
registered results) where it stands - a field that holds it is masked whole and still shows as changed - and
unrelated text (kinds, apiVersions, messages) is intact: no ``****`` is ever written into it."""

import base64
import html
import json
import random
import re
import secrets
import string

import pytest
import yaml

from kube_support import get, namespace, unique
from sops_helpers import encrypt

from testbed import tool
from testbed.ansible import run_playbook

SEED = random.randrange(2**32)
# Values that stand inside the text around them: kinds, apiVersions, field names, the URL the chart builds.
ADVERSARIAL = ["app", "v1", "a", "data", "Config", "postgres", "5432", "p@ss:w/rd?x=1&y#z%2F", "a.*(b)[c]+$^|{2}"]


def generated(rng, count):
    """``count`` secret values: the adversarial ones, then random ones with metacharacters."""
    # No "${" or "%{": Terraform would read a template in them.
    alphabet = string.ascii_letters + string.digits + "-_.:/@?&=+*()[]{}^|~"
    values = list(ADVERSARIAL)
    while len(values) < count:
        values.append("".join(rng.choices(alphabet, k=rng.randrange(6, 24))))
    return values[:count]


def rotated(rng, values):
    """New values for the rotation: each differs from its old one, short ones stay short."""
    out = []
    for old in values:
        new = old[::-1] + ("x" if len(old) < 6 else rng.choice("XYZ"))
        out.append(new if new != old else old + "z")
    return out


def shown(run, *paths):
    """Everything a run showed: its stdout and stderr and the files it wrote (reports)."""
    # The HTML page is read unescaped too: a secret holding & or < is escaped there and would hide from a search.
    return run.stdout + run.stderr + "".join(
        path.read_text() + (html.unescape(path.read_text()) if path.suffix == ".html" else "")
        for path in paths if path.is_file())


def assert_not_shown(text, values, where):
    """No value shown where it stands: not in the URL the chart builds, and a value long enough to be recognised
    not at all (nor its base64 form; ``v1`` is everywhere as an apiVersion and ``Config`` as part of the kind
    ``ConfigMap``, the structure checks cover them); and nothing rewritten inside other text."""
    for value in values:
        assert f"app:{value}@" not in text, f"{where}: {value!r} is shown in the URL it was copied into"
        if len(value) >= 6 and value not in ("Config",):
            assert value not in text, f"{where}: {value!r} is shown"
            assert base64.b64encode(value.encode()).decode() not in text, f"{where}: base64 of {value!r} is shown"
    assert_not_rewritten(text, where)


def assert_not_rewritten(text, where):
    """No ``****`` written into text around a value (Ansible's and the drift report's banners are lines of stars)."""
    text = re.sub(r"(?m)^[A-Z][A-Z ]*(?:\[.*\])?[^\n*]*\*{4,}$", "", text)
    assert "****" not in text, f"{where}: text was rewritten around a value"


CHART_TEMPLATES = {
    "config.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-settings
  labels:
    app: web
data:
  mode: {{ .Values.mode | quote }}
{{- range $key, $value := .Values.db }}
  url-{{ $key }}: {{ printf "postgres://app:%v@db:5432/app" $value | quote }}
{{- end }}
""",
    "secret.yaml": """apiVersion: v1
kind: Secret
metadata:
  name: app-db
stringData:
{{- range $key, $value := .Values.db }}
  {{ $key }}: {{ $value | quote }}
{{- end }}
""",
    "deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  annotations:
    checksum/db: {{ .Values.db | toJson | sha256sum | quote }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: registry.example/app:v1
          env:
            - name: MODE
              value: {{ .Values.mode | quote }}
            - name: DB_PASSWORD
              value: {{ .Values.db.k0 | quote }}
""",
}


def chart_repo(tmp_path, age_key, values):
    repo = tmp_path / "repo"
    chart = repo / "charts" / "app"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("mode: fast\ndb: {}\n")
    for name, text in CHART_TEMPLATES.items():
        (chart / "templates" / name).write_text(text)
    env = repo / "environments" / "prod"
    (env / "secrets").mkdir(parents=True)
    write_secret_values(env, age_key, values)
    return repo, env


def write_secret_values(env, age_key, values):
    plain = yaml.safe_dump({"db": {f"k{index}": value for index, value in enumerate(values)}})
    encrypt(env / "secrets", "app.sops.yaml", plain, "--age", age_key.public)


def helm_task(control_plane, tmp_path, repo, env, ns, age_key, apply):
    return {"name": "kube_diff", "register": "result", "trident.gitops.kube_diff": {
        "definition": [namespace(ns)], "namespace": ns, "kubeconfig": str(control_plane.kubeconfig),
        "discovery_cache": str(tmp_path / "discovery"), "apply": apply,
        "age_key_file": str(age_key.path), "use_environment": False,
        "helm": {"releases": [{"name": "app", "namespace": ns, "chart": {"path": "../../charts/app"},
                               "secret_values_files": ["secrets/app.sops.yaml"]}],
                 "env_path": str(env), "repo_path": str(repo), "binary": tool("helm"),
                 "chart_cache": str(tmp_path / "charts")}}}


def reported(tmp_path, name, task, check, extra_env=None):
    """One run at -vvvv with --diff and the drift report callback; the registered result is printed too."""
    report = tmp_path / f"report-{name}"
    show = {"name": "show the registered result", "ansible.builtin.debug": {"var": "result"}}
    run = run_playbook(tmp_path / name, [task, show], check=check, diff=True, verbosity=4, env={
        "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report", "TRIDENT_DRIFT_REPORT_DIR": str(report),
        **(extra_env or {})})
    files = [report / name
             for name in ("drift-report.json", "drift-report.md", "drift-report.xml", "drift-report.txt", "drift-report.html")]
    # The callback's summary follows the JSON document on stdout.
    document = run.stdout.split("\nTRIDENT DRIFT REPORT")[0]
    run.data = json.loads(document[document.rfind("\n{\n") + 1:] if not document.startswith("{\n") else document)
    return run, files


def drift_of(run):
    result = run.task_results()[0]
    return result, {(entry["kind"], entry["name"]): entry for entry in result.get("drift", [])}


def test_a_rotated_helm_secret_copied_into_a_configmap_is_masked_before_and_after(control_plane, tmp_path, age_key):
    rng = random.Random(SEED)
    old = generated(rng, 12)
    new = rotated(rng, old)
    repo, env = chart_repo(tmp_path, age_key, old)
    ns = unique("kmask")
    keys = [f"k{index}" for index in range(len(old))]

    applied, files = reported(tmp_path, "apply", helm_task(control_plane, tmp_path, repo, env, ns, age_key, True),
                              check=False)
    assert applied.rc == 0, f"seed {SEED}: " + applied.stdout[-3000:]
    live = get(control_plane, "configmap", "app-settings", ns)["data"]
    assert live["url-k0"] == f"postgres://app:{old[0]}@db:5432/app", "applied as rendered"
    assert_not_shown(shown(applied, *files), old, f"seed {SEED}: first apply")

    write_secret_values(env, age_key, new)
    planned, files = reported(tmp_path, "plan", helm_task(control_plane, tmp_path, repo, env, ns, age_key, True),
                              check=True)
    assert planned.rc == 0, f"seed {SEED}: " + planned.stdout[-3000:]
    result, drift = drift_of(planned)
    # Each copy of a rotated secret shows as changed, with neither its old nor its new value.
    config_changes = {change["path"]: change for change in drift[("ConfigMap", "app-settings")]["changes"]}
    assert {f"data.url-{key}" for key in keys} <= set(config_changes)
    assert all(config_changes[f"data.url-{key}"] == {"path": f"data.url-{key}", "masked": True} for key in keys)
    assert "data.mode" not in config_changes, "what no secret reaches is not drift and not masked"
    secret_changes = {change["path"] for change in drift[("Secret", "app-db")]["changes"]}
    assert secret_changes >= {f"data.{key}" for key in keys}
    deployment = drift[("Deployment", "app")]
    assert {"path": "metadata.annotations.checksum/db", "masked": True} in deployment["changes"]
    assert any(change["path"].endswith("env[name=DB_PASSWORD].value") and change.get("masked")
               for change in deployment["changes"])
    # Unrelated text is intact.
    assert (drift[("Deployment", "app")]["apiVersion"], drift[("ConfigMap", "app-settings")]["apiVersion"]) == \
        ("apps/v1", "v1")
    diff = {entry["before_header"]: entry for entry in result["diff"]}
    config_diff = diff[f"ConfigMap {ns}/app-settings"]
    assert "mode: fast" in config_diff["before"] and "<masked:" in config_diff["after"]
    assert config_diff["before"] != config_diff["after"], "the masked values differ: it changed"
    deployment_diff = diff[f"Deployment.apps {ns}/app"]
    assert "image: registry.example/app:v1" in deployment_diff["after"], "unrelated text is intact"
    for side in ("before", "after"):
        container = yaml.safe_load(deployment_diff[side])["spec"]["template"]["spec"]["containers"][0]
        values = {item["name"]: item["value"] for item in container["env"]}
        assert values["MODE"] == "fast" and re.fullmatch(r"<masked:[0-9a-f]{12}>", values["DB_PASSWORD"]), values
    for side in ("before", "after"):
        data = yaml.safe_load(config_diff[side])["data"]
        assert all(re.fullmatch(r"<masked:[0-9a-f]{12}>", data[f"url-{key}"]) for key in keys), data
    report = json.loads(files[0].read_text())
    assert "app-settings" in json.dumps(report) and "masked" in json.dumps(report)
    assert_not_shown(shown(planned, *files), old + new, f"seed {SEED}: rotation plan")

    converged, files = reported(tmp_path, "converge",
                                helm_task(control_plane, tmp_path, repo, env, ns, age_key, True), check=False)
    assert converged.rc == 0, f"seed {SEED}: " + converged.stdout[-3000:]
    assert get(control_plane, "configmap", "app-settings", ns)["data"]["url-k1"] == \
        f"postgres://app:{new[1]}@db:5432/app"
    assert_not_shown(shown(converged, *files), old + new, f"seed {SEED}: rotation apply")


def test_errors_about_secret_objects_are_told_from_placeholders_and_never_rewritten(control_plane, tmp_path):
    ns = unique("kmaskerr")
    data = {"tls": {"tls.key": "app"}, "db": {"user": "app", "password": "v1", "host": "apps"}}
    # A TLS Secret without its certificate: the server's answer is the one it gives with placeholders.
    task = {"name": "kube_diff", "register": "result", "trident.gitops.kube_diff": {
        "definition": [namespace(ns)], "namespace": ns, "kubeconfig": str(control_plane.kubeconfig),
        "discovery_cache": str(tmp_path / "discovery"), "apply": True,
        "secrets": [{"name": "tls", "type": "kubernetes.io/tls", "from": "tls"}, {"name": "db", "from": "db"}],
        "secret_data": data}}
    run, files = reported(tmp_path, "tls", task, check=False)
    result = run.task_results()[0]
    assert run.rc != 0 and result.get("failed") is True
    assert "tls.crt" in result["msg"] and "Secret " in result["msg"], result["msg"]
    assert_not_rewritten(shown(run, *files), "the TLS Secret's refusal")
    assert result["invocation"]["module_args"]["secret_data"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

    # An unknown kind in apps/v1: the message names it whole although "app" and "v1" are secret values.
    bad = {"apiVersion": "apps/v1", "kind": "Deploymentz", "metadata": {"name": "app", "namespace": ns}}
    task["trident.gitops.kube_diff"].update(definition=[namespace(ns), bad], secrets=[{"name": "db", "from": "db"}])
    run, files = reported(tmp_path, "kind", task, check=True)
    result = run.task_results()[0]
    assert run.rc != 0 and "unknown kind Deploymentz in apps/v1" in result["msg"], result["msg"]
    assert_not_rewritten(shown(run, *files), "an unknown kind's problem")


@pytest.mark.parametrize("binary", ["terraform", "tofu"])
def test_a_terraform_output_echoing_a_secret_variable_is_masked_unmarked(tmp_path, binary):
    rng = random.Random(SEED + 1)
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.tf").write_text("""
variable "password" { type = string }
variable "region" { type = string }
locals { url = "postgres://app:${var.password}@db:5432/app" }
resource "terraform_data" "db" {
  input = { url = local.url, region = var.region }
}
output "echo" { value = var.password }
output "url" { value = local.url }
output "digest" { value = sha256(var.password) }
output "region" { value = var.region }
""")
    olds = generated(rng, 6)
    for index, (old, new) in enumerate(zip(olds, rotated(rng, olds))):
        state = tmp_path / f"state-{index}"

        def task(value, state=state):
            return {"name": "terraform", "register": "result", "trident.gitops.terraform_apply": {
                "project_path": str(project), "binary": tool(binary), "state_dir": str(state),
                "variables": {"password": value}, "plain_variables": {"region": "eu-central-1"}}}

        first = run_playbook(tmp_path / f"first-{index}", [task(old)], diff=True, verbosity=4)
        assert first.rc == 0, first.stdout[-3000:]
        outputs = first.task_results()[0]["outputs"]
        assert all(outputs[name].startswith("<masked:") for name in ("echo", "url", "digest")), outputs
        if old not in "eu-central-1":
            assert outputs["region"] == "eu-central-1", "a plain variable is shown"
        else:  # masked by value: a secret of one character stands in it
            assert outputs["region"].startswith("<masked:")
        assert_not_shown(first.stdout + first.stderr, [old], f"seed {SEED} {binary} {old!r}")

        plan, files = reported(tmp_path, f"plan-{index}", task(new), check=True)
        assert plan.rc == 0, plan.stdout[-3000:]
        result = plan.task_results()[0]
        assert result["changed"] is True
        db = next(entry for entry in result["diff"] if entry["before_header"] == "terraform_data.db (update)")
        assert db["before"]["input"].startswith("<masked:") and db["after"]["input"].startswith("<masked:")
        assert db["before"]["input"] != db["after"]["input"], "the rotation shows as a change"
        assert_not_shown(shown(plan, *files), [old, new], f"seed {SEED} {binary} rotation {old!r} -> {new!r}")


def test_terraform_errors_leave_out_quoted_values(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.tf").write_text("""
variable "password" {
  type = string
  validation {
    condition     = length(var.password) > 40
    error_message = "The password is too short."
  }
}
""")
    for index, value in enumerate(("app", "v1-" + secrets.token_hex(4))):
        task = {"name": "terraform", "trident.gitops.terraform_apply": {
            "project_path": str(project), "binary": tool("terraform"), "state_dir": str(tmp_path / "state"),
            "variables": {"password": value}}}
        run = run_playbook(tmp_path / f"run-{index}", [task], verbosity=4)
        result = run.task_results()[0]
        assert run.rc != 0 and "The password is too short." in result["msg"]
        assert f'"{value}"' not in result["msg"] and "****" not in result["msg"]
        assert "running in the worker" in run.stdout, "in-process: no module arguments for ANSIBLE_DEBUG to print"
        debug = run_playbook(tmp_path / f"debug-{index}", [task], verbosity=4,
                             env={"ANSIBLE_DEBUG": "1", "ANSIBLE_STDOUT_CALLBACK": "default"})
        assert debug.rc != 0 and "The password is too short." in debug.stdout
        for text in (run.stdout + run.stderr, debug.stdout + debug.stderr):
            assert f'"{value}"' not in text and f"'{value}'" not in text
            if len(value) >= 6:
                assert value not in text


def test_sops_decrypt_errors_show_no_secret(tmp_path, age_key):
    values = generated(random.Random(SEED + 2), 6)
    plain = yaml.safe_dump({"db": {f"k{index}": value for index, value in enumerate(values)}})
    path = encrypt(tmp_path, "db.sops.yaml", plain, "--age", age_key.public)
    tampered = tmp_path / "tampered.sops.yaml"
    text = path.read_text()
    tampered.write_text(re.sub(r"(mac: ENC\[AES256_GCM,data:)(.)", lambda m: m.group(1) +
                               ("A" if m.group(2) != "A" else "B"), text, count=1))
    cases = [{"path": str(path), "extract": '["db"]["missing"]'}, {"path": str(tampered)},
             {"path": str(path), "output_type": "dotenv"}]
    for index, case in enumerate(cases):
        task = {"name": "decrypt", "trident.gitops.sops_decrypt": {
            **case, "age_key_file": str(age_key.path), "use_environment": False}}
        run = run_playbook(tmp_path / f"case-{index}", [task], verbosity=4, diff=True)
        result = run.task_results()[0]
        assert run.rc != 0 and result.get("failed") is True, (case, run.stdout[-2000:])
        assert_not_shown(run.stdout + run.stderr, values, f"seed {SEED}: sops_decrypt {case}")
