"""kube_diff's options, once: the argument spec (where every default lives) and the typed request built from
the validated parameters, the one value :func:`run.run` reads. Callers outside a module (tests, benchmarks)
get the same defaults and rules through :func:`validated_request`."""

from __future__ import annotations

from dataclasses import dataclass

from ansible.module_utils.basic import env_fallback

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import CACHE_DIR, FIELD_MANAGER
from ansible_collections.trident.gitops.plugins.module_utils.common.params import validated_params
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import HELM_OPTION
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings
from ansible_collections.trident.gitops.plugins.module_utils.sops.options import KEY_ARGUMENT_SPEC

IGNORE_RULE = dict(
    group=dict(type="str"), kind=dict(type="str"), name=dict(type="str"), namespace=dict(type="str"),
    json_pointers=dict(type="list", elements="str", default=[]),
    managed_fields_managers=dict(type="list", elements="str", default=[]),
)

# src, kustomize and the helm option's env_path and repo_path are repository paths: type str, taken literally
# and resolved by the repository sandbox (common/sandbox.py), never expanded as type path would ($VAR, ~).
# discovery_cache, kubectl and helm's binary, chart_cache and ca_file are the operator's controller paths.
ARGUMENT_SPEC = dict(
    src=dict(type="list", elements="str"),
    kustomize=dict(type="str"),
    kustomize_remote=dict(type="bool", default=False),
    definition=dict(type="raw"),
    helm=HELM_OPTION,
    # No default for src and secrets: required_one_of counts the options that are set. The Secrets' names and
    # sources only; their values come in secret_data.
    secrets=dict(type="list", elements="dict", no_log=False, options={
        "name": dict(type="str", required=True), "namespace": dict(type="str"),
        "type": dict(type="str", default="Opaque"), "from": dict(type="str", required=True)}),
    secret_data=dict(type="dict", default={}, no_log=True),
    namespace=dict(type="str", default="default"),
    kubeconfig=dict(type="raw", no_log=True, fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    kubeconfig_exec=dict(type="list", elements="str", default=[], no_log=False),
    # The operator's (a controller folder); kubeconfig_file is a repository path, never expanded.
    repository_root=dict(type="path"),
    kubeconfig_file=dict(type="str"),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    ca_cert=dict(type="str", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    validate_certs=dict(type="bool", default=True, aliases=["verify_ssl"],
                        fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
    request_timeout=dict(type="float", default=60),
    field_manager=dict(type="str", default=FIELD_MANAGER),
    force_conflicts=dict(type="bool", default=True),
    apply=dict(type="bool", default=False),
    prepare_namespaces=dict(type="bool", default=False),
    # A plan's namespaces_prepared, taken back when its apply does not follow (nothing else is done then).
    discard_namespaces=dict(type="list", elements="dict", options=dict(
        name=dict(type="str", required=True), uid=dict(type="str", required=True),
        run=dict(type="str", required=True), created=dict(type="bool", required=True))),
    objects=dict(type="bool", default=False),
    prune=dict(type="bool", default=False),
    applyset=dict(type="dict", options=dict(
        name=dict(type="str", required=True), namespace=dict(type="str"),
        kind=dict(type="str", choices=["Secret", "ConfigMap"], default="Secret"))),
    record=dict(type="dict", options=dict(revision=dict(type="str", required=True),
                                          tree=dict(type="str", required=True))),
    ignore_differences=dict(type="list", elements="dict", default=[], options=IGNORE_RULE),
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="float", default=300),
    workers=dict(type="int", default=8),
    discovery_cache=dict(type="path", default=f"{CACHE_DIR}/kube-discovery"),
    kubectl=dict(type="path", default="kubectl"),
    **KEY_ARGUMENT_SPEC,
)

RULES = dict(
    required_one_of=[("src", "kustomize", "definition", "helm", "secrets", "discard_namespaces")],
    required_if=[("prune", True, ("applyset",))],
    required_by={"record": "applyset", "kubeconfig_file": "repository_root"},
)


@dataclass(frozen=True)
class KubeDiffRequest:
    """What one kube_diff task asks for (validated options; see the module's documentation)."""

    src: tuple
    kustomize: str | None
    kustomize_remote: bool
    definition: object
    helm: dict | None
    secrets: tuple
    secret_data: dict
    namespace: str
    connection: ConnectionSettings
    field_manager: str
    force_conflicts: bool
    apply: bool
    prepare_namespaces: bool
    prune: bool
    applyset: ApplySet | None
    record: dict | None
    ignore_differences: tuple
    wait: bool
    wait_timeout: float
    workers: int
    discovery_cache: str
    kubectl: str
    repository_root: str | None = None
    objects: bool = False  # return the rendered objects, secret values masked (for the policy step)
    discard_namespaces: tuple = ()  # a plan's namespaces_prepared to take back (and nothing else)

    @classmethod
    def from_params(cls, params):
        """The request of parameters validated against :data:`ARGUMENT_SPEC`."""
        applyset = params["applyset"]
        return cls(
            src=tuple(params["src"] or ()), kustomize=params["kustomize"], kustomize_remote=params["kustomize_remote"],
            definition=params["definition"],
            helm=params["helm"], secrets=tuple(params["secrets"] or ()), secret_data=params["secret_data"],
            namespace=params["namespace"],
            connection=ConnectionSettings(params["kubeconfig"], params["context"], params["host"], params["api_key"],
                                          params["ca_cert"], params["validate_certs"], params["request_timeout"],
                                          tuple(params["kubeconfig_exec"]), params["repository_root"],
                                          params["kubeconfig_file"]),
            field_manager=params["field_manager"], force_conflicts=params["force_conflicts"], apply=params["apply"],
            prepare_namespaces=params["prepare_namespaces"], prune=params["prune"],
            applyset=ApplySet(applyset["name"], applyset["namespace"] or params["namespace"], applyset["kind"])
            if applyset else None,
            record=params["record"],
            ignore_differences=tuple(params["ignore_differences"]), wait=params["wait"],
            wait_timeout=params["wait_timeout"], workers=params["workers"],
            discovery_cache=params["discovery_cache"], kubectl=params["kubectl"],
            repository_root=params["repository_root"], objects=params["objects"],
            discard_namespaces=tuple(params["discard_namespaces"] or ()))


def validated_request(params):
    """The request of raw ``params`` with the argument spec's defaults, types and rules applied, as AnsibleModule
    would; for callers that are not a module (tests, benchmarks)."""
    return KubeDiffRequest.from_params(validated_params(ARGUMENT_SPEC, RULES, params))
