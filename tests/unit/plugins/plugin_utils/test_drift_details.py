"""drift_details: the one account of an object's changed fields that the Markdown, HTML and text reports write."""

from ansible_collections.trident.gitops.plugins.plugin_utils.drift_details import (
    MASKED, MAX_VALUE, Head, Row, SourceRows, change_text, detail_rows, health_note, object_head, source_rows,
    terraform_action, value_text)
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import visible


def test_changes_come_first_then_the_fields_no_change_names():
    item = {"kind": "Deployment", "changes": [{"path": "spec.replicas", "before": 7, "after": 2}, {"before": 1},
                                              "not a change"],
            "fields": ["spec.replicas", "metadata.labels"]}
    assert detail_rows(item) == [Row("spec.replicas", before="7", after="2"),
                                 Row("metadata.labels", changed=False)]


def test_a_secrets_value_and_a_change_its_producer_masked_show_no_value():
    secret = {"kind": "Secret", "changes": [{"path": "data.password", "before": None, "after": "zq-plain-value"}]}
    masked = {"kind": "ConfigMap", "changes": [{"path": "data.k", "before": "a", "after": "b", "masked": True}]}
    for item in (secret, masked):
        [row] = detail_rows(item)
        assert row.masked and (row.before, row.after) == (None, None)
        assert change_text(row, str, "unset") == MASKED


def test_values_are_json_made_visible_first_and_cut_to_the_limit():
    assert value_text(None) is None
    assert value_text({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    long = "x" * (MAX_VALUE + 5)
    assert value_text(long) == "x" * (MAX_VALUE - 1) + "…" and len(value_text(long)) == MAX_VALUE
    shown = value_text("\x1b" * MAX_VALUE, visible)
    assert "\x1b" not in shown and len(shown) == MAX_VALUE, "cut after it was made visible"


def test_a_change_reads_before_arrow_after_with_the_renderers_quote_and_unset_word():
    row = detail_rows({"kind": "ConfigMap", "changes": [{"path": "data.k", "before": None, "after": "v"}]})[0]
    assert change_text(row, lambda text: f"`{text}`", "*unset*") == "*unset* → `v`"


def test_the_source_account_names_where_it_moved_from_only_when_it_moved():
    moved = source_rows({"before": "a" * 40, "after": "b" * 40, "commits": [{"sha": "c" * 40, "subject": "s"}, "x"],
                         "changed_files": ["f"], "uncommitted": ["u"]})
    assert moved == SourceRows("a" * 12, "b" * 12, [("c" * 12, "s")], ["f"], ["u"])
    assert source_rows({"before": "a" * 40, "revision": "a" * 40}) == SourceRows(None, "a" * 12, [], [], [])
    assert source_rows({}) == SourceRows(None, None, [], [], [])


def test_an_objects_head_and_health_note():
    head = object_head({"kind": "Deployment", "namespace": "web", "name": "api", "action": "update",
                        "health": {"status": "Degraded", "reason": "crash loop"}})
    assert head == Head("Deployment", "web/api", "update", "Degraded", "crash loop")
    assert health_note(head, str.upper, repr) == " — DEGRADED: 'crash loop'"
    cluster_scoped = object_head({"kind": "Namespace", "name": "web", "health": "not a mapping"})
    assert (cluster_scoped.where, cluster_scoped.action, health_note(cluster_scoped, str, str)) == ("web", None, "")
    assert health_note(object_head({"health": {"reason": "no status"}}), str, str) == ""


def test_a_terraform_delete_and_create_is_one_replace():
    assert terraform_action({"actions": ["delete", "create"]}) == "replace"
    assert terraform_action({"actions": ["no-op"]}) == terraform_action({}) == "no-op"
    assert terraform_action({"actions": ["read", 3]}) == "read"
