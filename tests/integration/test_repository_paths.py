"""Repository paths are taken literally (issue 24, class 2), through ansible-playbook at -vvvv against the real
apiserver, helm, kubectl kustomize, sops/age, tofu and git.

Every option docs/developing.md lists as a repository path is attacked: files and folders are named with every
hostile form (``$VAR``, ``${VAR}``, ``~``, ``~user``, ``%s``, Jinja, shell, globs, quotes, line breaks...) in every
position (a whole name, inside a name, a folder on the way), the variable being a unique canary in the
controller's environment. The literal file must be the one read (each holds its own marker, which must come back),
and the canary must appear nowhere: not in any result, message, diff or log line. The modules with an action plugin
run both in the worker and as a module process. The forms are passed the way the inventory passes them, as data
(a lookup's result), never as playbook text.
"""

import getpass
import inspect
import json
import re
import secrets
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from kube_support import namespace, unique
from sops_helpers import encrypt
from testbed import tool
from testbed.ansible import run_playbook
from testbed.gitserver import git

REPO = Path(__file__).resolve().parents[2]
VAR = "TRIDENT_ATTACK_CANARY"
CANARY = f"canary-{secrets.token_hex(8)}"
# What must never expand, and what must not be taken for a pattern, an option, markup or a second line.
EXPANSIONS = [f"${VAR}", f"${{{VAR}}}", f"${{{VAR}:-x}}", f"$({VAR})", "$HOME", "~", f"~{getpass.getuser()}",
              "~nosuchuser", "%s", "%(path)s", "%n%%", f"{{{{ lookup('env', '{VAR}') }}}}", "{% raw %}x{% endraw %}",
              f"`echo ${VAR}`"]
OTHERS = ["a\nb", "a\tb", " lead", "trail ", "-rf", "*", "?", "[ab]", "'q'", '"dq"', ";|&", "#hash", "back\\slash",
          "..x", "é✓", "<b>x<b>", "![p](http:x)", "@all"]
FORMS = EXPANSIONS + OTHERS
POSITIONS = ("whole", "inside", "folder")


def hostile_names(suffix):
    """``[(index, relative name)]``: every expansion in every position, the other forms inside a name."""
    names = []
    for form in FORMS:
        for position in POSITIONS if form in EXPANSIONS else ("inside",):
            name = {"whole": f"{form}{suffix}", "inside": f"x-{form}-y{suffix}", "folder": f"{form}/f{suffix}"}[position]
            names.append(name)
    return list(enumerate(names))


def deep_folder(root):
    """A folder whose path holds every expansion as one of its parts."""
    return root.joinpath(*EXPANSIONS)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def output(run):
    return run.stdout + run.stderr


def assert_no_canary(*runs):
    for run in runs:
        assert CANARY not in output(run), f"the canary leaked:\n{output(run)[-3000:]}"


def other_python(tmp_path):
    """Another interpreter path for the same Python: the action plugin runs the module instead of in the worker."""
    wrapper = tmp_path / "bin" / "python"
    if not wrapper.exists():
        wrapper.parent.mkdir(parents=True)
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        wrapper.chmod(0o755)
    return {"ansible_python_interpreter": str(wrapper)}


