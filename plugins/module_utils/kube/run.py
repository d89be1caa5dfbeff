"""The kube_diff module's one entry point: a :class:`request.KubeDiffRequest` in, the result dict out."""

from __future__ import annotations

import os
import re
import time

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox, enclosing_checkout
from ansible_collections.trident.gitops.plugins.module_utils.common.shown_paths import ShownPaths
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import connect
from ansible_collections.trident.gitops.plugins.module_utils.kube.pointers import parse_pointer
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Discovery
from ansible_collections.trident.gitops.plugins.module_utils.kube import newnamespaces
from ansible_collections.trident.gitops.plugins.module_utils.kube.engine import Options, reconcile
from ansible_collections.trident.gitops.plugins.module_utils.kube.planner import IgnoreRule
from ansible_collections.trident.gitops.plugins.module_utils.kube.loader import (Document, Loaded,
                                                                                 add_kustomize_output, load_desired)
from ansible_collections.trident.gitops.plugins.module_utils.kube.schema import Schemas
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import field_paths, masked, secret_object
from ansible_collections.trident.gitops.plugins.module_utils.kube.validate import kinds_from_crds, validate


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


def run(request, check_mode=False, diff_mode=False, runner=None, decrypt=None):
    """Load, validate, compare and (unless check mode) converge; returns the module result.

    Every document carries the paths of its fields that hold secret values (a Secret's values, the fields of an
    encrypted manifest, what a Helm release's secret values reach): the result masks them, before and after.
    Messages and results name repository files relative to the repository (common/shown_paths.py).
    """
    shown = ShownPaths(repository_roots(request))
    try:
        result = _run(request, check_mode, diff_mode, runner, decrypt)
    except TridentError as exc:
        raise shown.error(exc) from None
    if "objects" in result:  # the files they come from are named relative to the repository
        result["objects"] = [{**entry, "source": shown.text(entry["source"])} for entry in result["objects"]]
    # The objects' own values (drift, diff, objects) are the cluster's and Git's, shown as they are.
    return {key: value if key in ("drift", "diff", "objects") else shown.value(value) for key, value in result.items()}


def repository_roots(request):
    """The repository roots a run knows: ``repository_root``, the helm option's ``repo_path``, and the Git
    checkouts holding ``src`` and ``kustomize``."""
    roots = [request.repository_root, (request.helm or {}).get("repo_path")]
    for path in (*request.src, request.kustomize):
        checkout = enclosing_checkout(path) if path else None
        roots.append(checkout.root if checkout is not None else None)
    return [root for root in roots if root]


def outside_repository(request):
    """A problem per ``src`` entry or ``kustomize`` folder that leads out of ``repository_root`` (a glob pattern by
    the folder it starts in)."""
    if not request.repository_root:
        return []
    sandbox, problems = Sandbox(request.repository_root), []
    for path in (*request.src, request.kustomize):
        if not path:
            continue
        fixed = re.split(r"[*?[]", str(path), maxsplit=1)[0]
        try:
            sandbox.resolve(os.path.abspath(fixed or "."))
        except TridentError as exc:
            problems.append(exc.message)
    return problems


def _run(request, check_mode, diff_mode, runner, decrypt):
    started = time.monotonic()
    if request.discard_namespaces:
        return _discard(request, check_mode, started)
    outside = outside_repository(request)
    if outside:  # nothing is read from outside the repository
        raise _invalid(outside)
    # A kustomization with helmCharts is built once the cluster is known: its charts render for it.
    charted = _declares_helm_charts(request)
    documents, rules, problems = _load(request, charted, runner, decrypt)
    client, discovery = _connect(request, problems)
    skipped_hooks = []
    if request.helm:
        skipped_hooks = _render_helm(request, discovery, runner, decrypt, documents, problems, charted)
    checked = validate(documents, discovery, request.namespace, request.applyset)
    problems += checked.problems
    if problems:
        raise _invalid(problems)
    options = Options(field_manager=request.field_manager, force_conflicts=request.force_conflicts,
                      apply=request.apply, check_mode=check_mode, prune=request.prune, applyset=request.applyset,
                      ignore=tuple(rules), wait=request.wait, wait_timeout=request.wait_timeout,
                      workers=request.workers, want_diff=diff_mode, record=request.record,
                      prepare_namespaces=request.prepare_namespaces)
    outcome = reconcile(checked.items, client, discovery, options, Schemas(client, request.discovery_cache))
    result = {"changed": outcome.changed, "drift": outcome.drift, "summary": outcome.summary,
              "health": outcome.health, "recorded": outcome.recorded, "record_written": outcome.record_written,
              "namespaces_created": outcome.namespaces_created, "namespaces_prepared": outcome.namespaces_prepared,
              "stats": {"requests": client.requests_sent, "dry_runs": outcome.dry_runs,
                        "seconds": round(time.monotonic() - started, 3)}}
    if diff_mode:
        result["diff"] = outcome.diff
    if request.helm:
        result["skipped_hooks"] = skipped_hooks
    if request.objects:
        result["objects"] = [{"source": str(item.source), "object": masked(item.obj, item.masked)}
                             for item in checked.items]
    return result


