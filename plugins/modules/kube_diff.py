#!/usr/bin/python
# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_diff
short_description: Detect drift between Kubernetes manifests and a cluster; apply and prune
version_added: 0.1.0
description:
  - Loads desired objects from files, directories, globs, a kustomization or inline definitions and validates
    every one of them (parse errors, missing fields, unknown kinds, scope mistakes, duplicates) before anything
    is sent. One bad document fails the task listing every problem, and nothing is changed.
  - Compares them with the live objects using server-side apply semantics with our field manager. A cheap
    proof, driven by the served OpenAPI v3 schemas and our managedFields entry, settles most objects without a
    request and says "in sync" only when a server-side apply dry-run would change nothing; every other object
    gets that dry-run. Reads are one LIST per kind and namespace; dry-runs and applies run concurrently.
  - All or nothing per batch. Every object is checked before the first write, first against its served (or the
    batch's CRD) schema, in check mode too and whatever namespace it is in (types, undeclared fields, formats such
    as a Secret value's base64, enums, patterns, lengths, bounds), then by a server-side apply dry-run. Objects
    whose namespace comes with the batch are dry-run once that namespace exists; outside check mode, with
    O(apply=true) or O(prepare_namespaces=true), the namespaces are created for that, after every other check
    passed, and deleted again if anything is refused. A namespace neither live nor in the batch is an error; if
    anything would be rejected nothing is applied.
  - In check mode C(changed) means drift exists and nothing is written. With O(apply=true) the drifted objects
    are applied (Namespaces and CustomResourceDefinitions first, waiting until they are established), then
    objects of the O(applyset) that Git no longer has are pruned (O(prune=true)).
  - Nothing the O(applyset) owns is forgotten. With O(prune=false) an object of the set that Git no longer has is
    kept, and reported on every run (action C(keep), RV(drift[].reason) says it is not in Git and kept) until
    Git has it again or O(prune=true) deletes it; the parent keeps listing its kind and namespace meanwhile.
  - A Helm hook (C(helm.sh/hook)) that Git changed is created anew (action C(replace), deleted then created) when
    Helm would create it anew, by its C(helm.sh/hook-delete-policy) (C(before-hook-creation), Helm's default), as
    C(helm upgrade) does; a hook Job whose pod template changed is so recreated instead of refused as immutable.
  - Messages and results name the repository's files relative to the repository (O(repository_root), O(helm.repo_path)
    or the Git checkout holding them), never by the controller folder it is kept in.
  - A secret is masked where it stands in every output (drift, diff, errors), in the live object's old value as in
    the new one - a Secret's C(data) and C(stringData) values, the fields a SOPS-encrypted manifest had encrypted, and
    the fields a Helm release's secret values reach (found by rendering the chart again with placeholders); a
    changed secret still shows as changed. Text is never searched for a secret to rewrite (docs/kube_diff.md).
  - Every object's health (Argo CD's C(Healthy), C(Progressing), C(Degraded), C(Suspended), C(Missing),
    C(Unknown)) is judged from the objects already read, at no extra request and in check mode too; see RV(health).
  - SOPS-encrypted manifests (a document with a C(sops) metadata key, such as Flux-style Secrets whose
    C(data) and C(stringData) are encrypted) are decrypted in memory with the key options, natively for PGP
    and age; the plaintext never touches disk and the fields that were encrypted are masked in every output.
author: trident.gitops maintainers (@trident-gitops)
extends_documentation_fragment:
  - trident.gitops.kubernetes
  - trident.gitops.sops
  - trident.gitops.vault
attributes:
  check_mode:
    description: Reports drift and changes nothing.
    support: full
  diff_mode:
    description: Returns a before/after diff per drifted object, secret values masked.
    support: full
