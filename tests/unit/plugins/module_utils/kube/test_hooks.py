"""When a Helm hook is created anew instead of updated: Helm's delete policies (pkg/action/hooks.go), with
``before-hook-creation`` as the default of a hook that names none."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.kube import hooks


def job(policy=None, hook="pre-upgrade", conditions=()):
    annotations = {"helm.sh/hook": hook} if hook else {}
    if policy is not None:
        annotations["helm.sh/hook-delete-policy"] = policy
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "annotations": annotations},
            "status": {"conditions": [{"type": kind, "status": "True"} for kind in conditions]}}


@pytest.mark.parametrize("policy", [None, "", "before-hook-creation", "hook-succeeded, before-hook-creation"])
def test_before_hook_creation_and_the_default_replace_whatever_the_last_run_did(policy):
    for conditions in ((), ("Complete",), ("Failed",)):
        reason = hooks.replace_reason(job(policy), job(policy, conditions=conditions))
        assert reason and "before-hook-creation" in reason and "pre-upgrade" in reason


@pytest.mark.parametrize("policy, conditions, replaced", [
    ("hook-succeeded", ("Complete",), "hook-succeeded"),
    ("hook-succeeded", ("Failed",), None),
    ("hook-succeeded", (), None),  # still running: Helm would find it and refuse
    ("hook-failed", ("Failed",), "hook-failed"),
    ("hook-failed", ("Complete",), None),
    ("hook-succeeded,hook-failed", ("Failed",), "hook-failed"),
])
def test_hook_succeeded_and_failed_follow_how_the_live_run_ended(policy, conditions, replaced):
    reason = hooks.replace_reason(job(policy), job(policy, conditions=conditions))
    assert (replaced in reason) if replaced else reason is None


def test_the_live_hooks_policy_says_whether_it_was_deleted_after_its_run():
    # Git drops hook-succeeded, but the live run succeeded under it: Helm deleted it then.
    assert hooks.replace_reason(job("hook-failed"), job("hook-succeeded", conditions=("Complete",)))
    assert hooks.replace_reason(job("hook-succeeded"), job("hook-failed", conditions=("Complete",))) is None


def test_pods_by_phase_other_kinds_are_done_once_they_exist():
    pod = {"kind": "Pod", "metadata": {"annotations": {"helm.sh/hook": "post-install",
                                                       "helm.sh/hook-delete-policy": "hook-succeeded"}},
           "status": {"phase": "Running"}}
    assert hooks.replace_reason(pod, pod) is None
    assert hooks.replace_reason(pod, {**pod, "status": {"phase": "Succeeded"}})
    config = {"kind": "ConfigMap", "metadata": {"annotations": {"helm.sh/hook": "pre-install",
                                                                "helm.sh/hook-delete-policy": "hook-succeeded"}}}
    assert hooks.replace_reason(config, config)


def test_not_a_hook_a_crd_or_nothing_live_is_never_replaced():
    assert hooks.replace_reason(job(hook=None), job(hook=None)) is None
    assert hooks.replace_reason(job(), None) is None
    crd = {"kind": "CustomResourceDefinition", "metadata": {"annotations": {"helm.sh/hook": "pre-install"}}}
    assert hooks.replace_reason(crd, crd) is None
