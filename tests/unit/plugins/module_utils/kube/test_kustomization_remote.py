"""Remote kustomize references: which entries kustomize would fetch, which are pinned to a commit, and the
problems for a kustomization tree (kube/kustomization.py). kubectl itself is the integration test's."""

import string

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox
from ansible_collections.trident.gitops.plugins.module_utils.kube.kustomization import (
    is_remote, local_kustomizations, path_entries, pinned_commit, remote_problems)

NAME = st.text(string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=12).filter(
    lambda s: s[0].isalnum())
HOST = st.lists(NAME, min_size=2, max_size=3).map(".".join)
PATH = st.lists(NAME, min_size=1, max_size=3).map("/".join)
SHA = st.text("0123456789abcdef", min_size=40, max_size=40)
# Tags, branches, short and upper-case ids: none is a full commit id as kustomize's ref.
MOVING = st.one_of(st.from_regex(r"\Av[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}\Z"), NAME,
                   st.text("0123456789abcdef", min_size=7, max_size=39),
                   st.text("0123456789ABCDEF", min_size=40, max_size=40).filter(lambda s: s != s.lower()))


@st.composite
def git_addresses(draw):
    """Every Git form kustomize clones, with a ``//subdir`` or not."""
    host, repo, sub = draw(HOST), draw(PATH), draw(st.one_of(st.just(""), PATH.map(lambda p: "//" + p)))
    form = draw(st.sampled_from(["git::https", "ssh", "scp", "github", "github-scp", "file", "git::http", "git"]))
    return {"git::https": f"git::https://{host}/{repo}.git{sub}", "ssh": f"ssh://git@{host}/{repo}{sub}",
            "scp": f"git@{host}:{repo}{sub}", "github": f"github.com/{repo}{sub}",
            "github-scp": f"git::github.com:{repo}{sub}", "file": f"file:///srv/git/{repo}{sub}",
            "git::http": f"git::http://{host}/{repo}{sub}", "git": f"git://{host}/{repo}{sub}"}[form]


def with_query(address, **params):
    return address + "?" + "&".join(f"{key}={value}" for key, value in params.items())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(git_addresses(), SHA, st.sampled_from(["ref", "version"]))
def test_a_git_reference_pinned_to_a_full_commit_is_remote_and_pinned(address, sha, key):
    entry = with_query(address, **{key: sha})
    assert is_remote(entry)
    assert pinned_commit(entry) == sha
    assert pinned_commit(with_query(address, **{key: sha}, timeout="90s")) == sha


@settings(max_examples=300, deadline=None, derandomize=True)
@given(git_addresses(), MOVING, SHA)
def test_a_tag_branch_or_short_id_is_not_pinned_not_even_next_to_a_commit(address, moving, sha):
    assert is_remote(address) and pinned_commit(address) is None
    assert pinned_commit(with_query(address, ref=moving)) is None
    # kustomize takes ref over version: a pinned version does not pin a moving ref, and neither order helps.
    assert pinned_commit(with_query(address, ref=moving, version=sha)) is None
    assert pinned_commit(with_query(address, version=sha) + f"&ref={moving}") is None
    assert pinned_commit(with_query(address, ref=sha) + f"&ref={moving}") is None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(["http", "https", "HTTPS"]), HOST, PATH, SHA)
def test_an_http_url_is_remote_and_never_pinned(scheme, host, path, sha):
    """kustomize GETs an http(s) entry as a file before it tries Git: the server decides what it gets."""
    for entry in (f"{scheme}://{host}/{path}.yaml", with_query(f"{scheme}://{host}/{path}//dir", ref=sha)):
        assert is_remote(entry)
        assert pinned_commit(entry) is None


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.one_of(NAME, st.just(".."), st.just(".")), min_size=1, max_size=4).map("/".join),
       st.sampled_from(["", ".yaml", "/", ".git"]))
def test_local_paths_are_not_remote(path, suffix):
    entry = path + suffix
    assert not is_remote(entry) and not is_remote("/abs/" + entry)
    assert not is_remote("logo@2x.yaml") and not is_remote("github.com.yaml")