options:
  src:
    description:
      - Manifest files, directories (read recursively, C(.yaml), C(.yml) and C(.json)) or glob patterns.
        YAML files may hold several documents; documents of kind C(List) are expanded.
      - Repository paths, taken literally. C($VAR), C(${VAR}), C(~) and C(~user) are characters of a file name,
        never expanded (an expansion would put the controller's environment into the path and from there into
        every message and report). An entry that names an existing file or folder is read as it is, even when
        its name holds C(*), C(?) or C([); any other entry with those characters is a glob pattern.
    type: list
    elements: str
  kustomize:
    description:
      - A directory with a C(kustomization.yaml), built with C(kubectl kustomize).
      - C(helmCharts) in it (or in a local base or component) need O(helm). The charts are fetched, verified and
        rendered for this cluster the way O(helm.releases) are, in a private copy of the kustomization folders where
        the rendered objects replace C(helmCharts); kustomize then builds that copy without helm and without network.
        Nothing is written into the checkout. See docs/helm.md for the supported C(helmCharts) keys.
      - Before kustomize runs, this kustomization and every local one it builds on are read; a remote reference
        (a URL or Git address in C(resources), C(components), C(bases), generators, transformers, or a URL as a
        file path) is refused unless O(kustomize_remote) is set, and then it must be a Git reference pinned to a
        full commit id (C(?ref=<40 hex>)). A local base that leads out of the Git checkout is refused.
      - An entry is local only when it names a file or folder that exists inside the repository and does not read
        as a Git address or URL; every other entry is remote (a mistyped local path too, as kustomize would try to
        fetch it).
      - A repository path, taken literally (never expanded, see O(src)).
    type: str
  kustomize_remote:
    description:
      - Let O(kustomize) build on remote Git references pinned to a full commit id (C(?ref=<40 hex>) or
        C(?version=<40 hex>)). Tags and branches are refused even then (a tag moves), and so is a plain
        C(http(s\)://) address, which kustomize fetches as a file over HTTP before it tries Git; write it
        C(git::https://...). What may be fetched is the operator's decision, per environment by name; the
        repository cannot set it. See docs/kube_diff.md.
    type: bool
    default: false
  definition:
    description: Inline objects, a mapping or a list of mappings (or YAML text).
    type: raw
  helm:
    description:
      - Helm releases rendered with C(helm template) for this cluster (its version and API versions are passed
        in) once discovery is loaded; the rendered objects join the other desired objects and go through the
        same validation, diff, ignore rules, ApplySet ownership and prune. See docs/helm.md.
      - A release that fails to render (bad chart, bad values, a values file that cannot be decrypted) is a
        problem like an invalid manifest, so nothing is applied.
      - SOPS values files are decrypted in memory with the key options; the fields of the rendered objects that
        their values reach, and rendered Secret values, are masked in every output, before and after. A name or a
        mapping key made of a secret value is refused.
      - Hooks other than install and upgrade hooks are left out and listed in RV(skipped_hooks).
      - The same settings (binary, chart cache, repository credentials, repository root) render the C(helmCharts)
        of O(kustomize).
    type: dict
    suboptions:
      releases:
        description: The releases, in the shape of C(helm_releases) of C(env.yml) (docs/helm.md).
        type: list
        elements: dict
        default: []
      env_path:
        description:
          - The environment's folder (holding C(env.yml)); values files are relative to it. Required with
            O(helm.releases).
          - A repository path, taken literally (never expanded, see O(src)).
        type: str
      repo_path:
        description:
          - The repository's root (the checkout); chart and values paths may not leave it.
          - Taken literally like the repository paths it bounds (never expanded), so give the absolute path.
        type: str
        required: true
      binary:
        description: The helm binary (a controller path, the operator's).
        type: path
        default: helm
      chart_cache:
        description: Directory caching fetched charts by digest (a controller path, the operator's).
        type: path
        default: ~/.cache/trident-gitops/helm-charts
      repositories:
        description: Credentials for chart repositories and OCI registries, matched by URL.
        type: list
        elements: dict
        default: []
        suboptions:
          url:
            description: The repository's URL (C(https://...) or C(oci://...)).
            type: str
            required: true
          username:
            description: Basic auth user name.
            type: str
            default: ""
          password:
            description: Basic auth password.
            type: str
            default: ""
          ca_file:
            description: A CA bundle to verify the repository's certificate (a controller path, the operator's).
            type: path
            default: ""
  secrets:
    description:
      - Kubernetes Secrets made from decrypted data (O(secret_data)), applied with the other desired objects. The
        module base64-encodes each top-level value's string form itself, so no encoded secret passes through a
        template or a host variable; the values are masked in every output like any Secret's.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the Secret.
        type: str
        required: true
      namespace:
        description: Its namespace; default O(namespace).
        type: str
      type:
        description: Secret type.
        type: str
        default: Opaque
      from:
        description: The key of O(secret_data) whose mapping becomes the Secret's C(data).
        type: str
        required: true
  secret_data:
    description:
      - Decrypted mappings by name (the secrets role's C(secrets_data)), read only by O(secrets). Never logged.
    type: dict
    default: {}
  namespace:
    description: The namespace of namespaced objects that do not name one.
    type: str
    default: default
  field_manager:
    description: The server-side apply field manager that owns what this task applies.
    type: str
    default: trident-gitops
  force_conflicts:
    description: Take over fields another manager owns (Git wins). With V(false) such conflicts fail the task.
    type: bool
    default: true
  apply:
    description: Apply what drifted (not in check mode). With V(false) the task only reports drift.
    type: bool
    default: false
  objects:
    description:
      - Also return every object of the batch as rendered (files, kustomize and Helm output, the Secrets made from
        O(secrets)) in RV(objects), with every secret value masked as everywhere else (a Secret's values, encrypted
        fields, fields a Helm release's secret values reach). The reconcile pipeline's policy step reads them
        (docs/policy.md).
    type: bool
    default: false
  prepare_namespaces:
    description:
      - For a plan that precedes an apply (O(apply=false), outside check mode), as the reconcile role's does before
        any step of the environment is applied. Once every object passed its schema check and every object the
        server can dry-run passed its dry-run, the namespaces the batch creates are created (as the batch says,
        annotated C(trident.gitops/created-for-dry-run=<run id>)) and the objects in them are dry-run. If anything
        is refused, the namespaces this run created are deleted again and the task fails; otherwise they are kept for
        the apply (listed in RV(namespaces_created)), whose apply of the Namespace removes the annotation.
      - Without it, and always in check mode (nothing is written), such objects are checked against their schema
        only and reported with RV(drift[].checked_by=schema) and the reason in RV(drift[].pending). With
        O(apply=true) (outside check mode) the namespaces are always prepared this way.
    type: bool
    default: false
  discard_namespaces:
    description:
      - A plan's RV(namespaces_prepared), for an apply that will not follow (the environment was refused or failed
        before its Kubernetes apply). Only these namespaces are taken back and nothing else is done (no manifest is
        read; the connection options are used). A namespace the plan created is deleted (uid precondition) only when
        it is still that object, still annotated with the plan's run id (no apply took it over) and empty (nothing but
        the C(default) ServiceAccount, the C(kube-root-ca.crt) ConfigMap and events); one that appeared meanwhile gets
        the fields the plan set given back. Any other is left as it is and named in RV(namespaces_kept). In check
        mode nothing is done (a check never prepares a namespace).
    type: list
    elements: dict
    suboptions:
      name:
        description: The namespace.
        type: str
        required: true
      uid:
        description: Its uid when the plan created it.
        type: str
        required: true
      run:
        description: The plan's run id (the value of its C(trident.gitops/created-for-dry-run) annotation).
        type: str
        required: true
      created:
        description: Whether the plan created it (else it appeared meanwhile and only the plan's fields are given back).
        type: bool
        required: true
  prune:
    description:
      - Delete objects of the O(applyset) that are no longer desired (in reverse dependency order). Objects not
        labelled as members of this ApplySet are never deleted. Requires O(applyset).
    type: bool
    default: false
  applyset:
    description:
      - The ApplySet that records what this environment owns (Kubernetes ApplySet convention, readable by
        kubectl). Every applied object is labelled C(applyset.kubernetes.io/part-of=<id>).
    type: dict
    suboptions:
      name:
        description: Name of the parent object.
        type: str
        required: true
      namespace:
        description: Namespace of the parent object (default O(namespace)).
        type: str
      kind:
        description: Kind of the parent object.
        type: str
        choices: [Secret, ConfigMap]
        default: Secret
  record:
    description:
      - The Git revision this run deploys, recorded on the O(applyset) parent (annotations C(trident.gitops/revision)
        and C(trident.gitops/tree)) after every object was applied (and, with O(wait=true), is Healthy); the
        record read before the run is returned in RV(recorded).
      - Written only with O(apply=true) outside check mode, and only when it differs from the recorded one. Writing
        it is not counted in C(changed) (it is the source's change, not the cluster's). Requires O(applyset).
    type: dict
    suboptions:
      revision:
        description: The Git commit.
        type: str
        required: true
      tree:
        description: The tree hash of the environment's folder at that commit (C(git rev-parse <commit>:<folder>)).
        type: str
        required: true
  ignore_differences:
    description:
      - Fields to leave out of the comparison, as in Argo CD. A rule matches objects by O(ignore_differences[].group),
        O(ignore_differences[].kind), O(ignore_differences[].name) and O(ignore_differences[].namespace) (each
        optional). Ignored fields keep their live value and their owner when applying, they are left out of
        the applied configuration when another field manager owns them, and sent with their live value when
        only kube_diff does (or inside an atomic list or map). A new object is created as Git says.
    type: list
    elements: dict
    default: []
    suboptions:
      group:
        description: API group (V("") for the core group).
        type: str
      kind:
        description: Kind.
        type: str
      name:
        description: Object name.
        type: str
      namespace:
        description: Namespace.
        type: str
      json_pointers:
        description:
          - JSON pointers (RFC 6901) of ignored fields, for example V(/spec/replicas).
          - Inside a list, a token is an index (V(/spec/template/spec/tolerations/0/value)) or a merge-key
            selector C(key=value[,key=value]) (V(/spec/template/spec/containers/name=app/image)).
        type: list
        elements: str
        default: []
      managed_fields_managers:
        description: Ignore every field owned by one of these field managers (for example an autoscaler).
        type: list
        elements: str
        default: []
  wait:
    description:
      - After applying, wait until every desired object is C(Healthy) by the rules of RV(drift[].health) (Deployments
        rolled out, Pods ready, Jobs complete, custom resources C(Ready) and so on; C(docs/health.md) has them all).
      - When O(wait_timeout) passes, the module fails naming each object still C(Progressing) or C(Degraded) with
        its reason; the changes stay applied and a rerun checks again.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for health and for CustomResourceDefinitions to be established.
    type: float
    default: 300
  workers:
    description: Concurrent requests to the API server.
    type: int
    default: 8
  discovery_cache:
    description:
      - Directory caching the API server's kinds between runs (keyed by server and version). A controller path,
        the operator's.
    type: path
    default: ~/.cache/trident-gitops/kube-discovery
  kubectl:
    description: The kubectl binary used to build O(kustomize) (a controller path, the operator's).
    type: path
    default: kubectl
notes:
  - Without O(applyset), objects deleted from Git are not detected (there is no record of what was owned).
"""

EXAMPLES = r"""
- name: Report drift of an environment (changes nothing)
  trident.gitops.kube_diff:
    src: environments/prod/yaml
    kubeconfig: environments/prod/kubeconfig.yaml
    namespace: app
  check_mode: true

- name: Converge and prune, leaving replicas to the autoscaler
  trident.gitops.kube_diff:
    kustomize: environments/prod/manifests
    kubeconfig: "{{ decrypted_kubeconfig }}"
    apply: true
    prune: true
    applyset:
      name: applyset-prod
      namespace: app
    ignore_differences:
      - group: apps
        kind: Deployment
        json_pointers: [/spec/replicas]
    wait: true
"""

RETURN = r"""
objects:
  description:
    - Every desired object as rendered, secret values masked, with the file it comes from (relative to the
      repository), in the order validated.
  returned: when O(objects=true)
  type: list
  elements: dict
  contains:
    source:
      description: The file (or source) the object comes from.
      type: str
    object:
      description: The object, its secret values masked.
      type: dict
skipped_hooks:
  description: Helm hooks left out of the rendered objects (test, delete and rollback hooks), by source.
  returned: when O(helm) is given
  type: list
  elements: str
drift:
  description: One entry per desired object and per object of the O(applyset) that Git no longer has (pruned or kept).
  returned: always
  type: list
  elements: dict
  contains:
    apiVersion:
      description: API version.
      type: str
    kind:
      description: Kind.
      type: str
    namespace:
      description: Namespace (null when cluster-scoped).
      type: str
    name:
      description: Name.
      type: str
    action:
      description:
        - V(create), V(update), V(replace) (deleted, then created, a Helm hook Helm would create anew), V(delete) (not
          in Git, pruned), V(keep) (not in Git, kept because O(prune=false)) or V(none).
        - V(keep) writes nothing, so it does not make C(changed) true; it is reported on every run until Git has the
          object again or O(prune=true) deletes it.
      type: str
    reason:
      description: "Why the action, for V(replace), V(delete) and V(keep) (for example C(not in Git, kept (prune:
        false))); empty otherwise."
      type: str
    fields:
      description:
        - Changed field paths for updates and replaces, to the leaf (C(spec.template.spec.containers[name=web].image),
          C(data.readme.txt) for a key Git removed).
      type: list
      elements: str
    changes:
      description:
        - Per changed field, C(path), C(before) (live) and C(after) (what the apply makes of it). For a masked field
          (a Secret's values, an encrypted field, a field a Helm release's secret values reach) only C(path) and
          C(masked=true), never a value.
      type: list
      elements: dict
    checked_by:
      description:
        - What judged the object before the apply - V(proof) (in sync by the cheap proof, no request),
          V(dry-run) (a server-side apply dry-run) or V(schema) (its schema only; RV(drift[].pending) says why).
          Null for objects being pruned.
      type: str
    pending:
      description:
        - Why the API server has not judged this object yet, when only its schema was checked - its namespace is
          created by this batch (check mode, or O(prepare_namespaces=false) without O(apply)), or its
          CustomResourceDefinition comes with the batch. Such an object is always reported as to be created,
          never as in sync. Null otherwise.
      type: str
    health:
      description:
        - Health of the object in Argo CD's words, from the object already read (no extra request, also in check
          mode) - the live object, C(Missing) for one still to be created, after an apply the applied object (with
          O(wait=true) its health when the wait ended).
      type: dict
      contains:
        status:
          description: V(Healthy), V(Progressing), V(Degraded), V(Suspended), V(Missing) or V(Unknown).
          type: str
        reason:
          description: Why (empty when there is nothing to say).
          type: str
  sample:
    - {apiVersion: v1, kind: ConfigMap, namespace: app, name: settings, action: update, reason: "",
       fields: [data.mode], health: {status: Healthy, reason: ""}}
    - {apiVersion: v1, kind: ConfigMap, namespace: app, name: old-settings, action: keep,
       reason: "not in Git, kept (prune: false)", fields: [], health: {status: Healthy, reason: ""}}
health:
  description: Health of the whole set, the worst of its desired objects' (objects pruned or kept are left out).
  returned: always
  type: dict
  contains:
    status:
      description: V(Healthy), V(Progressing), V(Degraded), V(Suspended), V(Missing) or V(Unknown).
      type: str
    counts:
      description: How many objects have each status.
      type: dict
  sample: {status: Progressing, counts: {Healthy: 41, Progressing: 1}}
recorded:
  description: The deployed revision the O(applyset) parent held before this run (C({revision, tree})), null if none.
  returned: always
  type: dict
  sample: {revision: 3f2a9c01d4e5b6a7c8d9e0f1a2b3c4d5e6f7a8b9, tree: 9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b}
record_written:
  description: Whether this run wrote O(record) on the parent.
  returned: always
  type: bool
summary:
  description:
    - How many objects get each action, and the total; C(pending) counts those the API server has not judged yet
      (RV(drift[].pending)).
  returned: always
  type: dict
  sample: {create: 0, update: 1, replace: 0, delete: 0, keep: 1, none: 41, total: 43, pending: 0}
namespaces_created:
  description:
    - The namespaces this run created so that the objects in them could be dry-run (O(prepare_namespaces), or
      O(apply)), kept for the apply. When the task fails because something is refused they have been deleted
      again; the failure then lists them in C(namespaces_created), and any it could not delete in
      C(namespaces_kept).
  returned: always
  type: list
  elements: str
  sample: [web]
namespaces_prepared:
  description:
    - A plan's (O(prepare_namespaces), not O(apply)) namespaces created for the dry-runs and left for the apply, as
      O(discard_namespaces) takes them back when that apply does not follow; empty for an apply.
  returned: unless O(discard_namespaces) is given
  type: list
  elements: dict
  sample: [{name: web, uid: 6f1c0a53-8f5e-4d1e-9f53-2a7d1f0c9b1e, run: 3f2a9c1d0b7e4a65, created: true}]
namespaces_discarded:
  description: With O(discard_namespaces), the namespaces deleted (or given back).
  returned: with O(discard_namespaces)
  type: list
  elements: str
  sample: [web]
namespaces_kept:
  description: With O(discard_namespaces), each namespace left as it is and why (not empty, taken over by an apply).
  returned: with O(discard_namespaces)
  type: list
  elements: str
  sample: ["namespace web is left as it is: it is not empty (ConfigMap settings)"]
stats:
  description: Cost of the run.
  returned: always
  type: dict
  contains:
    requests:
      description: HTTP requests sent to the API server.
      type: int
    dry_runs:
      description: Server-side apply dry-runs needed (objects the cheap comparison could not prove in sync).
      type: int
    seconds:
      description: Wall time.
      type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.deps import require
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import masked_arguments, text_secrets
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import URLLIB3_IMPORT_ERROR, module_secret_values
from ansible_collections.trident.gitops.plugins.module_utils.kube.loader import YAML_IMPORT_ERROR
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import ARGUMENT_SPEC, RULES, KubeDiffRequest
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run
from ansible_collections.trident.gitops.plugins.module_utils.sops.options import lazy_document_decryptor


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **RULES)
    require(module, "PyYAML", YAML_IMPORT_ERROR)
    require(module, "urllib3", URLLIB3_IMPORT_ERROR)
    # Secret values are masked by field (common/masking.py): the echoed arguments mask the no_log options whole,
    # and Ansible searches free text only for the values long enough to be searched for.
    module.no_log_values = set(text_secrets(module_secret_values(module.argument_spec, module.params)))
    invocation = {"module_args": masked_arguments(module.argument_spec, module.params)}
    try:
        runner = CommandRunner()
        result = run(KubeDiffRequest.from_params(module.params), module.check_mode, module._diff, runner,
                     decrypt=lazy_document_decryptor(module.params, runner))
    except TridentError as err:
        module.fail_json(**err.to_fail_kwargs(), invocation=invocation)
    except Exception as err:  # noqa: BLE001 - a bug must still end as a clear failure, not a traceback
        module.fail_json(msg=f"kube_diff: unexpected {type(err).__name__}", invocation=invocation)
    module.exit_json(**result, invocation=invocation)


if __name__ == "__main__":
    main()
