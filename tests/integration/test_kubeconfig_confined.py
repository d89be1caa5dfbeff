"""Issue 24, class 3: no file a repository kubeconfig names is read outside the repository, whichever way kube_diff
gets the kubeconfig, against the real testbed apiserver and a loopback HTTPS spy server.

Generated: every file field (a user's tokenFile, client-certificate, client-key, a cluster's certificate-authority,
an oidc auth provider's idp-certificate-authority) x every hostile spelling (absolute, ~, $VAR, ${VAR}, '..', a
symlink to the file, a symlinked folder, /proc/self/root, a file:// URL, a name found only in the working folder)
x every layout (a file in a Git checkout, a file in a held revision's copy without .git, content decrypted from
kubeconfig.sops.yaml, content of a clone in the remote inventory's cache, and the same file and content without
repository_root) x two user shapes (the field alone; with username and password, the form that used to go to the
kubernetes client's loader) x both servers.

Oracles. The canaries are controller files that would work if read: the token is the apiserver's admin token (the
spy's own canary token elsewhere), the certificate the server's CA, the client certificate one the server accepts
(system:masters on the apiserver), so had one been read the request would succeed. Then
- the refusal's message holds no canary content and no controller path;
- the spy, named as the cluster and as the oidc issuer, sees no request at all;
- on the apiserver nothing is applied.
Controls (also the positive cases): the same kubeconfigs with the canary copied inside the repository reach the
server in every layout (the spy records the token, the client certificate, the TLS handshake with that CA, the
issuer request; the apiserver applies), so the oracles can fail. A real held copy (environment_at's materialise,
no .git) and a real SOPS-decrypted kubeconfig through ansible-playbook complete it.
"""

import base64
import json
import os
import secrets
import shutil
import sys
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kube_support import config_map, unique
from testbed.ansible import run_playbook
from testbed.gitserver import git
from testbed.pki import CertificateAuthority
from testbed.sops import sops
from testbed.spyserver import SpyServer

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.snapshot import materialise
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run

pytestmark = pytest.mark.xdist_group("kubeconfig_confined")

FIELDS = ("tokenFile", "client-certificate", "client-key", "certificate-authority", "idp-certificate-authority")
# The canary file each field would read, in the controller folder of a target.
CANARY_FILE = {"tokenFile": "token", "client-certificate": "client.crt", "client-key": "client.key",
               "certificate-authority": "ca.crt", "idp-certificate-authority": "idp.crt"}
SPELLINGS = ("absolute", "tilde", "variable", "braced-variable", "dot-dot", "symlink", "symlinked-folder",
             "proc-self-root", "file-url", "working-folder")
LAYOUTS = ("checkout", "held-copy", "decrypted", "remote-cache", "checkout-without-root", "content-without-root")
SHAPES = ("field", "with-basic-auth")
TARGETS = ("apiserver", "spy")
ENV = Path("environments/prod")
ORIGIN = ENV / "kubeconfig.sops.yaml"
# An oidc id-token that expired long ago: the kubernetes client's loader refreshes it with the issuer, reading
# idp-certificate-authority to trust it.
EXPIRED_ID_TOKEN = "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.c2ln"


def b64(data):
    return base64.b64encode(data).decode()


def pem_line(pem):
    """A line of a PEM body: unique to that certificate or key, and what would show if its content leaked."""
    return pem.decode().splitlines()[1]


@dataclass
class Target:
    """A server a kubeconfig names, and the controller files that would authenticate to it if read."""

    name: str
    server: str
    ca_pem: bytes
    authority: CertificateAuthority
    controller: Path  # holds the canary files (CANARY_FILE)
    canaries: tuple  # strings of their content that must never appear anywhere (the folder's path: in no message)


@pytest.fixture(scope="module")
def spy_authority():
    return CertificateAuthority("trident-spy-ca")


@pytest.fixture(scope="module")
def spy(spy_authority):
    with SpyServer(spy_authority) as server:
        yield server


