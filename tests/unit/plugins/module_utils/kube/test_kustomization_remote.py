"""Remote kustomize entries: an entry is local only when it names an existing file or folder of the repository and
does not read as an address; which remote ones are pinned to a commit; the problems for a kustomization tree
(kube/kustomization.py). kubectl's kustomize itself is the integration test's oracle
(tests/integration/test_kustomize_fetches.py)."""

import string

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox
from ansible_collections.trident.gitops.plugins.module_utils.kube.kustomization import (
    is_local, local_kustomizations, path_entries, pinned_commit, reads_as_address, remote_problems)

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
def test_a_git_reference_pinned_to_a_full_commit_reads_as_an_address_and_is_pinned(address, sha, key):
    entry = with_query(address, **{key: sha})
    assert reads_as_address(entry)
    assert pinned_commit(entry) == sha
    assert pinned_commit(with_query(address, **{key: sha}, timeout="90s")) == sha


@settings(max_examples=300, deadline=None, derandomize=True)
@given(git_addresses(), MOVING, SHA)
def test_a_tag_branch_or_short_id_is_not_pinned_not_even_next_to_a_commit(address, moving, sha):
    assert reads_as_address(address) and pinned_commit(address) is None
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
        assert reads_as_address(entry)
        assert pinned_commit(entry) is None


@settings(max_examples=100, deadline=None, derandomize=True)
@given(git_addresses())
def test_an_address_is_remote_even_when_a_folder_of_that_name_exists(tmp_path_factory, address):
    """kustomize tries a Git clone before it looks for a folder: a folder named like an address is no excuse."""
    root = tmp_path_factory.mktemp("named-like-an-address")
    relative = address.split("?")[0].lstrip("/")
    if relative and ".." not in relative.split("/"):
        (root / relative).mkdir(parents=True, exist_ok=True)
    assert not is_local(address, str(root), Sandbox(str(root)))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.one_of(NAME, st.just(".."), st.just(".")), min_size=1, max_size=4).map("/".join),
       st.sampled_from(["", ".yaml", "/", ".git"]))
def test_a_plain_path_reads_as_no_address(path, suffix):
    entry = path + suffix
    assert not reads_as_address(entry) and not reads_as_address("/abs/" + entry)
    assert not reads_as_address("logo@2x.yaml") and not reads_as_address("github.com.yaml")


def test_a_plain_path_is_local_only_when_it_exists_inside_the_repository(tmp_path):
    app = tmp_path / "repo" / "app"
    (app / "base").mkdir(parents=True)
    (app / "cm.yaml").write_text("{}")
    (app / "logo@2x.yaml").write_text("{}")
    (tmp_path / "outside.yaml").write_text("{}")
    sandbox = Sandbox(str(tmp_path / "repo"))
    for entry in ("cm.yaml", "base", "./base/", "../app/cm.yaml", "logo@2x.yaml", str(app / "cm.yaml")):
        assert is_local(entry, str(app), sandbox), entry
    for entry in ("missing.yaml", "base/missing", "~", "$HOME", "cm.yaml?ref=main"):
        assert not is_local(entry, str(app), sandbox), entry
    with pytest.raises(TridentError, match="leads outside the repository"):
        is_local("../../outside.yaml", str(app), sandbox)


@pytest.mark.parametrize("entry", ["https://raw.example.com/x.yaml", "github.com/org/repo//d?ref=v1",
                                   "GitHub.com/org/repo", "git@gitlab.example.com:org/repo.git", "gh:org/repo",
                                   "s3://bucket/x.yaml", " ssh://host/repo", "deploy@host.example:repo",
                                   "deploy@GitHub.com/org/repo.git//d?version=main", "u@h/org/r",
                                   # issue 24: kustomize clones these; a classifier by known forms called them local.
                                   "git@@host:org/repo", "user@relay@host:org/repo", "a@b@c@host/org/repo",
                                   "git::host.example/org/repo", "host.example:org/repo", "HTTPS://h/x.yaml",
                                   "file:relative/repo", "git@host:22/org/repo"])
def test_other_address_forms(entry):
    assert reads_as_address(entry)


def kustomization(folder, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(data))
    return folder


SHA1 = "0123456789abcdef0123456789abcdef01234567"


def test_every_path_field_is_read_and_inline_patches_are_not_paths():
    data = {"resources": ["a.yaml", "https://h/r.yaml"], "components": ["c"], "bases": ["b"],
            "crds": ["crd.yaml"], "configurations": ["conf.yaml"], "generators": ["g"], "transformers": ["t"],
            "validators": ["v"], "patchesStrategicMerge": ["p.yaml", "apiVersion: v1\nkind: X\nmetadata: {name: x}\n"],
            "patches": [{"path": "https://h/p.yaml"}, {"patch": "- op: add"}], "patchesJson6902": [{"path": "j"}],
            "replacements": [{"path": "r"}], "openapi": {"path": "https://h/schema.json"},
            "configMapGenerator": [{"files": ["key=https://h/f", "f2"], "envs": ["e"], "env": "e1"}],
            "secretGenerator": [{"files": ["s"]}], "helmCharts": [{"repo": "https://charts.example"}]}
    entries = path_entries(data)
    assert ("patches[].path", "https://h/p.yaml") in entries and ("openapi.path", "https://h/schema.json") in entries
    assert ("configMapGenerator[].files", "https://h/f") in entries
    assert not any("\n" in entry or "charts.example" in entry for _key, entry in entries)
    assert len(entries) == 19


