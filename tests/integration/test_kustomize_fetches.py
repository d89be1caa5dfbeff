"""Differential, with kubectl's own kustomize (the pinned toolchain's) as the oracle: whenever kustomize would fetch
an entry, the classifier (kube/kustomization.py) has said it is remote.

Generated entries cover every Git address form kustomize reads (scp-like, ``ssh://``, ``git::``, ``https://``,
``file://``, ``gh:``, ``github.com/...``, user names with odd ``@`` placements, ports, ``?ref=`` and other query
strings, ``//subdir``, ``_git/``, upper case) and plain paths, in seven fields (generators, transformers and
patchesStrategicMerge, which also take YAML written in place, among them), each as written, with a local folder (or
file) of exactly that name inside the kustomization (kustomize tries a Git clone before it looks for a folder, so a
folder named like an address is no excuse) and with a line break before or after it (text kustomize cannot read as
objects is a path to it). A fetch is seen by three spies: ``GIT_TRACE``
(git started at all), ``GIT_SSH_COMMAND`` (an ssh connection was attempted) and an HTTP spy that is every
process's proxy (an http(s) request to any host, a plain file GET included). No entry leaves the machine.
"""

import os
import random
import subprocess
import sys

import pytest
import yaml

from testbed import tool
from testbed.spy import Spy

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox
from ansible_collections.trident.gitops.plugins.module_utils.kube.kustomization import (
    is_local, local_kustomizations, path_entries, remote_problems)

SHA = "0123456789abcdef0123456789abcdef01234567"
SCHEMES = ["", "git::", "GIT::", "gh:", "ssh://", "SSH://", "ssh:/", "file://", "File://", "http://", "https://",
           "HTTPS://", "git::https://", "git::ssh://", "git+ssh://", "git://", "s3://"]
USERS = ["", "git@", "git@@", "deploy@", "user@relay@", "@", "a-b@", "1x@", "u:p@", "Git@", "x@y@z@"]
HOSTS = ["github.com", "GitHub.com", "gitlab.example", "127.0.0.1", "localhost", "h", "{spy}", "github.com.evil",
         "www.github.com", "[::1]"]
SEPARATORS = ["/", ":", ":22/", "//"]
PATHS = ["org/repo", "org/repo//app", "org/repo.git", "org/repo.git//app", "org/project/_git/repo/app", "org", "repo",
         "org/repo/deep/er", "org/../repo", "srv/git/repo.git"]
QUERIES = ["", "?ref=v1", f"?ref={SHA}", "?version=main", "?timeout=1s", "?submodules=false", f"?ref={SHA}&ref=x",
           "?ref=v1#frag"]
FIELDS = ["resources", "components", "patches", "crds", "generators", "transformers", "patchesStrategicMerge"]
# Hand-picked: the forms issue 24 found, and paths that are local for kustomize and for us.
SPECIAL = ["git@@{spy}:org/repo", "user@relay@{spy}:org/repo", "git@@github.com:org/repo", "user@relay@h:org/repo",
           "https://{spy}/org/repo//app?ref=" + SHA, "http://{spy}/cm.yaml", "gh:org/repo", "github.com/org/repo",
           "github.com:org/repo", "GITHUB.COM/org/repo", "git::{spy}/org/repo", "deploy@{spy}/org/repo//app",
           "file:///srv/git/repo.git", "logo@2x.yaml", "base", "./base", "base/../base", "cm.yaml", "sub/cm.yaml",
           "h/org/repo", "www.github.com/org/repo", "example.com/org/repo.git//app", "org/repo?ref=" + SHA]


def generated_entries(spy_host, count=140, seed=20261224):
    rng = random.Random(seed)
    entries = {entry.format(spy=spy_host) for entry in SPECIAL}
    while len(entries) < count:
        host = rng.choice(HOSTS).format(spy=spy_host)
        entries.add("".join([rng.choice(SCHEMES), rng.choice(USERS), host, rng.choice(SEPARATORS),
                             rng.choice(PATHS), rng.choice(QUERIES)]))
    return sorted(entries)


def kustomization_for(field, entry):
    if field == "resources":
        return {"resources": [entry]}
    if field == "patches":
        return {"resources": ["cm.yaml"], "patches": [{"path": entry}]}
    return {"resources": ["cm.yaml"], field: [entry]}


