#!/usr/bin/python
# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: policy_check
short_description: Check an environment's plans against Rego policies with OPA (conftest's layout)
version_added: 0.6.0
description:
  - Evaluates the Rego policies of the repository's C(policy/) folders (O(policy_dirs)) and of the operator's own
    folders (O(operator_dirs)) with the real OPA engine (C(opa eval)), in conftest's layout - rules named C(deny),
    C(violation) and C(warn) (or C(deny_*), C(violation_*), C(warn_*)) in any package - against every Kubernetes
    object the kubernetes step would apply (O(objects), one input document each, as conftest reads a manifest)
    and the Terraform plan (O(plan), one input document, as conftest reads C(show -json)). The environment's name
    and settings are C(data.trident.environment).
  - A C(deny) or C(violation) result refuses the plan (RV(refused), RV(refusal)); the module itself does not fail
    on it, the reconcile gate refuses the whole environment (docs/policy.md). C(warn) results are reported only.
  - The repository's and the operator's policies are compiled and evaluated apart, so a repository cannot add to,
    redefine or switch off an operator's rule.
  - Policies run in OPA's sandbox - the builtins C(http.send), C(net.lookup_ip_addr) and C(opa.runtime) are not
    available (a policy using one fails to compile, before anything is evaluated), no network is allowed, OPA runs
    with an empty environment, and only C(.rego) files inside the repository are read (a symlink out of it is
    refused). The input goes to OPA on its standard input, never through a file.
  - Secret values never reach a policy - a Secret's C(data), C(stringData) and C(binaryData) values are masked here
    whatever O(objects) holds, and kube_diff and terraform_apply mask every other secret value before.
  - Changes nothing; runs the same in check mode.
options:
  repository_root:
    description: The checkout deployed from; O(policy_dirs) are resolved inside it and messages name files relative to it.
    type: path
    required: true
  policy_dirs:
    description: The repository's policy folders relative to O(repository_root) (the shared C(policy/) and the environment's own).
    type: list
    elements: str
    default: []
  operator_dirs:
    description: The operator's policy folders on the controller, evaluated apart from the repository's.
    type: list
    elements: path
    default: []
  objects:
    description: The objects M(trident.gitops.kube_diff) would apply, as its RV(trident.gitops.kube_diff#module:objects) returns them (C({source, object})).
    type: list
    elements: dict
    default: []
  plan:
    description: The Terraform plan as M(trident.gitops.terraform_apply) returns it in RV(trident.gitops.terraform_apply#module:plan_json).
    type: dict
  environment:
    description: The environment (C(name), C(dir), C(settings)), given to the policies as C(data.trident.environment).
    type: dict
    required: true
  binary:
    description: The C(opa) binary (the operator's).
    type: str
    default: opa
  rego_version:
    description: The Rego syntax of the policies - C(v1) (OPA 1.x and conftest's default) or C(v0) (older policies, C(deny[msg] { ... })).
    type: str
    choices: [v0, v1]
    default: v1
attributes:
  check_mode:
    description: Runs the same (it changes nothing), so a preview shows the verdicts.
    support: full
  diff_mode:
    description: No diff; the verdicts are the result.
    support: none
author: trident.gitops maintainers (@trident-gitops)
"""

EXAMPLES = r"""
- name: Check the plans against the policies
  trident.gitops.policy_check:
    repository_root: /srv/gitops
    policy_dirs: [policy, environments/prod/policy]
    operator_dirs: [/etc/trident/policy]
    objects: "{{ kubernetes_result.objects }}"
    plan: "{{ terraform_result.plan_json }}"
    environment: {name: prod, dir: environments/prod, settings: {}}
  register: policy_result
"""

RETURN = r"""
refused:
  description: Whether a C(deny) or C(violation) rule refuses the plan.
  returned: always
  type: bool
refusal:
  description: The denials as one line (policy file, rule, object or resource address, message); null when none.
  returned: always
  type: str
denials:
  description: One entry per message of a C(deny) or C(violation) rule.
  returned: always
  type: list
  elements: dict
  contains:
    policy:
      description: The policy file defining the rule (relative to the repository, or the operator's path).
      type: str
    package:
      description: The Rego package.
      type: str
    rule:
      description: The rule's name.
      type: str
    origin:
      description: V(repository) or V(operator).
      type: str
    subject:
      description: The object (C(Kind namespace/name)), or the Terraform resource address the message names, or C(Terraform plan).
      type: str
    source:
      description: The file the object comes from (relative to the repository), or the environment's folder for the plan.
      type: str
    message:
      description: The rule's message.
      type: str
  sample:
    - {policy: policy/limits.rego, package: main, rule: deny, origin: repository, subject: Deployment web/api,
       source: environments/prod/yaml/api.yaml, message: "container api has no resource limits"}
warned:
  description: One entry per message of a C(warn) rule, shaped as RV(denials) (not C(warnings), which Ansible takes as the task's own).
  returned: always
  type: list
  elements: dict
excepted:
  description:
    - One entry per exception (conftest's C(exception) rule of the rule's package named the rule, without its
      C(deny_)/C(violation_)/C(warn_) prefix, or C("") for a bare C(deny)/C(violation)/C(warn), for the document),
      shaped as RV(denials), the message saying which rule was excepted. An excepted rule's results are neither
      denials nor warnings; a repository's exception never excepts an operator's rule (evaluated apart).
  returned: always
  type: list
  elements: dict
checked:
  description: How many input documents and policy files were evaluated.
  returned: always
  type: dict
  sample: {documents: 43, policies: 5, environment: prod}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.policy.request import (
    ARGUMENT_SPEC, PolicyRequest, echoed, run)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    invocation = {"module_args": echoed(module.params)}
    try:
        result = run(PolicyRequest.from_params(module.params), CommandRunner())
    except TridentError as err:
        module.fail_json(**err.to_fail_kwargs(), invocation=invocation)
    except Exception as err:  # noqa: BLE001 - a bug must still end as a clear failure, not a traceback
        module.fail_json(msg=f"policy_check: unexpected {type(err).__name__}", invocation=invocation)
    module.exit_json(**result, invocation=invocation)


if __name__ == "__main__":
    main()