INLINE = "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {a: b}\n"


@pytest.mark.parametrize("entry", [
    "git@@h.example:org/repo\n", "\nhttps://h.example/x.yaml", "github.com/org/repo\n# comment",
    # Text kustomize cannot read as objects is a path to it, and then a Git address: classified like one.
    "git@@h.example:o/r: x\napiVersion: v1\nkind: K\n", "ssh://h/o/r: x\napiVersion: v1\nkind: K\n",
    "kind: X\nmetadata: {name: x}\n", "just some text\nover two lines", "- a\n- b\n"])
@pytest.mark.parametrize("field", ["resources", "generators", "transformers", "validators", "patchesStrategicMerge"])
def test_a_line_break_does_not_make_an_entry_inline(field, entry):
    """An entry is skipped as inline YAML only when kustomize reads it as objects and it reads as no address; a line
    break alone once let ``git@@host:org/repo\n`` past the classifier to kustomize, which clones it."""
    assert (field, entry) in path_entries({field: [entry]})


@pytest.mark.parametrize("field", ["generators", "transformers", "validators", "patchesStrategicMerge"])
def test_inline_objects_are_no_paths(field):
    assert path_entries({field: [INLINE, INLINE + "---\n" + INLINE]}) == []
    assert path_entries({"resources": [INLINE]}) == [("resources", INLINE)], "resources are never inline"


def test_remote_references_are_refused_in_the_root_and_in_local_bases(tmp_path):
    base = kustomization(tmp_path / "base", {"resources": [f"git@example.com:org/r//d?ref={SHA1}"]})
    overlay = kustomization(tmp_path / "overlay", {"resources": ["../base", "https://u:hunter2@h.example/x.yaml"],
                                                   "patches": [{"path": "github.com/org/r/p.yaml"}]})
    sandbox = Sandbox(str(tmp_path))
    found = local_kustomizations(str(overlay), sandbox)
    assert {folder for folder, _p, _d in found} == {str(base), str(overlay)}
    refused = remote_problems(found, False, sandbox)
    assert len(refused) == 3
    assert all("is a remote reference" in p and "does not allow remote resources" in p for p in refused)
    # The kustomization is named as the repository names it, not by the controller's path.
    assert any(p.startswith("base/kustomization.yaml: resources entry 'git@example.com") for p in refused)
    assert not any("hunter2" in p for p in refused), "a password in an address is never shown"
    # Allowed: only the pinned Git reference passes; the http URL and the unpinned GitHub path do not.
    unpinned = remote_problems(found, True, sandbox)
    assert len(unpinned) == 2 and all("not pinned to a full commit id" in p for p in unpinned)
    assert any("patches[].path entry 'github.com/org/r/p.yaml'" in p for p in unpinned)


def test_a_pinned_tree_passes_and_a_base_outside_the_checkout_is_refused(tmp_path):
    root = kustomization(tmp_path / "repo" / "app", {"resources": [f"ssh://git@h/r?ref={SHA1}", "cm.yaml"]})
    found = local_kustomizations(str(root), Sandbox(str(tmp_path / "repo")))
    (root / "cm.yaml").write_text("{}")
    assert remote_problems(found, True, Sandbox(str(tmp_path / "repo"))) == []
    kustomization(tmp_path / "outside", {"resources": ["https://h/x.yaml"]})
    kustomization(root, {"resources": ["../../outside"]})
    with pytest.raises(TridentError, match="leads outside the repository"):
        local_kustomizations(str(root), Sandbox(str(tmp_path / "repo")))


def test_an_entry_that_names_nothing_in_the_repository_is_refused_even_when_remote_is_allowed(tmp_path):
    """The allowlist: a mistyped path is not taken for local (kustomize would try to fetch it as an address) and,
    being no Git reference, cannot be allowed either; a path leading out is refused naming the field."""
    root = kustomization(tmp_path / "repo" / "app", {"resources": ["cm.yaml", "missing.yaml"],
                                                     "patches": [{"path": "../../secret.yaml"},
                                                                 {"path": "also-missing.yaml"}]})
    (root / "cm.yaml").write_text("{}")
    (tmp_path / "secret.yaml").write_text("{}")
    sandbox = Sandbox(str(tmp_path / "repo"))
    for allowed in (False, True):
        problems = remote_problems(local_kustomizations(str(root), sandbox), allowed, sandbox)
        assert len(problems) == 3, problems
        assert "app/kustomization.yaml: resources entry 'missing.yaml' names no file or folder of the repository" \
            in problems[0]
        assert "app/kustomization.yaml: patches[].path entry: '../../secret.yaml' leads outside the repository" \
            in problems[1] and str(tmp_path) not in problems[1]
        assert "patches[].path entry 'also-missing.yaml' names no file or folder" in problems[2]
