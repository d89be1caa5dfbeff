"""The kube_diff module's one entry point: parameters in, result dict out."""

from __future__ import annotations

import os
import time

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import PARENT_KINDS, ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings, connect
from ansible_collections.trident.gitops.plugins.module_utils.kube.pointers import parse_pointer
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Discovery
from ansible_collections.trident.gitops.plugins.module_utils.kube.engine import Options, reconcile
from ansible_collections.trident.gitops.plugins.module_utils.kube.planner import IgnoreRule
from ansible_collections.trident.gitops.plugins.module_utils.kube.loader import Document, load_desired
from ansible_collections.trident.gitops.plugins.module_utils.kube.schema import Schemas
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import secret_object, secret_values
from ansible_collections.trident.gitops.plugins.module_utils.kube.validate import validate

DEFAULT_CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "trident-gitops", "kube-discovery")


def ignore_rules(specs):
    """Build rules from the ``ignore_differences`` option; bad pointers are input errors."""
    rules, problems = [], []
    for index, spec in enumerate(specs or []):
        pointers = tuple(spec.get("json_pointers") or ())
        for pointer in pointers:
            try:
                parse_pointer(pointer)
            except ValueError as exc:
                problems.append(f"ignore_differences[{index}]: {exc}")
        managers = tuple(spec.get("managed_fields_managers") or ())
        if not pointers and not managers:
            problems.append(f"ignore_differences[{index}]: give json_pointers and/or managed_fields_managers")
        rules.append(IgnoreRule(spec.get("group"), spec.get("kind"), spec.get("name"), spec.get("namespace"),
                                pointers, managers))
    return rules, problems


def run(params, check_mode=False, diff_mode=False, runner=None, decrypt=None, hide=None):
    """Load, validate, compare and (unless check mode) converge; returns the module result.

    ``hide(values)`` receives every Secret value found in the desired objects as soon as they are
    read (the module registers them as no_log values, so they are scrubbed from any output).
    """
    started = time.monotonic()
    if not (params.get("src") or params.get("kustomize") or params.get("definition") is not None
            or params.get("helm") or params.get("secrets")):
        raise TridentError("give src, kustomize, definition, helm or secrets")
    if params.get("prune") and not params.get("applyset"):
        raise TridentError("prune needs applyset (the ApplySet parent that records what this run owns)")
    loaded = load_desired(params.get("src"), params.get("kustomize"), params.get("definition"), runner,
                          params.get("kubectl") or "kubectl", decrypt)
    secrets, secret_problems = secret_documents(params)
    loaded.documents.extend(secrets)
    loaded.problems.extend(secret_problems)
    if hide is not None:
        hide([v for doc in loaded.documents for v in secret_values(doc.obj)])
    rules, rule_problems = ignore_rules(params.get("ignore_differences"))
    applyset = _applyset(params)
    problems = loaded.problems + rule_problems
    try:
        client = connect(ConnectionSettings(params.get("kubeconfig"), params.get("context"), params.get("host"),
                                            params.get("api_key"), params.get("ca_cert"),
                                            params.get("validate_certs", True), params.get("request_timeout") or 60.0),
                         pool_size=params.get("workers") or 8)
        discovery = Discovery(client, params.get("discovery_cache", DEFAULT_CACHE)).load()
    except TridentError as exc:
        if problems:  # report the input's problems too, not only the connection's
            raise _invalid(problems + [f"(kinds not checked: {exc.message})"]) from None
        raise
    skipped_hooks = []
    if params.get("helm"):
        skipped_hooks = _render_helm(params, discovery, runner, decrypt, hide, loaded.documents, problems)
    checked = validate(loaded.documents, discovery, params.get("namespace") or "default", applyset)
    problems += checked.problems
    if problems:
        raise _invalid(problems)
    options = Options(field_manager=params.get("field_manager") or "trident-gitops",
                      force_conflicts=params.get("force_conflicts", True), apply=params.get("apply", False),
                      check_mode=check_mode, prune=params.get("prune", False), applyset=applyset,
                      ignore=tuple(rules), wait=params.get("wait", False),
                      wait_timeout=params.get("wait_timeout") or 300, workers=params.get("workers") or 8,
                      want_diff=diff_mode)
    schemas = Schemas(client, params.get("discovery_cache", DEFAULT_CACHE))
    outcome = reconcile(checked.items, client, discovery, options, schemas)
    result = {"changed": outcome.changed, "drift": outcome.drift, "summary": outcome.summary,
              "health": outcome.health,
              "stats": {"requests": client.requests_sent, "dry_runs": outcome.dry_runs,
                        "seconds": round(time.monotonic() - started, 3)}}
    if diff_mode:
        result["diff"] = outcome.diff
    if params.get("helm"):
        result["skipped_hooks"] = skipped_hooks
    return result


def _render_helm(params, discovery, runner, decrypt, hide, documents, problems):
    """Render the ``helm`` option's releases for this cluster and add them to ``documents``; a release that
    fails is a problem (so nothing is applied). Returns the hooks left out."""
    if runner is None:
        raise TridentError("helm needs a command runner")

    def namespaced(api_version, kind):
        group, version = api_version.rpartition("/")[0::2]
        found = discovery.find(group, version, kind)
        return found.namespaced if found is not None else None

    resources = sorted({(r.api_version, r.kind) for r in discovery.resources.values()})
    # pylint: disable-next=import-outside-toplevel  (start-up cost: charts, HTTP and cryptography only for helm)
    from ansible_collections.trident.gitops.plugins.module_utils.helm.service import render_from_params
    try:
        rendered = render_from_params(params["helm"], params.get("namespace") or "default",
                                      discovery.server_version, resources, runner, decrypt, namespaced=namespaced)
    except TridentError as exc:
        problems.append(exc.message)
        return []
    if hide is not None:
        hide(list(rendered.sensitive) + [v for item in rendered.objects for v in secret_values(item.obj)])
    documents.extend(Document(item.source, item.obj) for item in rendered.objects)
    return rendered.skipped_hooks


def secret_documents(params):
    """The ``secrets`` option's Secrets, made of the decrypted mappings in ``secret_data``, as documents, and the
    problems: one that names no decrypted mapping (named by Secret and key, never by value)."""
    data = params.get("secret_data") or {}
    documents, problems = [], []
    for index, spec in enumerate(params.get("secrets") or ()):
        source = f"secrets[{index}] ({spec['name']})"
        found = data.get(spec["from"])
        if isinstance(found, dict):
            documents.append(Document(source, secret_object(spec, found, params.get("namespace") or "default")))
        else:
            problems.append(f"{source}: no decrypted SOPS file named {spec['from']!r} holds a mapping")
    return documents, problems


def _applyset(params):
    spec = params.get("applyset")
    if not spec:
        return None
    kind = spec.get("kind") or "Secret"
    if kind not in PARENT_KINDS:
        raise TridentError(f"applyset.kind must be one of {', '.join(sorted(PARENT_KINDS))}")
    return ApplySet(spec["name"], spec.get("namespace") or params.get("namespace") or "default", kind)


def _invalid(problems):
    return TridentError(f"{len(problems)} problem(s) in the desired objects; nothing was sent to the cluster:\n"
                        + "\n".join(problems), problems=problems)