def play(workdir, cases, tasks, **kwargs):
    """Run ``tasks`` with ``cases`` (the hostile paths) loaded as data from a file, the canary in the environment."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "cases.json").write_text(json.dumps(cases))
    load = {"name": "load the cases as data", "ansible.builtin.set_fact": {
        "cases": "{{ lookup('ansible.builtin.file', 'cases.json') | from_json }}"}}
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = {VAR: CANARY, "HOME": str(home), **kwargs.pop("env", {})}
    return run_playbook(workdir, [load, *tasks], verbosity=4, env=env, **kwargs)


# -- the drivers, one per repository path of docs/developing.md ------------------------------------------------

def drive_kube_diff_src(tmp_path, control_plane):
    ns = unique("paths")
    root = tmp_path / "repo" / "environments" / "prod" / "yaml"
    files = [str(write(root / "namespace.yaml", yaml.safe_dump(namespace(ns))))]
    for index, name in hostile_names(".yaml"):
        files.append(str(write(root / name, yaml.safe_dump({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"attack-{index}", "namespace": ns},
            "data": {"marker": f"literal-{index}"}}))))
    broken = [str(write(tmp_path / "broken" / name, "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"))
              for _index, name in hostile_names(".yaml")]
    args = {"src": "{{ cases.src }}", "kubeconfig": str(control_plane.kubeconfig), "namespace": ns,
            "discovery_cache": str(tmp_path / "discovery")}
    tasks = [{"name": "diff", "trident.gitops.kube_diff": args},
             {"name": "broken", "trident.gitops.kube_diff": {**args, "src": "{{ cases.broken }}"},
              "ignore_errors": True}]
    for mode, extra in (("worker", {}), ("module", {"vars": other_python(tmp_path)})):
        run = play(tmp_path / mode, {"src": files, "broken": broken}, [{**t, **extra} for t in tasks],
                   check=True, diff=True)
        assert run.rc == 0, output(run)[-3000:]
        diff, failed = run.task_results()[1:]
        drifted = {item["name"] for item in diff["drift"]}
        assert {f"attack-{index}" for index, _name in hostile_names(".yaml")} <= drifted, mode
        assert all(f"literal-{index}" in json.dumps(diff["diff"]) for index, _n in hostile_names(".yaml"))
        assert failed["failed"] is True
        for path in broken:
            assert path in failed["msg"], f"{mode}: the message names {path!r} as written"
        assert_no_canary(run)


def drive_kube_diff_kustomize(tmp_path, control_plane):
    ns = unique("pathskz")
    folder = deep_folder(tmp_path / "repo" / "environments" / "prod") / "app"
    entries = []
    for index, name in hostile_names(".yaml"):
        write(folder / name, yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": f"attack-{index}"}}))
        entries.append(name)
    write(folder / "kustomization.yaml", yaml.safe_dump({"namespace": ns, "resources": ["ns.yaml", *entries]}))
    write(folder / "ns.yaml", yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    args = {"kustomize": "{{ cases.kustomize }}", "kubeconfig": str(control_plane.kubeconfig),
            "kubectl": tool("kubectl"), "discovery_cache": str(tmp_path / "discovery")}
    for mode, extra in (("worker", {}), ("module", {"vars": other_python(tmp_path)})):
        run = play(tmp_path / mode, {"kustomize": str(folder)}, [{"name": "kz", "trident.gitops.kube_diff": args,
                                                                  **extra}], check=True)
        assert run.rc == 0, output(run)[-3000:]
        drifted = {item["name"] for item in run.task_results()[1]["drift"]}
        assert {f"attack-{index}" for index, _name in hostile_names(".yaml")} <= drifted, mode
        assert_no_canary(run)


CHART_TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-values
data:
{{- range $key, $value := .Values.markers }}
  {{ $key }}: {{ $value | quote }}
{{- end }}
"""


