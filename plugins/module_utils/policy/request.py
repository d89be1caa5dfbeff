"""policy_check's options, once: the argument spec, the typed request and the one call the module makes.

The input documents are shaped as conftest reads the files they come from, so existing policies work unchanged: a
Kubernetes object per document (what kube_diff would apply, its Secret values already masked by kube_diff and
masked again here, whatever reached this module), the Terraform plan as ``show -json`` prints it (masked by
terraform_apply). The environment's name and settings are ``data.trident.environment``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import is_mask, mask
from ansible_collections.trident.gitops.plugins.module_utils.policy import engine

ARGUMENT_SPEC = dict(
    # Repository paths are str, taken literally and resolved inside repository_root (common/sandbox.py).
    repository_root=dict(type="path", required=True),
    policy_dirs=dict(type="list", elements="str", default=[]),
    operator_dirs=dict(type="list", elements="path", default=[]),
    objects=dict(type="list", elements="dict", default=[]),
    plan=dict(type="dict"),
    environment=dict(type="dict", required=True),
    binary=dict(type="str", default="opa"),
    rego_version=dict(type="str", choices=["v0", "v1"], default="v1"),
)
_SECRET_FIELDS = ("data", "stringData", "binaryData")


@dataclass(frozen=True)
class PolicyRequest:
    repository_root: str
    policy_dirs: tuple
    operator_dirs: tuple
    objects: tuple
    plan: dict | None
    environment: dict
    binary: str
    rego_version: str

    @classmethod
    def from_params(cls, params):
        return cls(repository_root=params["repository_root"], policy_dirs=tuple(params["policy_dirs"]),
                   operator_dirs=tuple(params["operator_dirs"]), objects=tuple(params["objects"]),
                   plan=params["plan"], environment=dict(params["environment"]), binary=params["binary"],
                   rego_version=params["rego_version"])


def echoed(params: dict) -> dict:
    """The arguments a result echoes: how many objects and whether a plan were given, not their whole text again."""
    return {**params, "objects": f"{len(params['objects'] or [])} objects",
            "plan": None if params.get("plan") is None else "the Terraform plan"}


def secret_masked(obj: dict) -> dict:
    """A Secret with every value of ``data``/``stringData``/``binaryData`` masked (a mask stays as it is)."""
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    for key in _SECRET_FIELDS:
        if isinstance(obj.get(key), dict):
            out[key] = {name: value if is_mask(value) else mask(value) for name, value in obj[key].items()}
    return out


def _subject(obj: dict) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def documents(request: PolicyRequest) -> list:
    """The input documents: each object, then the Terraform plan."""
    found = []
    for entry in request.objects:
        obj = entry.get("object")
        if not isinstance(obj, dict):
            raise TridentError("objects: each entry is {source, object} as kube_diff returns it")
        found.append(engine.Document(_subject(obj), str(entry.get("source") or ""), secret_masked(obj)))
    if request.plan:
        addresses = tuple(str(c.get("address")) for c in request.plan.get("resource_changes") or []
                          if isinstance(c, dict) and c.get("address"))
        found.append(engine.Document("Terraform plan", f"{request.environment.get('dir', '')}", request.plan,
                                     addresses))
    return found


def run(request: PolicyRequest, runner) -> dict:
    """The module's result: the verdicts, and the refusal when a rule denies."""
    repo = engine.repository_group(request.repository_root, request.policy_dirs) if request.policy_dirs else None
    operator = engine.operator_group(request.operator_dirs)
    docs = documents(request)
    environment = {"name": request.environment.get("name"), "dir": request.environment.get("dir"),
                   "settings": request.environment.get("settings") or {}}
    opa = request.binary if os.sep in request.binary else (_which(request.binary))
    verdicts = engine.check((repo, operator), docs, environment, opa, runner, request.rego_version)
    name = request.environment.get("name")
    return {"changed": False, "refused": bool(verdicts.denials),
            "refusal": f"denied by policy: {verdicts.refusal}" if verdicts.denials else None,
            # Not "warnings": Ansible takes a result's warnings as its own (shown as [WARNING] and dropped).
            "denials": verdicts.denials, "warned": verdicts.warnings,
            # Rules a package's exception rule excepted for a document (conftest's exceptions): not verdicts.
            "excepted": verdicts.exceptions,
            "checked": {"documents": len(docs), "policies": sum(len(g.files) for g in (repo, operator) if g),
                        "environment": name}}


def _which(binary: str) -> str:
    found = shutil.which(binary)
    if not found:
        raise TridentError(f"executable not found: {binary} (the opa binary; set policy_binary)")
    return found
