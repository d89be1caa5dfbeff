"""The drift report for a terminal: the callback's per-environment summary and drift-report.txt."""

from ansible_collections.trident.gitops.plugins.plugin_utils import drift_terminal
from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import DriftReport

KUBE_ITEMS = [
    {"kind": "Deployment", "namespace": "web", "name": "api", "action": "update",
     "changes": [{"path": "spec.replicas", "before": 7, "after": 2}],
     "health": {"status": "Progressing", "reason": "waiting for rollout"}},
    {"kind": "ConfigMap", "namespace": "web", "name": "x", "action": "update"},
    {"kind": "Service", "namespace": "web", "name": "in-sync", "action": "none"},
    {"kind": "ConfigMap", "namespace": "web", "name": "old", "action": "keep"},
    {"kind": "Secret", "namespace": "web", "name": "db", "action": "create",
     "changes": [{"path": "data.password", "before": None, "after": "zq-not-masked-by-its-producer"}]},
]
TF_ITEMS = [{"address": "aws_instance.db", "actions": ["delete", "create"], "action": "replace"},
            {"address": "aws_s3_bucket.logs", "actions": ["create"], "action": "create"}]


def report(check_mode):
    new = DriftReport(check_mode=check_mode)
    new.merge_stats({"prod": {"kubernetes": {"status": "changed", "count": 3, "items": KUBE_ITEMS,
                                             "health": {"status": "Progressing"}},
                              "terraform": {"status": "changed", "count": 2, "items": TF_ITEMS}},
                     "dev": {"kubernetes": {"status": "ok", "count": 0, "items": []}},
                     "broken": {"kubernetes": {"status": "failed", "message": "cannot reach the API server\x1b[2J"}}})
    new.merge_environments({"prod": {"verdict": "drift" if check_mode else "corrected"}, "dev": {"verdict": "in_sync"},
                            "broken": {"verdict": "error"}})
    return new


def test_a_check_says_what_would_change_by_action_with_names():
    lines = drift_terminal.summary_lines(report(check_mode=True))
    assert lines == [
        "broken: Kubernetes FAILED: cannot reach the API server\\x1b[2J",
        "dev: in sync",
        "prod: Terraform 1 to create (aws_s3_bucket.logs), 1 to replace (aws_instance.db); "
        "Kubernetes 1 to create (Secret web/db), 2 to update (Deployment web/api, ConfigMap web/x); Progressing",
    ]


def test_an_apply_says_what_changed():
    prod = drift_terminal.summary_lines(report(check_mode=False))[2]
    assert "Terraform 1 created (aws_s3_bucket.logs), 1 replaced (aws_instance.db)" in prod
    assert "Kubernetes 1 created (Secret web/db), 2 updated (Deployment web/api, ConfigMap web/x)" in prod


def test_many_objects_are_counted_past_the_first_few():
    new = DriftReport(check_mode=True)
    items = [{"kind": "ConfigMap", "namespace": "n", "name": f"c{i}", "action": "update"} for i in range(7)]
    new.merge_stats({"e": {"kubernetes": {"status": "changed", "count": 7, "items": items}}})
    assert drift_terminal.summary_lines(new) == ["e: Kubernetes 7 to update (ConfigMap n/c0, ConfigMap n/c1, "
                                                 "ConfigMap n/c2, 4 more)"]


def test_the_text_report_lists_fields_and_health_and_masks_secret_values():
    text = drift_terminal.render(report(check_mode=True))
    assert text.startswith("Trident drift report (check mode, nothing was changed): 1 of 3 environments drifted")
    assert "    Kubernetes: Deployment web/api update — Progressing: waiting for rollout" in text
    assert "      spec.replicas: 7 → 2" in text
    assert "      data.password: changed (masked)" in text and "zq-not-masked" not in text
    assert "Service web/in-sync" not in text and "ConfigMap web/old" not in text, "in sync and kept are not drift"
    assert "\x1b" not in text and "<" not in text, "no terminal escapes, no HTML"


def test_the_source_says_its_revisions_and_how_many_files_changed():
    new = DriftReport(check_mode=True)
    new.merge_stats({"e": {"source": {"status": "changed", "count": 2, "before": "51a31351930bffff",
                                      "after": "fc990e74fe91ffff", "changed_files": ["environments/e/a.yaml",
                                                                                     "environments/e/b.yaml"]}}})
    assert drift_terminal.summary_lines(new) == ["e: Source 51a31351930b → fc990e74fe91 (2 changed files)"]