def drive_kube_diff_helm(tmp_path, control_plane):
    """helm.repo_path and helm.env_path hostile themselves, a chart folder and values files with hostile names."""
    ns = unique("pathshelm")
    repo = deep_folder(tmp_path) / "repo"
    env = deep_folder(repo / "environments") / "prod"
    write(repo / "charts" / "web" / "Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    write(repo / "charts" / "web" / "templates" / "cm.yaml", CHART_TEMPLATE)
    values = []
    for index, name in hostile_names(".yaml"):
        write(env / name, yaml.safe_dump({"markers": {f"m{index}": f"literal-{index}"}}))
        values.append(name)
    chart = {"path": str(Path(*[".."] * len(env.relative_to(repo).parts)) / "charts" / "web")}
    args = {"kubeconfig": str(control_plane.kubeconfig), "namespace": ns,
            "discovery_cache": str(tmp_path / "discovery"),
            "definition": [namespace(ns)],
            "helm": {"releases": "{{ cases.releases }}", "env_path": "{{ cases.env_path }}",
                     "repo_path": "{{ cases.repo_path }}", "binary": tool("helm"),
                     "chart_cache": str(tmp_path / "charts")}}
    cases = {"releases": [{"name": "web", "namespace": ns, "chart": chart, "values_files": values}],
             "env_path": str(env), "repo_path": str(repo)}
    for mode, extra in (("worker", {}), ("module", {"vars": other_python(tmp_path)})):
        run = play(tmp_path / mode, cases, [{"name": "helm", "trident.gitops.kube_diff": args, **extra}],
                   check=True, diff=True)
        assert run.rc == 0, output(run)[-3000:]
        shown = json.dumps(run.task_results()[1]["diff"])
        assert all(f"literal-{index}" in shown for index, _name in hostile_names(".yaml")), mode
        assert_no_canary(run)


def drive_sops_decrypt(tmp_path, age_key):
    source = encrypt(tmp_path, "source.sops.yaml", "marker: literal\n", "--age", age_key.public)
    paths = []
    for _index, name in hostile_names(".sops.yaml"):
        target = tmp_path / "repo" / "environments" / "prod" / "secrets" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        paths.append(str(target))
    task = {"name": "decrypt", "trident.gitops.sops_decrypt": {
        "path": "{{ item }}", "input_type": "yaml", "age_key_file": str(age_key.path), "use_environment": False},
        "loop": "{{ cases.paths }}"}
    for mode, extra in (("worker", {}), ("module", {"vars": other_python(tmp_path)})):
        run = play(tmp_path / mode, {"paths": paths}, [{**task, **extra}])
        assert run.rc == 0, output(run)[-3000:]
        results = run.task_results()[1]["results"]
        assert [r["data"] for r in results] == [{"marker": "literal"}] * len(paths), mode
        assert_no_canary(run)


def drive_terraform_apply(tmp_path):
    project = deep_folder(tmp_path / "repo" / "environments") / "prod"
    names = hostile_names(".tfvars")
    body = "".join(f'variable "v{index}" {{\n  type = string\n}}\noutput "v{index}" {{\n  value = var.v{index}\n}}\n'
                   for index, _name in names)
    write(project / "main.tf", body)
    files = [str(write(project / name, f'v{index} = "literal-{index}"\n')) for index, name in names]
    args = {"project_path": "{{ cases.project }}", "variables_files": "{{ cases.files }}", "binary": tool("tofu"),
            "state_dir": str(tmp_path / "state")}
    run = play(tmp_path / "tf", {"project": str(project), "files": files},
               [{"name": "apply", "trident.gitops.terraform_apply": args}])
    assert run.rc == 0, output(run)[-3000:]
    assert run.task_results()[1]["outputs"] == {f"v{index}": f"literal-{index}" for index, _name in names}
    assert_no_canary(run)


def drive_sops_lookup(tmp_path, age_key):
    """Relative terms (looked up in the play's files/ folder, a leading ~ included) and absolute ones; a decoy
    in the controller's home holds the canary: a ~ that expanded would read it."""
    workdir = tmp_path / "lookup"
    source = encrypt(tmp_path, "source.sops.yaml", "marker: literal\n", "--age", age_key.public)
    decoy = encrypt(tmp_path, "decoy.sops.yaml", f"marker: {CANARY}\n", "--age", age_key.public)
    relative, absolute = [], []
    for _index, name in hostile_names(".sops.yaml"):
        for base, terms, term in ((workdir / "files", relative, name),
                                  (tmp_path / "repo" / "secrets", absolute, str(tmp_path / "repo" / "secrets" / name))):
            (base / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, base / name)
            terms.append(term)
        if name.startswith("~/"):
            (workdir / "home").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(decoy, workdir / "home" / name[2:])
    lookup = ("{{ query('trident.gitops.sops', *cases.terms, age_key_file='" + str(age_key.path)
              + "', use_environment=false) | map(attribute='marker') | list }}")
    run = play(workdir, {"terms": relative + absolute},
               [{"name": "decrypt", "ansible.builtin.debug": {"msg": lookup}}])
    assert run.rc == 0, output(run)[-3000:]
    assert run.task_results()[1]["msg"] == ["literal"] * (len(relative) + len(absolute))
    assert_no_canary(run)


def git_repository(tmp_path):
    """A Git checkout with an environment folder named with every hostile form."""
    repo = tmp_path / "checkout"
    folders = []
    for form in FORMS:
        folder = f"environments/{form}"
        write(repo / folder / "env.yml", "namespace: app\n")
        write(repo / folder / "yaml" / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n")
        folders.append(folder)
    git("init", "-q", "--initial-branch=main", str(repo))
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "hostile folders", cwd=repo)
    return repo, folders, git("rev-parse", "HEAD", cwd=repo)


def drive_environment_at(tmp_path):
    repo, folders, commit = git_repository(tmp_path)
    expected = [git("rev-parse", f"{commit}:{folder}", cwd=repo) for folder in folders]
    lookup = ("{{ lookup('trident.gitops.environment_at', '" + commit + "', checkout='" + str(repo)
              + "', env_dir=item, materialise=false).tree }}")
    run = play(tmp_path / "at", {"folders": folders}, [
        {"name": "tree", "ansible.builtin.debug": {"msg": lookup}, "loop": "{{ cases.folders }}"}])
    assert run.rc == 0, output(run)[-3000:]
    assert [r["msg"] for r in run.task_results()[1]["results"]] == expected
    assert_no_canary(run)


def drive_deployed_revision(tmp_path):
    repo, folders, commit = git_repository(tmp_path)
    expected = [git("rev-parse", f"{commit}:{folder}", cwd=repo) for folder in folders]
    lookup = ("{{ lookup('trident.gitops.deployed_revision', '" + str(repo) + "', revision='" + commit
              + "', env_dir=item).tree }}")
    run = play(tmp_path / "deployed", {"folders": folders}, [
        {"name": "tree", "ansible.builtin.debug": {"msg": lookup}, "loop": "{{ cases.folders }}"}])
    assert run.rc == 0, output(run)[-3000:]
    assert [r["msg"] for r in run.task_results()[1]["results"]] == expected
    assert_no_canary(run)


def drive_policy_check(tmp_path):
    """Policy folders with hostile names hold one rule each: every folder's rule is evaluated, by its literal name."""
    root = tmp_path / "repo"
    (root / "environments" / "prod").mkdir(parents=True)
    dirs = []
    for index, name in hostile_names("-policy"):
        write(root / name / "p.rego", f'package main\n\ndeny contains msg if {{\n  input.kind == "ConfigMap"\n'
                                      f'  msg := "literal-{index}"\n}}\n')
        dirs.append(name)
    task = {"name": "check", "register": "checked", "trident.gitops.policy_check": {
        "repository_root": str(root), "policy_dirs": "{{ cases.dirs }}", "binary": tool("opa"),
        "objects": [{"source": "environments/prod/yaml/a.yaml", "object": {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}}}],
        "environment": {"name": "prod", "dir": "environments/prod", "settings": {}}}}
    run = play(tmp_path / "policy", {"dirs": dirs}, [task])
    assert run.rc == 0, output(run)[-3000:]
    result = run.task_results()[1]
    assert result["refused"] is True
    assert {d["message"] for d in result["denials"]} == {f"literal-{index}" for index, _name in hostile_names("-policy")}
    assert_no_canary(run)


