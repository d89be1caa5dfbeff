from ansible_collections.trident.gitops.plugins.module_utils.git.worktree import LocalChanges, parse_porcelain


def test_parse_porcelain_splits_modified_and_untracked_including_ignored_and_renames():
    output = " M b.txt\0D  gone.txt\0R  new.txt\0old.txt\0?? stray\0!! state.tfstate\0 M a.txt\0"
    changes = parse_porcelain(output)
    assert changes.modified == ["a.txt", "b.txt", "gone.txt", "new.txt"]
    assert changes.untracked == ["state.tfstate", "stray"]
    assert bool(changes) is True


def test_clean_status_is_no_change():
    assert not parse_porcelain("")
    assert LocalChanges().as_dict() == {"modified": [], "untracked": []}


def test_describe_is_bounded():
    changes = LocalChanges([f"m{i}" for i in range(8)], [f"u{i}" for i in range(5)])
    text = changes.describe(limit=10)
    assert text.startswith("modified: m0, ") and "untracked: u1" in text and text.endswith("(and 3 more)")