def _discard(request, check_mode, started):
    """Take back a plan's prepared namespaces (newnamespaces.discard); check mode never prepared any."""
    if check_mode:
        return {"changed": False, "namespaces_discarded": [], "namespaces_kept": [],
                "stats": {"requests": 0, "seconds": 0.0}}
    client, discovery = _connect(request, [])
    done, left = newnamespaces.discard(client, discovery, request.discard_namespaces, request.field_manager)
    return {"changed": bool(done), "namespaces_discarded": done, "namespaces_kept": left,
            "stats": {"requests": client.requests_sent, "seconds": round(time.monotonic() - started, 3)}}


def _declares_helm_charts(request):
    """Whether the ``kustomize`` folder (or a local base or component) declares ``helmCharts``."""
    if not request.kustomize:
        return False
    # Imported here for start-up cost: the helm code only for a kustomization.
    from ansible_collections.trident.gitops.plugins.module_utils.helm.kustomize import has_helm_charts
    return has_helm_charts(request.kustomize, (request.helm or {}).get("repo_path"))


def _load(request, charted, runner, decrypt):
    """The desired documents (files, kustomize, definition, secrets), the ignore rules and the input's problems.
    A ``charted`` kustomization is left for :func:`_render_helm`."""
    loaded = load_desired(list(request.src), None if charted else request.kustomize, request.definition, runner,
                          request.kubectl, decrypt, request.kustomize_remote, (request.helm or {}).get("repo_path"))
    if charted and not request.helm:
        loaded.problems.append(f"{request.kustomize}: the kustomization declares helmCharts: give the helm option "
                               "(binary, chart_cache, repositories, repo_path); docs/helm.md")
    secrets, secret_problems = secret_documents(request.secrets, request.secret_data, request.namespace)
    documents = loaded.documents + secrets
    rules, rule_problems = ignore_rules(request.ignore_differences)
    return documents, rules, loaded.problems + secret_problems + rule_problems


def _connect(request, problems):
    """The API client and the cluster's discovery; a connection failure also reports the input's problems."""
    try:
        client = connect(request.connection, pool_size=request.workers)
        return client, Discovery(client, request.discovery_cache).load()
    except TridentError as exc:
        if problems:  # report the input's problems too, not only the connection's
            raise _invalid(problems + [f"(kinds not checked: {exc.message})"]) from None
        raise


def _render_helm(request, discovery, runner, decrypt, documents, problems, charted):
    """Render the ``helm`` option's releases (and the kustomization's helmCharts when ``charted``) for this
    cluster and add the objects to ``documents``; a release that fails is a problem (so nothing is applied).
    Returns the hooks left out."""
    if runner is None:
        raise TridentError("helm needs a command runner")
    resources = sorted({(r.api_version, r.kind) for r in discovery.resources.values()})
    skipped = _render_releases(request, discovery, resources, runner, decrypt, documents, problems)
    if charted:
        # Imported here for start-up cost: charts, HTTP and cryptography only for the helm option.
        from ansible_collections.trident.gitops.plugins.module_utils.helm.service import kustomize_from_params
        try:
            text, rendered = kustomize_from_params(request.helm, request.kustomize, request.kubectl, request.namespace,
                                                   discovery.server_version, resources, runner,
                                                   request.kustomize_remote)
        except TridentError as exc:
            problems.append(exc.message)
            return skipped
        built = Loaded()
        add_kustomize_output(text, request.kustomize, built, decrypt)
        documents.extend(built.documents)
        problems.extend(built.problems)
        skipped += rendered.skipped_hooks
    return skipped


def _render_releases(request, discovery, resources, runner, decrypt, documents, problems):
    """env.yml's releases (the ``helm`` option's ``releases``); returns the hooks left out."""

    crds = kinds_from_crds(documents)  # the manifests' CRDs (the releases' own are added by render_releases)

    def namespaced(api_version, kind):
        group, version = api_version.rpartition("/")[0::2]
        found = discovery.find(group, version, kind) or crds.get((group, version, kind))
        return found.namespaced if found is not None else None

    # Imported here for start-up cost: charts, HTTP and cryptography only for the helm option.
    from ansible_collections.trident.gitops.plugins.module_utils.helm.service import render_from_params
    try:
        rendered = render_from_params(request.helm, request.namespace,
                                      discovery.server_version, resources, runner, decrypt, namespaced=namespaced)
    except TridentError as exc:
        problems.append(exc.message)
        return []
    documents.extend(Document(item.source, item.obj, field_paths(item.obj, item.masked)) for item in rendered.objects)
    return rendered.skipped_hooks


def secret_documents(secrets, secret_data, namespace):
    """The ``secrets`` option's Secrets, made of the decrypted mappings in ``secret_data``, as documents, and the
    problems: one that names no decrypted mapping (named by Secret and key, never by value)."""
    documents, problems = [], []
    for index, spec in enumerate(secrets):
        source = f"secrets[{index}] ({spec['name']})"
        found = secret_data.get(spec["from"])
        if isinstance(found, dict):
            documents.append(Document(source, secret_object(spec, found, namespace)))
        else:
            problems.append(f"{source}: no decrypted SOPS file named {spec['from']!r} holds a mapping")
    return documents, problems


def _invalid(problems):
    return TridentError(f"{len(problems)} problem(s) in the desired objects; nothing was sent to the cluster:\n"
                        + "\n".join(problems), problems=problems)