def drive_vault_kv(tmp_path, vault_server):
    """Reference files with hostile names are read literally and resolved against the operator's Vault."""
    vault_server.kv_put("hostile-names/app", {"key": "literal"})
    paths = []
    for _index, name in hostile_names(".vault.yaml"):
        paths.append(str(write(tmp_path / "repo" / "environments" / "prod" / "secrets" / name,
                               "value: {path: hostile-names/app, key: key}\n")))
    task = {"name": "resolve", "no_log": False, "trident.gitops.vault_kv": {
        "path": "{{ item }}", "repository_root": str(tmp_path / "repo"), "use_environment": False,
        "vault": {"address": vault_server.address, "token": vault_server.root_token}}, "loop": "{{ cases.paths }}"}
    run = play(tmp_path / "vault", {"paths": paths}, [task])
    assert run.rc == 0, output(run)[-3000:]
    results = run.task_results()[1]["results"]
    assert [r["data"] for r in results] == [{"value": "literal"}] * len(paths)
    assert_no_canary(run)


DRIVERS = {
    ("module", "kube_diff", "src"): drive_kube_diff_src,
    ("module", "kube_diff", "kustomize"): drive_kube_diff_kustomize,
    ("module", "kube_diff", "helm.env_path"): drive_kube_diff_helm,
    ("module", "kube_diff", "helm.repo_path"): drive_kube_diff_helm,
    ("module", "sops_decrypt", "path"): drive_sops_decrypt,
    ("module", "terraform_apply", "project_path"): drive_terraform_apply,
    ("module", "terraform_apply", "variables_files"): drive_terraform_apply,
    ("module", "terraform_apply", "backend_config_files"): None,  # see test_backend_config_files_are_literal
    ("lookup", "sops", "_terms"): drive_sops_lookup,
    ("lookup", "environment_at", "env_dir"): drive_environment_at,
    ("lookup", "deployed_revision", "env_dir"): drive_deployed_revision,
    ("module", "policy_check", "policy_dirs"): drive_policy_check,
    ("module", "vault_kv", "path"): drive_vault_kv,
}