@pytest.fixture(scope="module")
def world(tmp_path_factory, control_plane, spy, spy_authority):
    """The controller's canaries per target, and the repository in every layout (all roots are siblings of the
    controller folder, so one '..' spelling leaves each of them)."""
    work = tmp_path_factory.mktemp("kubeconfig-confined")
    targets = {}
    for name, server, authority, token in (
            ("apiserver", control_plane.server, control_plane.ca, control_plane.admin_token),
            ("spy", spy.url, spy_authority, f"canary-token-{secrets.token_hex(8)}")):
        controller = work / "controller" / name
        controller.mkdir(parents=True)
        cert, key = authority.issue(f"canary-cert-{secrets.token_hex(4)}", organization="system:masters", client=True)
        files = {"token": token.encode(), "client.crt": cert, "client.key": key, "ca.crt": authority.cert_pem,
                 "idp.crt": spy_authority.cert_pem}
        for file_name, data in files.items():
            (controller / file_name).write_bytes(data)
        targets[name] = Target(name, server, authority.cert_pem, authority, controller,
                               (token, pem_line(cert), pem_line(key), pem_line(authority.cert_pem),
                                pem_line(spy_authority.cert_pem)))
    repo = work / "repo"
    env = repo / ENV
    env.mkdir(parents=True)
    for target in targets.values():
        # The controls' copies inside the repository, and the links that lead out.
        shutil.copytree(target.controller, env / "inside" / target.name)
        for field, file_name in CANARY_FILE.items():
            os.symlink(target.controller / file_name, env / f"outside-link-{target.name}-{field}")
        os.symlink(target.controller, env / f"outside-dir-{target.name}")
    cases = {}
    for target in targets.values():
        for field in FIELDS:
            for shape in SHAPES:
                for spelling in SPELLINGS + ("inside",):
                    case = f"{target.name}-{field}-{shape}-{spelling}"
                    config = kubeconfig(target, field, shape, spelling_of(target, field, spelling), case, spy)
                    (env / f"kubeconfig-{case}.yaml").write_text(yaml.safe_dump(config))
                    cases[case] = config
    git("init", "--quiet", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "kubeconfigs", cwd=repo)
    held = work / "held"  # as environment_at leaves a held revision: the tree, no .git
    shutil.copytree(repo, held, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    remote = work / "remote"  # the remote inventory's clone in its cache
    git("clone", "--quiet", str(repo), str(remote), cwd=work)
    return {"work": work, "targets": targets, "repo": repo, "held": held, "remote": remote, "cases": cases,
            "discovery": work / "discovery"}


def spelling_of(target, field, spelling):
    """The value of ``field`` in environments/prod/kubeconfig-*.yaml that names the target's canary file."""
    file_name = CANARY_FILE[field]
    canary = target.controller / file_name
    return {
        "absolute": str(canary),
        "tilde": f"~/{file_name}",  # HOME is the controller folder
        "variable": f"$TRIDENT_CANARY_DIR/{file_name}",
        "braced-variable": f"${{TRIDENT_CANARY_DIR}}/{file_name}",
        "dot-dot": f"../../../controller/{target.name}/{file_name}",
        "symlink": f"outside-link-{target.name}-{field}",
        "symlinked-folder": f"outside-dir-{target.name}/{file_name}",
        "proc-self-root": f"/proc/self/root{canary}",
        "file-url": f"file://{canary}",
        "working-folder": file_name,  # the working folder is the controller folder
        "inside": f"inside/{target.name}/{file_name}",
    }[spelling]


def kubeconfig(target, field, shape, value, case, spy):
    """A kubeconfig whose ``field`` is ``value`` and whose other credentials would make a request succeed."""
    cluster = {"server": target.server}
    identity_cert, identity_key = target.authority.issue(f"case-{case}"[:60], organization="system:masters",
                                                         client=True)
    user = {}
    if field == "tokenFile":
        user["tokenFile"] = value
    elif field == "client-certificate":
        user.update({"client-certificate": value, "client-key": f"inside/{target.name}/client.key"})
    elif field == "client-key":
        user.update({"client-certificate": f"inside/{target.name}/client.crt", "client-key": value})
    else:
        user.update({"client-certificate-data": b64(identity_cert), "client-key-data": b64(identity_key)})
    if field == "certificate-authority":
        cluster["certificate-authority"] = value
    else:
        cluster["certificate-authority-data"] = b64(target.ca_pem)
    if field == "idp-certificate-authority":
        user["auth-provider"] = {"name": "oidc", "config": {
            "id-token": EXPIRED_ID_TOKEN, "idp-issuer-url": spy.url, "idp-certificate-authority": value,
            "client-id": "oidc-client-id-7c1e", "client-secret": "oidc-client-secret-7c1e",
            "refresh-token": "oidc-refresh-token-7c1e"}}
    if shape == "with-basic-auth":
        user.update({"username": "deployer", "password": "hunter2"})
    return {"apiVersion": "v1", "kind": "Config", "current-context": "prod",
            "clusters": [{"name": "prod-cluster", "cluster": cluster}],
            "users": [{"name": "deployer", "user": user}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod-cluster", "user": "deployer"}}]}


def connection(world, layout, case):
    """kube_diff's connection options for ``case`` in ``layout``."""
    name = f"kubeconfig-{case}.yaml"
    text = yaml.safe_dump(world["cases"][case])
    return {
        "checkout": {"kubeconfig": str(world["repo"] / ENV / name), "repository_root": str(world["repo"])},
        "held-copy": {"kubeconfig": str(world["held"] / ENV / name), "repository_root": str(world["held"])},
        "decrypted": {"kubeconfig": text, "repository_root": str(world["repo"]), "kubeconfig_file": str(ORIGIN)},
        "remote-cache": {"kubeconfig": text, "repository_root": str(world["remote"]),
                         "kubeconfig_file": str(world["remote"] / ORIGIN)},
        "checkout-without-root": {"kubeconfig": str(world["repo"] / ENV / name)},
        "content-without-root": {"kubeconfig": text},
    }[layout]


def present(control_plane, name):
    try:
        control_plane.request("GET", f"/api/v1/namespaces/default/configmaps/{name}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise
    return True


def attempt(world, target, layout, case, monkeypatch):
    """Run kube_diff (apply) for ``case`` from the controller folder, with HOME and $TRIDENT_CANARY_DIR there;
    (result or None, message or None, configmap name)."""
    monkeypatch.chdir(target.controller)
    monkeypatch.setenv("HOME", str(target.controller))
    monkeypatch.setenv("TRIDENT_CANARY_DIR", str(target.controller))
    name = unique("confined")
    params = {**connection(world, layout, case), "definition": [config_map(name, {"from": "repository"})],
              "apply": True, "discovery_cache": str(world["discovery"]), "request_timeout": 10}
    try:
        return run(validated_request(params), check_mode=False, diff_mode=True), None, name
    except TridentError as exc:
        return None, exc.message, name


def hostile_cases():
    return [(target, field, shape, spelling, layout) for target in TARGETS for field in FIELDS for shape in SHAPES
            for spelling in SPELLINGS for layout in LAYOUTS]


@pytest.mark.parametrize("target_name, field, shape, spelling, layout", hostile_cases())
def test_a_file_outside_the_repository_is_never_read_or_sent(world, control_plane, spy, monkeypatch, target_name,
                                                             field, shape, spelling, layout):
    target = world["targets"][target_name]
    seen = len(spy.requests)
    result, message, name = attempt(world, target, layout, f"{target_name}-{field}-{shape}-{spelling}", monkeypatch)
    # The oracles first: what a read file would have caused.
    assert spy.requests[seen:] == [], "the spy saw a request"
    if target_name == "apiserver":
        assert not present(control_plane, name), "nothing is applied"
    for canary in target.canaries + (str(world["work"]),):
        assert canary not in (message or ""), f"the message shows {canary!r}: {message}"
    # Then the refusal itself, before anything was read.
    assert result is None and message is not None, "refused"
    if layout.endswith("without-root"):
        assert "repository_root" in message and "nothing was read or sent" in message, message
    else:
        shown = "environments/prod/kubeconfig.sops.yaml" if layout in ("decrypted", "remote-cache") \
            else f"environments/prod/kubeconfig-{target_name}-{field}-{shape}-{spelling}.yaml"
        entry = "cluster 'prod-cluster'" if field == "certificate-authority" else "user 'deployer'"
        shown_field = f"auth-provider.config.{field}" if field.startswith("idp") else field
        assert message.startswith(f"{shown}: {entry} field '{shown_field}' "), message
        assert "so nothing was read, run or sent" in message


@pytest.mark.parametrize("target_name, field, shape, layout", [
    (target, field, shape, layout) for target in TARGETS for field in FIELDS for shape in SHAPES
    for layout in ("checkout", "held-copy", "decrypted", "remote-cache")])
def test_the_same_files_inside_the_repository_are_read_in_every_layout(world, control_plane, spy, monkeypatch,
                                                                       target_name, field, shape, layout):
    """The control of the test above (its oracles fire when a file is read) and the positive case."""
    target = world["targets"][target_name]
    seen = len(spy.requests)
    result, message, name = attempt(world, target, layout, f"{target_name}-{field}-{shape}-inside", monkeypatch)
    new = spy.requests[seen:]
    if field == "idp-certificate-authority":
        # The loader trusted the issuer with the repository's CA file; the spy's 401 then ends the refresh.
        assert any(entry["path"] == "/.well-known/openid-configuration" for entry in new), new
        assert "the auth provider gave no credential" in message, message
        return
    if target_name == "apiserver":
        assert message is None and result["changed"] is True, message
        assert present(control_plane, name)
        return
    assert message is not None and "401 Unauthorized" in message, message  # the spy answers 401
    cluster_requests = [entry for entry in new if entry["path"] != "/.well-known/openid-configuration"]
    assert cluster_requests, "the request reached the spy"
    if field == "tokenFile":
        assert cluster_requests[0]["headers"].get("Authorization") == f"Bearer {target.canaries[0]}"
    if field in ("client-certificate", "client-key"):
        subject = dict(pair[0] for pair in cluster_requests[0]["client_certificate"]["subject"])
        assert subject["commonName"].startswith("canary-cert-")


def test_a_relative_credential_program_is_refused_even_when_allowed(world, spy, monkeypatch, tmp_path):
    """An exec command or cmd-path that is a relative path would run a file of the repository: refused, also with
    its exact command line allowed, before it runs (its marker file stays absent)."""
    target = world["targets"]["spy"]
    marker = tmp_path / "ran"
    plugin = world["held"] / ENV / "bin" / "plugin"
    plugin.parent.mkdir()
    plugin.write_text(f"#!{sys.executable}\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
                      "print('{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", "
                      "\"status\": {\"token\": \"t\"}}')\n")
    plugin.chmod(0o755)
    monkeypatch.chdir(target.controller)
    monkeypatch.setenv("HOME", str(world["held"] / ENV))
    for command in ("bin/plugin", "./bin/plugin", "~/bin/plugin", "$HOME/bin/plugin", "../prod/bin/plugin"):
        for user in ({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command}},
                     {"auth-provider": {"name": "gcp", "config": {"cmd-path": command}}}):
            config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
                      "clusters": [{"name": "c", "cluster": {"server": spy.url,
                                                             "certificate-authority-data": b64(target.ca_pem)}}],
                      "users": [{"name": "u", "user": user}],
                      "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
            path = world["held"] / ENV / "kubeconfig-program.yaml"
            path.write_text(yaml.safe_dump(config))
            seen = len(spy.requests)
            params = {"kubeconfig": str(path), "repository_root": str(world["held"]), "kubeconfig_exec": [command],
                      "definition": [config_map("never", {})], "discovery_cache": str(world["discovery"])}
            with pytest.raises(TridentError) as refused:
                run(validated_request(params), check_mode=True, diff_mode=False)
            field = "exec.command" if "exec" in user else "auth-provider.config.cmd-path"
            assert refused.value.message.startswith(
                f"environments/prod/kubeconfig-program.yaml: user 'u' field '{field}' is not a program name or an "
                "absolute path (a relative path would run a file of the repository)"), refused.value.message
            assert not marker.exists() and spy.requests[seen:] == []


def test_a_real_held_copy_without_git_reads_its_own_files(world, control_plane, tmp_path):
    """environment_at's materialise (git archive, no .git) of a repository whose kubeconfig names a token file and
    a CA by relative paths (one through '..' that stays inside, one through a symlink that stays inside)."""
    repo = tmp_path / "repo"
    env = repo / ENV / "yaml"
    env.mkdir(parents=True)
    (repo / ENV / "token").write_text(control_plane.admin_token)
    (repo / ENV / "ca.crt").write_bytes(control_plane.ca.cert_pem)
    os.symlink("../ca.crt", env / "ca-link.crt")
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": control_plane.server,
                                                     "certificate-authority": "ca-link.crt"}}],
              "users": [{"name": "u", "user": {"tokenFile": "../token", "username": "u", "password": "p"}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    (env / "kubeconfig.yaml").write_text(yaml.safe_dump(config))
    git("init", "--quiet", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "held", cwd=repo)
    revision = git("rev-parse", "HEAD", cwd=repo).strip()
    held = Path(materialise(CommandRunner(), str(repo), revision, str(tmp_path / "revisions")))
    assert not (held / ".git").exists()
    name = unique("held")
    params = {"kubeconfig": str(held / ENV / "yaml" / "kubeconfig.yaml"), "repository_root": str(held),
              "definition": [config_map(name, {"from": "held"})], "apply": True,
              "discovery_cache": str(world["discovery"])}
    assert run(validated_request(params), check_mode=False, diff_mode=False)["changed"] is True
    assert present(control_plane, name)
    # The same copy refuses a token file outside it, though no .git says where the repository ends.
    config["users"][0]["user"]["tokenFile"] = str(world["targets"]["apiserver"].controller / "token")
    (held / ENV / "yaml" / "kubeconfig.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(TridentError, match="^environments/prod/yaml/kubeconfig.yaml: user 'u' field 'tokenFile' is "
                                           "an absolute path"):
        run(validated_request({**params, "definition": [config_map(unique("held"), {})]}), check_mode=False,
            diff_mode=False)


def test_a_sops_kubeconfig_decrypted_through_ansible_playbook(world, control_plane, spy, age_key, tmp_path):
    """The kubernetes role's flow by hand: sops_decrypt of kubeconfig.sops.yaml (the real sops encrypted it), then
    kube_diff with the content, repository_root and kubeconfig_file, at -vvv. Relative paths inside work; every
    hostile one fails its task, and no canary appears in the output."""
    repo = tmp_path / "repo"
    shutil.copytree(world["repo"], repo, symlinks=True)
    target = world["targets"]["apiserver"]
    tasks = []
    names = {}
    for case, field in [(f"apiserver-{field}-with-basic-auth-{spelling}", field) for field in FIELDS
                        for spelling in ("absolute", "tilde", "dot-dot", "symlink", "working-folder", "inside")]:
        encrypted = repo / ENV / f"{case}.sops.yaml"
        encrypted.write_text(yaml.safe_dump(world["cases"][case]))
        encrypted.write_bytes(sops("--encrypt", "--age", age_key.public, "--encrypted-regex", "^(users)$",
                                   encrypted.name, cwd=encrypted.parent))
        names[case] = unique("sops")
        tasks += [
            {"name": f"decrypt {case}", "trident.gitops.sops_decrypt": {
                "path": str(encrypted), "input_type": "yaml", "age_key_file": str(age_key.path),
                "use_environment": False}, "register": "decrypted", "no_log": True},
            {"name": f"kube_diff {case}", "ignore_errors": True, "trident.gitops.kube_diff": {
                "kubeconfig": "{{ decrypted.content }}", "repository_root": str(repo),
                "kubeconfig_file": str(ENV / encrypted.name), "apply": True,
                "definition": [config_map(names[case], {"from": "sops"})],
                "discovery_cache": str(world["discovery"])}},
        ]
    seen = len(spy.requests)
    env = {"HOME": str(target.controller), "TRIDENT_CANARY_DIR": str(target.controller)}
    result = run_playbook(target.controller, tasks, verbosity=3, env=env)  # its working folder holds the canaries
    outcome = {task["name"].split(" ", 1)[1]: task for task in result.task_results() if task["name"].startswith("kube")}
    for case, task in outcome.items():
        if case.endswith("-inside") and "idp-" in case:  # the issuer (the spy) answers 401: no credential
            assert "the auth provider gave no credential" in task["msg"], task
        elif case.endswith("-inside"):
            assert not task.get("failed") and task["changed"], task.get("msg")
            assert present(control_plane, names[case])
        else:
            assert task.get("failed"), case
            assert "environments/prod/" in task["msg"] and "so nothing was read, run or sent" in task["msg"], task
            assert not present(control_plane, names[case])
    assert len(outcome) == len(names)
    for canary in target.canaries:
        assert canary not in result.stdout and canary not in result.stderr
    assert not any(entry["path"] != "/.well-known/openid-configuration" for entry in spy.requests[seen:])
    assert json.dumps(result.data).count("canary-cert-") == 0
    assert git("status", "--porcelain", cwd=repo).splitlines() == [f"?? {ENV}/{case}.sops.yaml" for case in
                                                                   sorted(names)], "nothing else was written"
