import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.refs import (
    BRANCH, COMMIT, TAG, Advertisement, Target, is_sha, parse_ls_remote, resolve, server_refused_sha)

A = "a" * 40
B = "b" * 40
TAG_OBJECT = "c" * 40
LISTING = (f"ref: refs/heads/main\tHEAD\n{A}\tHEAD\n{A}\trefs/heads/main\n{B}\trefs/heads/feature\n"
           f"{TAG_OBJECT}\trefs/tags/v1\n{B}\trefs/tags/v1^{{}}\n{A}\trefs/tags/light\n")


@pytest.fixture()
def adv():
    return parse_ls_remote(LISTING)


def test_parse_ls_remote_reads_head_symref_and_refs(adv):
    assert adv.head_ref == "refs/heads/main"
    assert adv.refs["refs/heads/feature"] == B and adv.refs["refs/tags/v1^{}"] == B


def test_default_version_is_the_remote_head_branch(adv):
    assert resolve(adv, None, "r") == Target(BRANCH, "main", A, ref="refs/heads/main")


def test_no_head_without_version_is_an_error():
    with pytest.raises(TridentError, match="default branch"):
        resolve(Advertisement({"refs/heads/x": A}), None, "r")


@pytest.mark.parametrize("version", ["feature", "refs/heads/feature"])
def test_branch(adv, version):
    target = resolve(adv, version, "r")
    assert (target.kind, target.name, target.sha) == (BRANCH, "feature", B)
    assert target.refspec == "+refs/heads/feature:refs/remotes/origin/feature"


def test_annotated_tag_peels_to_the_commit_and_keeps_the_tag_object(adv):
    target = resolve(adv, "v1", "r")
    assert (target.kind, target.sha, target.tag_object) == (TAG, B, TAG_OBJECT)
    assert target.refspec == "+refs/tags/v1:refs/tags/v1"


def test_lightweight_tag_has_no_tag_object(adv):
    assert resolve(adv, "refs/tags/light", "r") == Target(TAG, "light", A, ref="refs/tags/light")


def test_branch_wins_over_tag_of_the_same_name():
    adv = Advertisement({"refs/heads/x": A, "refs/tags/x": B})
    assert resolve(adv, "x", "r").kind == BRANCH


def test_full_sha_needs_no_advertisement(adv):
    target = resolve(adv, "D" * 40, "r")
    assert (target.kind, target.sha, target.refspec) == (COMMIT, "d" * 40, "d" * 40)


def test_short_sha_resolves_against_tips_but_never_to_a_tag_object(adv):
    assert resolve(adv, "bbbbbbb", "r").sha == B
    assert resolve(adv, "ccccccc", "r").sha is None, "c... is a tag object, not a commit"
    assert resolve(adv, "1234567", "r") == Target(COMMIT, "1234567", None)


def test_ambiguous_short_sha_is_an_error():
    adv = Advertisement({"refs/heads/x": "abcd" + "0" * 36, "refs/heads/y": "abcd" + "1" * 36})
    with pytest.raises(TridentError, match="ambiguous"):
        resolve(adv, "abcd", "r")
    assert resolve(adv, "abcd1", "r").sha == "abcd" + "1" * 36


def test_unknown_ref_is_a_clear_error(adv):
    with pytest.raises(TridentError, match="unknown ref 'gone' in r"):
        resolve(adv, "gone", "r")


def test_is_sha():
    assert is_sha("abcd") and not is_sha("abc") and not is_sha("xyz1234")
    assert is_sha(A, full=True) and not is_sha("abcd", full=True)


def test_server_refusal_is_recognised_from_v0_and_v2_messages():
    assert server_refused_sha(f"error: Server does not allow request for unadvertised object {A}")
    assert server_refused_sha(f"fatal: remote error: upload-pack: not our ref {A}")
    assert not server_refused_sha("fatal: Authentication failed")
