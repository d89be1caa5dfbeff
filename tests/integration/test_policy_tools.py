"""The pinned OPA and conftest: a deny rule evaluated on an input, a sandbox without http.send, conftest on a file."""

import json
import subprocess

import yaml

from testbed import tool, toolchain

DENY_WITHOUT_LIMITS = """\
package main

deny contains msg if {
    input.kind == "Deployment"
    some container in input.spec.template.spec.containers
    not container.resources.limits
    msg := sprintf("Deployment %s: container %s has no resource limits", [input.metadata.name, container.name])
}
"""


def deployment(name, limits=None):
    container = {"name": "app", "image": "registry.invalid/app:1"}
    if limits:
        container["resources"] = {"limits": limits}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"template": {"spec": {"containers": [container]}}}}


def run(*argv, cwd):
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, check=False)


def sandbox_capabilities(path):
    """OPA's capabilities without the builtins that reach outside the input (network, environment)."""
    current = json.loads(run(tool("opa"), "capabilities", "--current", cwd=path.parent).stdout)
    refused = {"http.send", "opa.runtime", "net.lookup_ip_addr"}
    current["builtins"] = [b for b in current["builtins"] if b["name"] not in refused]
    path.write_text(json.dumps(current))
    return path


def test_opa_eval_denies_a_deployment_without_limits(tmp_path):
    (tmp_path / "policy.rego").write_text(DENY_WITHOUT_LIMITS)
    caps = sandbox_capabilities(tmp_path / "caps.json")
    verdicts = {}
    for name, limits in (("bare", None), ("limited", {"cpu": "1", "memory": "1Gi"})):
        (tmp_path / "input.json").write_text(json.dumps(deployment(name, limits)))
        proc = run(tool("opa"), "eval", "--format", "json", "--capabilities", caps, "--data", "policy.rego",
                   "--input", "input.json", "data.main.deny", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        verdicts[name] = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    assert verdicts == {"bare": ["Deployment bare: container app has no resource limits"], "limited": []}


def test_a_policy_calling_http_send_is_refused_before_it_runs(tmp_path, request_recorder):
    (tmp_path / "exfiltrate.rego").write_text(
        "package main\n\n"
        f'deny contains msg if {{\n    resp := http.send({{"method": "GET", "url": "{request_recorder.url}/leak"}})\n'
        "    msg := sprintf(\"%v\", [resp.status_code])\n}\n")
    (tmp_path / "runtime.rego").write_text(
        'package env\n\nwarn contains msg if {\n    msg := opa.runtime().env.HOME\n}\n')
    (tmp_path / "input.json").write_text("{}")
    caps = sandbox_capabilities(tmp_path / "caps.json")
    for policy, builtin in (("exfiltrate.rego", "http.send"), ("runtime.rego", "opa.runtime")):
        proc = run(tool("opa"), "eval", "--capabilities", caps, "--data", policy, "--input", "input.json",
                   "data", cwd=tmp_path)
        assert proc.returncode != 0
        assert f"undefined function {builtin}" in proc.stdout + proc.stderr
    assert request_recorder.requests == []
    # The oracle works: without the restricted capabilities the same policy does reach the spy.
    proc = run(tool("opa"), "eval", "--data", "exfiltrate.rego", "--input", "input.json", "data.main.deny",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r.path for r in request_recorder.requests] == ["/leak"]


def test_conftest_tests_a_file_with_a_policy(tmp_path):
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "limits.rego").write_text(DENY_WITHOUT_LIMITS)
    (tmp_path / "bare.yaml").write_text(yaml.safe_dump(deployment("bare")))
    (tmp_path / "limited.yaml").write_text(yaml.safe_dump(deployment("limited", {"memory": "1Gi"})))

    failing = run(tool("conftest"), "test", "--no-color", "--output", "json", "bare.yaml", cwd=tmp_path)
    assert failing.returncode == 1, failing.stderr
    [result] = json.loads(failing.stdout)
    assert result["filename"] == "bare.yaml"
    assert [f["msg"] for f in result["failures"]] == ["Deployment bare: container app has no resource limits"]

    passing = run(tool("conftest"), "test", "--no-color", "limited.yaml", cwd=tmp_path)
    assert passing.returncode == 0, passing.stdout + passing.stderr


def test_opa_and_conftest_share_one_engine_version(tmp_path):
    opa = run(tool("opa"), "version", cwd=tmp_path).stdout
    conftest = run(tool("conftest"), "--version", cwd=tmp_path).stdout
    opa_version = next(line.split(":", 1)[1].strip() for line in opa.splitlines() if line.startswith("Version:"))
    assert f"OPA: {opa_version}" in conftest
    assert f"Conftest: {toolchain.VERSIONS['conftest']['version'].lstrip('v')}" in conftest
    assert opa_version == toolchain.VERSIONS["conftest"]["require"]["github.com/open-policy-agent/opa"].lstrip("v")
