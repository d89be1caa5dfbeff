"""kube_diff and sops_decrypt through their action plugins: an environment-shaped host (local connection, the
controller's Python) runs the work in the Ansible worker with no module process, any other host runs the module,
and both return the same result (the module is the reference), leaking nothing at -vvvv."""

import json
import re
import shutil
import sys

import yaml

from kube_support import config_map, dump, namespace, unique
from sops_helpers import encrypt
from testbed.ansible import run_playbook

SECRET = "In-Proc3ss-Secret"


def other_python(tmp_path):
    """Another interpreter path for the same Python (a host whose Python is not the controller's)."""
    wrapper = tmp_path / "bin" / "python"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return {"ansible_python_interpreter": str(wrapper)}


def output(run):
    return run.stdout + run.stderr


def assert_in_process(run, module):
    assert f"trident.gitops.{module}: running in the worker, no module process" in output(run)
    assert f"AnsiballZ_{module}" not in output(run) and "running the module" not in output(run)


def assert_module_ran(run, module):
    assert f"trident.gitops.{module}: running the module (interpreter " in output(run)
    assert f"AnsiballZ_{module}" in output(run)


def comparable(result):
    """``result`` without what differs between any two runs: the wall time and the masks' digests (their key
    is drawn per process)."""
    if isinstance(result, dict) and "stats" in result:
        result = {**result, "stats": {k: v for k, v in result["stats"].items() if k != "seconds"}}
    return json.loads(re.sub(r"<masked:[0-9a-f]+>", "<masked>", json.dumps(result)))