def repository_rows():
    row = re.compile(r"^\| (module|lookup|inventory|callback) (\w+) \| `([\w.]+)` \| repository \|$", re.M)
    return {match.groups() for match in row.finditer((REPO / "docs" / "developing.md").read_text())}


def test_every_repository_path_of_the_docs_is_attacked():
    assert set(DRIVERS) == repository_rows(), "a repository path without an attack (or an attack of no option)"


@pytest.mark.parametrize("driver", sorted({d for d in DRIVERS.values() if d}, key=lambda d: d.__name__),
                         ids=lambda d: d.__name__[len("drive_"):])
def test_a_hostile_name_is_read_literally_and_leaks_nothing(driver, request, tmp_path):
    """Each driver names the real services it needs (control_plane, age_key) as parameters."""
    services = [name for name in inspect.signature(driver).parameters if name != "tmp_path"]
    driver(tmp_path, **{name: request.getfixturevalue(name) for name in services})


def test_backend_config_files_are_literal(tmp_path):
    """Backend configuration files with hostile names reach init as written: tofu reads the literal files (its
    error names them) and the canary is nowhere."""
    project = deep_folder(tmp_path / "repo") / "prod"
    write(project / "main.tf", 'terraform {\n  backend "local" {}\n}\n')
    files = [str(write(project / name, f'path = "{tmp_path}/state-{index}/x.tfstate"\nbogus_{index} = 1\n'))
             for index, name in hostile_names(".tfbackend")]
    run = play(tmp_path / "backend", {"project": str(project), "files": files}, [
        {"name": "init", "trident.gitops.terraform_apply": {
            "project_path": "{{ cases.project }}", "backend_config_files": "{{ cases.files }}",
            "binary": tool("tofu"), "state_dir": str(tmp_path / "state")}, "ignore_errors": True}])
    result = run.task_results()[1]
    # tofu names each file it read relative to the copy of the configuration it runs in (the state dir's work
    # folder), so by way of the project folder (its message is cut to the last lines).
    read = {int(n) for n in re.findall(r'An argument named "bogus_(\d+)" is not expected', result["msg"])}
    assert result["failed"] is True and read, result["msg"][-2000:]
    names = dict(hostile_names(".tfbackend"))
    assert any(f"/prod/{names[index]} line 2" in result["msg"] for index in read), result["msg"][-2000:]
    assert_no_canary(run)