def materialise(folder, entry, as_folder):
    """A local folder (with a kustomization) or file named exactly ``entry`` inside ``folder``, where it can be."""
    name = entry.split("?")[0].split("#")[0]
    if not name or name.startswith("/") or ".." in name.split("/"):
        return False
    target = folder / name
    try:
        if as_folder:
            target.mkdir(parents=True, exist_ok=True)
            (target / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["cm.yaml"]}))
            (target / "cm.yaml").write_text(config_map("local-folder"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(config_map("local-file"))
    except OSError:
        return False
    return True


def config_map(name):
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})


@pytest.fixture(scope="module")
def spy():
    with Spy() as server:
        yield server


@pytest.fixture(scope="module")
def ssh_spy(tmp_path_factory):
    """A GIT_SSH_COMMAND that records every ssh connection git attempts (and fails it)."""
    folder = tmp_path_factory.mktemp("ssh-spy")
    log = folder / "ssh.log"
    script = folder / "ssh"
    script.write_text(f"#!{sys.executable}\nimport sys\nopen({str(log)!r}, 'a').write(repr(sys.argv) + '\\n')\n"
                      "sys.exit(255)\n")
    script.chmod(0o755)
    return script, log


def kustomize_fetches(folder, spy, ssh_spy, trace):
    """Whether ``kubectl kustomize folder`` fetched anything: git started, ssh attempted or an HTTP request."""
    script, log = ssh_spy
    before_http, before_ssh = len(spy.requests), log.read_text() if log.exists() else ""
    proxy = spy.url
    env = {**os.environ, "GIT_TRACE": str(trace), "GIT_SSH_COMMAND": str(script), "GIT_TERMINAL_PROMPT": "0",
           "GIT_CONFIG_NOSYSTEM": "1", "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy,
           "https_proxy": proxy, "ALL_PROXY": proxy, "NO_PROXY": "", "no_proxy": ""}
    subprocess.run([tool("kubectl"), "kustomize", "--load-restrictor=LoadRestrictionsRootOnly", str(folder)],
                   capture_output=True, timeout=120, check=False, env=env)
    git_ran = trace.exists() and bool(trace.read_text().strip())
    ssh_tried = (log.read_text() if log.exists() else "") != before_ssh
    return git_ran or ssh_tried or len(spy.requests) != before_http


def test_every_entry_kustomize_would_fetch_is_classified_remote(tmp_path, spy, ssh_spy):
    spy.answer("/cm.yaml", config_map("fetched").encode())
    entries = generated_entries(spy.host)
    rng = random.Random(24)
    fetched, local, checked = [], [], 0
    for index, entry in enumerate(entries):
        for variant in ("as written", "local folder", "local file", "with a line break"):
            field = rng.choice(FIELDS)
            repo = tmp_path / f"{index}-{variant.replace(' ', '-')}"
            folder = repo / "app"
            folder.mkdir(parents=True)
            (folder / "cm.yaml").write_text(config_map("cm"))
            (folder / "base").mkdir()
            (folder / "base" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
            (folder / "base" / "cm.yaml").write_text(config_map("base"))
            (folder / "sub").mkdir()
            (folder / "sub" / "cm.yaml").write_text(config_map("sub"))
            if variant in ("local folder", "local file") and \
                    not materialise(folder, entry, variant == "local folder"):
                continue
            written = entry
            if variant == "with a line break":
                written = entry + "\n" if index % 2 else "\n" + entry
            (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization_for(field, written)))
            sandbox = Sandbox(str(repo))
            try:
                classified = [e for _key, e in path_entries(kustomization_for(field, written))]
                remote = written in classified and not is_local(written, str(folder), sandbox)
            except TridentError:
                remote = True  # refused: leads out of the repository
            did_fetch = kustomize_fetches(folder, spy, ssh_spy, tmp_path / f"{index}-{variant}.trace")
            checked += 1
            if did_fetch:
                fetched.append(written)
                assert remote, f"kustomize fetches {field} entry {written!r} ({variant}); the classifier calls it local"
                assert remote_problems(local_kustomizations(str(folder), sandbox), False, sandbox), written
            elif not remote:
                local.append(written)
    assert checked >= 380, checked
    # The oracle must mean something: many generated entries were fetched, and plain paths were local for both.
    assert len(fetched) >= 50, f"kustomize fetched too few of the generated entries: {sorted(set(fetched))}"
    assert {"git@@" + spy.host + ":org/repo", "user@relay@" + spy.host + ":org/repo"} <= set(fetched)
    assert {"base", "./base", "cm.yaml", "sub/cm.yaml", "logo@2x.yaml", "h/org/repo", "www.github.com/org/repo"} \
        <= set(local), sorted(set(local))