def test_kube_diff_in_the_worker_returns_what_the_module_returns(control_plane, tmp_path):
    ns = unique("inproc")
    manifests = tmp_path / "yaml"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(dump([namespace(ns), config_map("settings", {"mode": "blue"}), {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": SECRET}}]))
    cache = tmp_path / "cache"
    args = {"src": [str(manifests)], "namespace": ns, "kubeconfig": "{{ kubeconfig_text }}",
            "discovery_cache": str(cache)}

    def tasks(**task):
        read = {"name": "read kubeconfig", "no_log": True, "ansible.builtin.set_fact": {
            "kubeconfig_text": f"{{{{ lookup('file', '{control_plane.kubeconfig}') }}}}"}}
        return [read, {"name": "kube_diff", "trident.gitops.kube_diff": args, **task}]

    in_worker = run_playbook(tmp_path / "worker", tasks(), check=True, diff=True, verbosity=4)
    shutil.rmtree(cache)  # the same requests for both: discovery starts cold each time
    by_module = run_playbook(tmp_path / "module", tasks(vars=other_python(tmp_path)), check=True, diff=True,
                             verbosity=4)
    assert in_worker.rc == 0 and by_module.rc == 0, output(in_worker)[-3000:] + output(by_module)[-3000:]
    assert_in_process(in_worker, "kube_diff")
    assert_module_ran(by_module, "kube_diff")
    ours, reference = in_worker.task_results()[-1], by_module.task_results()[-1]
    assert ours["changed"] is True and ours["summary"]["create"] == 3
    assert comparable(ours) == comparable(reference)
    assert ours["invocation"]["module_args"]["kubeconfig"] == reference["invocation"]["module_args"]["kubeconfig"]
    for run in (in_worker, by_module):
        assert SECRET not in output(run) and control_plane.admin_token not in output(run)


def test_sops_decrypt_in_the_worker_returns_what_the_module_returns(tmp_path, age_key):
    source = encrypt(tmp_path, "app.sops.yaml", f"password: {SECRET}\nport: 5432\n", "--age", age_key.public)
    dest = tmp_path / "out" / "app.yaml"
    dest.parent.mkdir()

    def tasks(**task):
        return [
            {"name": "to dest", "trident.gitops.sops_decrypt": {
                "path": str(source), "dest": str(dest), "age_key_file": str(age_key.path), "use_environment": False},
             **task},
            # The key comes from the task's environment keyword, as a module process would get it.
            {"name": "data", "trident.gitops.sops_decrypt": {"path": str(source)}, "register": "decrypted",
             "no_log": True, "environment": {"SOPS_AGE_KEY_FILE": str(age_key.path)}, **task},
            {"name": "check data", "ansible.builtin.assert": {"that": ["decrypted.data.password == expected"]},
             "no_log": True},
            {"name": "bad arguments", "trident.gitops.sops_decrypt": {"path": str(source), "content": SECRET},
             "ignore_errors": True, **task},
        ]

    in_worker = run_playbook(tmp_path / "worker", tasks(), diff=True, verbosity=4, extra_vars={"expected": SECRET},
                             env={"SOPS_AGE_KEY_FILE": ""})
    written = dest.read_text()
    dest.unlink()
    by_module = run_playbook(tmp_path / "module", tasks(vars=other_python(tmp_path)), diff=True, verbosity=4,
                             extra_vars={"expected": SECRET}, env={"SOPS_AGE_KEY_FILE": ""})
    assert in_worker.rc == 0 and by_module.rc == 0, output(in_worker)[-3000:] + output(by_module)[-3000:]
    assert_in_process(in_worker, "sops_decrypt")
    assert_module_ran(by_module, "sops_decrypt")
    assert yaml.safe_load(written) == {"password": SECRET, "port": 5432} and dest.read_text() == written
    ours, reference = in_worker.task_results(), by_module.task_results()
    assert ours[0]["changed"] is True and ours[0]["mode"] == "0600" and ours[0]["state"] == "file"
    assert ours[3]["failed"] is True and ours[3]["msg"] == "parameters are mutually exclusive: path|content"
    assert [comparable(r) for r in ours] == [comparable(r) for r in reference]
    for run in (in_worker, by_module):
        assert SECRET not in output(run)


def test_terraform_apply_in_the_worker_returns_what_the_module_returns(tmp_path):
    """In the worker the decrypted variables are never a module's arguments, which ANSIBLE_DEBUG prints whole."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.tf").write_text('variable "password" { type = string }\nvariable "region" { type = string }\n'
                                     'resource "terraform_data" "db" { input = "pg://u:${var.password}@db" }\n'
                                     'output "echo" { value = var.password }\noutput "region" { value = var.region }\n')

    def tasks(state, **task):
        args = {"project_path": str(project), "binary": "terraform", "state_dir": str(tmp_path / state),
                "variables": {"password": SECRET}, "plain_variables": {"region": "eu"}}
        return [{"name": "plan", "trident.gitops.terraform_apply": args, **task},
                {"name": "bad arguments", "trident.gitops.terraform_apply": {**args, "phase": "later"},
                 "ignore_errors": True, **task}]

    in_worker = run_playbook(tmp_path / "worker", tasks("w"), check=True, diff=True, verbosity=4,
                             env={"ANSIBLE_DEBUG": "1", "ANSIBLE_STDOUT_CALLBACK": "default"})
    assert in_worker.rc == 0, output(in_worker)[-3000:]
    assert_in_process(in_worker, "terraform_apply")
    assert SECRET not in output(in_worker), "ANSIBLE_DEBUG prints no module arguments in the worker"
    in_worker = run_playbook(tmp_path / "worker-json", tasks("w"), check=True, diff=True, verbosity=4)
    by_module = run_playbook(tmp_path / "module", tasks("w", vars=other_python(tmp_path)), check=True, diff=True,
                             verbosity=4)
    assert by_module.rc == 0, output(by_module)[-3000:]
    assert_module_ran(by_module, "terraform_apply")
    ours, reference = in_worker.task_results(), by_module.task_results()
    assert ours[0]["outputs"]["echo"].startswith("<masked:") and ours[0]["outputs"]["region"] == "eu"
    assert ours[0]["invocation"]["module_args"]["variables"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "phase" in ours[1]["msg"]
    assert [comparable(r) for r in ours] == [comparable(r) for r in reference]
    for run in (in_worker, by_module):
        assert SECRET not in output(run)