@pytest.mark.parametrize("entry", ["https://raw.example.com/x.yaml", "github.com/org/repo//d?ref=v1",
                                   "GitHub.com/org/repo", "git@gitlab.example.com:org/repo.git", "gh:org/repo",
                                   "s3://bucket/x.yaml", " ssh://host/repo", "deploy@host.example:repo",
                                   "deploy@GitHub.com/org/repo.git//d?version=main", "u@h/org/r"])
def test_other_remote_forms(entry):
    assert is_remote(entry)


def kustomization(folder, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(data))
    return folder


SHA1 = "0123456789abcdef0123456789abcdef01234567"


def test_every_path_field_is_read_and_inline_patches_are_not_paths():
    data = {"resources": ["a.yaml", "https://h/r.yaml"], "components": ["c"], "bases": ["b"],
            "crds": ["crd.yaml"], "configurations": ["conf.yaml"], "generators": ["g"], "transformers": ["t"],
            "validators": ["v"], "patchesStrategicMerge": ["p.yaml", "kind: X\nmetadata: {name: x}\n"],
            "patches": [{"path": "https://h/p.yaml"}, {"patch": "- op: add"}], "patchesJson6902": [{"path": "j"}],
            "replacements": [{"path": "r"}], "openapi": {"path": "https://h/schema.json"},
            "configMapGenerator": [{"files": ["key=https://h/f", "f2"], "envs": ["e"], "env": "e1"}],
            "secretGenerator": [{"files": ["s"]}], "helmCharts": [{"repo": "https://charts.example"}]}
    entries = path_entries(data)
    assert ("patches[].path", "https://h/p.yaml") in entries and ("openapi.path", "https://h/schema.json") in entries
    assert ("configMapGenerator[].files", "https://h/f") in entries
    assert not any("\n" in entry or "charts.example" in entry for _key, entry in entries)
    assert len(entries) == 19


def test_remote_references_are_refused_in_the_root_and_in_local_bases(tmp_path):
    base = kustomization(tmp_path / "base", {"resources": [f"git@example.com:org/r//d?ref={SHA1}"]})
    overlay = kustomization(tmp_path / "overlay", {"resources": ["../base", "https://u:hunter2@h.example/x.yaml"],
                                                   "patches": [{"path": "github.com/org/r/p.yaml"}]})
    found = local_kustomizations(str(overlay), Sandbox(str(tmp_path)))
    assert {folder for folder, _p, _d in found} == {str(base), str(overlay)}
    refused = remote_problems(found, allow_remote=False)
    assert len(refused) == 3
    assert all("is a remote reference" in p and "does not allow remote resources" in p for p in refused)
    assert any(p.startswith(str(base / "kustomization.yaml") + ": resources entry 'git@example.com") for p in refused)
    assert not any("hunter2" in p for p in refused), "a password in an address is never shown"
    # Allowed: only the pinned Git reference passes; the http URL and the unpinned GitHub path do not.
    unpinned = remote_problems(found, allow_remote=True)
    assert len(unpinned) == 2 and all("not pinned to a full commit id" in p for p in unpinned)
    assert any("patches[].path entry 'github.com/org/r/p.yaml'" in p for p in unpinned)


def test_a_pinned_tree_passes_and_a_base_outside_the_checkout_is_refused(tmp_path):
    root = kustomization(tmp_path / "repo" / "app", {"resources": [f"ssh://git@h/r?ref={SHA1}", "cm.yaml"]})
    found = local_kustomizations(str(root), Sandbox(str(tmp_path / "repo")))
    assert remote_problems(found, allow_remote=True) == []
    kustomization(tmp_path / "outside", {"resources": ["https://h/x.yaml"]})
    kustomization(root, {"resources": ["../../outside"]})
    with pytest.raises(TridentError, match="leads outside the repository"):
        local_kustomizations(str(root), Sandbox(str(tmp_path / "repo")))
