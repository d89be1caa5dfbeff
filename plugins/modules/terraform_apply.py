#!/usr/bin/python
# Copyright: trident.gitops maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: terraform_apply
short_description: Plan, check drift and apply a Terraform or OpenTofu root module, refusing destroys by default
version_added: 0.1.0
description:
  - Runs C(init) (only when needed), C(plan -detailed-exitcode) to a plan file, reads the plan with C(show -json)
    and applies exactly that plan file.
  - C(changed) is true exactly when the plan has changes (resources or outputs). In check mode only the plan is made,
    and the destroy guard reports what it would refuse (RV(refused), RV(refusal)) instead of failing.
  - The configuration is repository data. Every command runs in a bubblewrap sandbox (O(sandbox)) that shows only
    the system directories, a copy of the folders the configuration reaches, the state dir and the operator's
    provider locations; nothing else of the controller (home, other checkouts, credentials) exists there. Before
    anything is planned, a configuration that runs programs (C(data "external"), a C(local-exec) provisioner, a
    provider's C(exec) block) is refused unless O(allow_programs) is set (docs/security.md).
  - Nothing a run writes lives in the repository - Terraform runs on a copy of the configuration in O(state_dir),
    where its data dir (E(TF_DATA_DIR)), the lock file C(init) writes, the default local state, plan files and
    locks live too.
  - Variables are written to a private C(*.tfvars.json) file (mode 0600, in a 0700 temporary directory that is
    always removed) and never put on a command line.
  - Providers come only from the operator's locations - the Terraform CLI configuration (E(TF_CLI_CONFIG_FILE) of
    the controller) or, per run, O(cli_config_file), O(plugin_dirs) and O(plugin_cache_dir), so environments with
    different mirrors, plugin caches or private registries can share one controller. None of them, nor O(binary),
    may lie inside the repository.
author:
  - trident.gitops maintainers (@trident)
options:
  project_path:
    description:
      - Directory of the root module (the C(*.tf) / C(*.tf.json) files), inside the repository.
      - A repository path, taken literally. C($VAR), C(${VAR}), C(~) and C(~user) are characters of a file name,
        never expanded (an expansion would put the controller's environment into the path and from there into
        every message). Give an absolute path.
    type: str
    required: true
  repo_path:
    description:
      - The repository's root. Local module sources (C(source = "../modules/x")), symlinks and files may not leave
        it; the copy Terraform runs on holds the root module's folder and every repository folder its local module
        sources reach, at the same place relative to this root.
      - Defaults to the Git checkout that holds O(project_path), else O(project_path) itself.
    type: path
  binary:
    description: C(terraform), C(tofu), or the path of either (outside the repository).
    type: str
    default: terraform
  workspace:
    description:
      - Workspace to plan and apply in (set with E(TF_WORKSPACE)); created by the backend if it does not exist.
    type: str
    default: default
  backend_config:
    description:
      - Backend settings, passed to C(init) in a private file (never on the command line), so they may hold
        credentials. Requires a C(backend) block in the configuration.
    type: dict
    default: {}
  backend_config_files:
    description:
      - Backend configuration files passed to C(init) with C(-backend-config).
      - Repository paths, taken literally (never expanded, see O(project_path)); relative ones are relative to the
        task's working folder.
    type: list
    elements: str
    default: []
  variables:
    description:
      - Secret input variables (any JSON value), such as values decrypted from SOPS files. They go through a private
        C(*.tfvars.json) file, never the command line; they win over O(plain_variables) and O(variables_files).
      - Whatever they reach is masked whole, before and after, in RV(outputs), the diff and the plan's resources, even
        where the module does not mark it C(sensitive) - an output or a resource's top-level attribute whose
        expression refers to one of them (directly or through a resource attribute that does), or whose value holds
        one of their values (a copy made through locals or modules). Terraform's messages are shown without the
        lines in which a diagnostic quotes a variable's value, and with their values of 8 or more characters masked.
      - With E(ANSIBLE_DEBUG) set, Ansible prints the arguments of every module it runs, these included
        (docs/terraform_apply.md).
    type: dict
    default: {}
  plain_variables:
    description:
      - Input variables that are not secret (for example an environment's C(terraform_vars)), shown as they are
        wherever they appear. They go through the same private file; O(variables) win over them.
    type: dict
    default: {}
  variables_files:
    description:
      - Variable files (C(.tfvars) or C(.tfvars.json)) passed with C(-var-file), in order; the sandbox shows them
        read-only. A file in a Git checkout may not lead out of it.
      - Repository paths, taken literally (never expanded, see O(project_path)); relative ones are relative to the
        task's working folder.
    type: list
    elements: str
    default: []
  cli_config_file:
    description:
      - A Terraform CLI configuration file for this run only (E(TF_CLI_CONFIG_FILE)), for example one with a
        C(provider_installation) block naming a filesystem or network mirror, or a private registry's credentials.
      - Without it, the controller's own CLI configuration applies.
    type: path
  plugin_dirs:
    description:
      - Folders holding provider packages, passed to C(init) as C(-plugin-dir). With them, C(init) installs providers
        only from these folders, never from a registry (an air-gapped mirror).
      - Operator folders only - a folder inside the repository is refused (a provider is a program).
    type: list
    elements: path
    default: []
  plugin_cache_dir:
    description: A shared provider plugin cache for this run (E(TF_PLUGIN_CACHE_DIR)); writable in the sandbox while
      C(init) runs.
    type: path
  sandbox:
    description:
      - V(bubblewrap) runs every C(terraform)/C(tofu) command in a bubblewrap (C(bwrap)) sandbox. It shows read-only
        the system directories (C(/usr), CA certificates, name resolution files), a copy of the configuration,
        the operator's provider locations, O(variables_files), O(backend_config_files) and O(sandbox_read_paths),
        and writable the state dir and O(sandbox_write_paths) (in check mode only the run's private scratch
        folder, and for C(init) the data dir). No C(/proc), no C(/tmp) (unless O(allow_programs)). The network is
        shared. When the sandbox cannot be created (no C(bwrap), no user namespaces) the task
        fails saying so; nothing runs unsandboxed unless the operator says so.
      - V(none) runs them directly on the controller, as the controller user, with every file and program of the
        controller within the configuration's reach. Set it per environment, for one whose configuration the
        operator trusts as much as the controller, or where user namespaces are not available.
    type: str
    choices: [bubblewrap, none]
    default: bubblewrap
  sandbox_read_paths:
    description:
      - Controller files or folders the sandbox shows read-only besides the above, at the same path - for example
        a cloud CLI's credentials (C(~/.aws)) a backend or provider reads, or C(~/.ssh) and C(/etc/passwd) for
        module sources fetched with C(git) over SSH. Whatever is listed, the configuration can read.
    type: list
    elements: path
    default: []
  sandbox_write_paths:
    description:
      - Controller folders the configuration may write, at the same path (read-only in check mode) - for example
        the folder of the files a C(local_file) resource manages. Outside the repository only.
      - Anywhere else a write fails (read-only file system); nothing the configuration writes reaches the
        controller otherwise.
    type: list
    elements: path
    default: []
  allow_programs:
    description:
      - Allow configuration constructs that run programs - C(data "external"), C(local-exec) provisioners, a
        provider's C(exec) block (kubernetes and helm credential plugins) - in any module, downloaded ones
        included. Without it a configuration that has one is refused before C(plan), in check mode too.
      - The programs still run in the sandbox (unless O(sandbox=none)). A C(data "external") program runs at
        plan, so in check mode too - a preview of a branch runs the branch's programs. Allowed programs also get
        C(/proc) and a C(/tmp) of their own in the sandbox.
    type: bool
    default: false
  targets:
    description: Resource addresses to limit the plan to (C(-target)).
    type: list
    elements: str
    default: []
  parallelism:
    description: Number of concurrent operations (C(-parallelism)); Terraform's default when unset.
    type: int
  lock_timeout:
    description:
      - How long to wait for the state lock (C(-lock-timeout)), and for another run on the same O(state_dir).
      - A Terraform duration such as C(0s), C(30s) or C(5m).
    type: str
    default: 0s
  state:
    description:
      - V(present) converges the infrastructure to the configuration.
      - V(absent) makes a destroy plan; deleting anything also needs O(allow_destroy=true).
    type: str
    choices: [present, absent]
    default: present
  allow_destroy:
    description:
      - Unless true, a plan that deletes or replaces any resource is refused before anything is applied.
      - In check mode the plan is returned whole and the refusal is reported in RV(refused) and RV(refusal) (and
        C(refused) on each stopped RV(resource_changes) entry) instead of failing the task.
      - A resource this module was creating when its apply was interrupted (SIGTERM) or failed is tainted by
        Terraform; the replace of it on a rerun goes ahead without O(allow_destroy) (RV(unfinished_creates)). A
        resource tainted any other way is still refused.
    type: bool
    default: false
  drift_only:
    description:
      - Make a refresh-only plan and report what changed outside Terraform in RV(resource_drift); change nothing.
      - C(changed) is then true exactly when there is drift.
    type: bool
    default: false
  phase:
    description:
      - V(full) plans and applies in one call.
      - V(plan) makes and checks the plan (the O(allow_destroy) guard included) and, when it has changes, keeps the
        plan file for a later V(apply) call in a private 0700 folder C(<state_dir>/.plan-saved) (its path is
        RV(plan_file)). It applies nothing. A plan file holds variable values, secrets included; the folder is
        removed by the V(apply) call, and one left behind (a run killed between the two calls) is removed by the
        next call on the same O(state_dir), under its lock.
      - V(apply) with O(saved_plan=true) applies exactly the saved plan (C(apply <planfile>), no new plan;
        Terraform refuses a plan made stale by a change of the state since) and removes its folder, whether the
        apply succeeds or not. Without O(saved_plan) (the plan had no changes) it only writes O(record).
      - The reconcile role plans every step of an environment before it applies any (docs/reconcile.md).
    type: str
    choices: [full, plan, apply]
    default: full
  saved_plan:
    description:
      - With O(phase=apply), apply the plan the V(plan) call saved in O(state_dir) (it returned a RV(plan_file)).
      - A flag rather than the path the V(plan) call returned.
    type: bool
    default: false
  plan_json:
    description:
      - Also return the plan as C(show -json) prints it, in RV(plan_json), every secret value masked (what Terraform
        marks sensitive, what O(variables) reach or hold, the secret and sensitive variables themselves); keys of the
        document this module does not know are left out. The reconcile pipeline's policy step reads it
        (docs/policy.md). A plan without changes is shown too (one more C(show) command).
    type: bool
    default: false
  record:
    description:
      - The Git revision being deployed, written to C(<state_dir>/deployed-revision.json) (per workspace) after a
        successful apply (phase V(full) or V(apply)), never in check mode; the record read before the run is
        returned in RV(recorded). Environments with Kubernetes keep it on their ApplySet parent instead.
    type: dict
    suboptions:
      revision:
        description: The Git commit.
        type: str
        required: true
      tree:
        description: The tree hash of the environment's folder at that commit.
        type: str
        required: true
  state_dir:
    description:
      - Directory for Terraform's data dir, the default local state, plan files and locks. It must be outside
        O(project_path).
      - Defaults to C(~/.cache/trident-gitops/terraform/<digest of project_path and workspace>).
      - Without a C(backend) block the state is C(<state_dir>/terraform.tfstate) (C(-state)); with
        C(backend "local") its C(path) and C(workspace_dir) point here unless O(backend_config) sets them.
    type: path
notes:
  - Runs on the host that has the configuration and the binary (usually C(ansible_connection=local)).
  - Commit C(.terraform.lock.hcl) - C(init) then runs with C(-lockfile=readonly). Without one, the lock file
    C(init) writes is kept in O(state_dir) (outside check mode), never in the repository.
  - Local module sources must be literal strings (C(source = "../modules/x")); the copy holds what they name.
  - The state itself holds every attribute Terraform stores, secrets included; protect O(state_dir) or use a
    remote backend.
seealso:
  - name: Terraform plan -detailed-exitcode
    description: How Terraform reports whether a plan has changes.
    link: https://developer.hashicorp.com/terraform/cli/commands/plan
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Plans only; C(changed) is true when the plan has changes.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Before/after of each changed (or drifted) resource, sensitive values masked.
"""

EXAMPLES = r"""
- name: Converge the environment's infrastructure with OpenTofu
  trident.gitops.terraform_apply:
    project_path: "{{ checkout }}/environments/{{ inventory_hostname }}"
    binary: tofu
    workspace: "{{ inventory_hostname }}"
    variables:
      db_password: "{{ db_password }}"

- name: Report drift made outside Terraform, change nothing
  trident.gitops.terraform_apply:
    project_path: /srv/gitops/environments/prod
    drift_only: true
  register: drift

- name: Take providers only from this environment's air-gapped mirror
  trident.gitops.terraform_apply:
    project_path: /srv/gitops/environments/factory
    plugin_dirs:
      - /opt/terraform/providers
    plugin_cache_dir: /var/cache/terraform-plugins

- name: Use a CLI configuration with a private registry's credentials for this environment only
  trident.gitops.terraform_apply:
    project_path: /srv/gitops/environments/prod
    cli_config_file: /etc/trident/prod.terraformrc

- name: An environment whose configuration runs local-exec provisioners, delegated by the operator
  trident.gitops.terraform_apply:
    project_path: /srv/gitops/environments/lab
    allow_programs: true
    sandbox_read_paths:
      - ~/.aws

- name: Tear down, deletions allowed explicitly
  trident.gitops.terraform_apply:
    project_path: /srv/gitops/environments/preview
    state: absent
    allow_destroy: true
"""

RETURN = r"""
plan_json:
  description: The plan as C(show -json) prints it, secret values masked (O(plan_json)).
  returned: when O(plan_json=true) and a plan was made
  type: dict
summary:
  description: Counts of the plan; a replacement counts only as C(replace).
  returned: always
  type: dict
  sample: {"add": 1, "change": 0, "destroy": 0, "replace": 1}
resource_changes:
  description: Resources the plan creates, updates, deletes or replaces (no-ops and reads left out).
  returned: always
  type: list
  elements: dict
  sample: [{"address": "local_file.motd", "action": "replace", "actions": ["delete", "create"],
            "action_reason": "replace_because_cannot_update", "replace_paths": [["content"]], "refused": true}]
  contains:
    address:
      description: The resource instance address.
      type: str
    action:
      description: V(create), V(update), V(delete) or V(replace) (a delete and a create, in either order).
      type: str
    actions:
      description: Terraform's own actions list, for example C(["delete", "create"]).
      type: list
      elements: str
    action_reason:
      description: Terraform's reason for a delete or replace (C(replace_because_tainted) ...), when it gives one.
      type: str
      returned: when Terraform gives one
    replace_paths:
      description: The attribute paths that force the replacement.
      type: list
      elements: list
      returned: for a replace forced by attributes
    refused:
      description: True on a delete or replace the destroy guard stops (O(allow_destroy) false).
      type: bool
      returned: on refused changes only
    unfinished_create:
      description:
        - True on the replace of a resource this module was creating when an earlier apply was interrupted or
          failed (Terraform tainted it); it goes ahead without O(allow_destroy).
      type: bool
      returned: on such replaces only
resource_drift:
  description: Resources that changed outside Terraform, as found by the plan's refresh.
  returned: always
  type: list
  elements: dict
  sample: [{"address": "local_file.motd", "action": "delete", "actions": ["delete"]}]
refused:
  description:
    - Whether the destroy guard refuses this plan (it deletes or replaces and O(allow_destroy) is false).
    - In check mode the task still succeeds and returns the whole plan, so a caller reports the refusal next to the
      rest of the drift and fails the environment's apply; outside check mode the task fails before applying
      anything, its result carrying RV(refused), RV(summary) and RV(resource_changes).
  returned: always
  type: bool
refusal:
  description: In check mode, what the apply would refuse, as one line; null when it would refuse nothing.
  returned: always
  type: str
  sample: "would be refused: replace local_file.motd (allow_destroy)"
unfinished_creates:
  description: Addresses of tainted resources this plan replaces without O(allow_destroy), because an earlier apply
    of this module on the same O(state_dir) was creating them when it was interrupted or failed.
  returned: always
  type: list
  elements: str
  sample: ["terraform_data.slow"]
sandbox:
  description: How the commands ran, V(bubblewrap) or V(none) (O(sandbox)).
  returned: always
  type: str
outputs:
  description: Output values (after the apply, or planned in check mode); sensitive ones and those O(variables) reach masked.
  returned: always
  type: dict
  sample: {"url": "https://example.invalid", "token": "<masked:3f2a9c01d4e5>"}
plan_file:
  description: With O(phase=plan), the saved plan to give to O(phase=apply); null when the plan has no changes.
  returned: always
  type: str
recorded:
  description: The deployed revision recorded in O(state_dir) before this run (C({revision, tree})), null if none.
  returned: always
  type: dict
record_written:
  description: Whether this run wrote O(record).
  returned: always
  type: bool
applied:
  description: Whether a plan was applied.
  returned: always
  type: bool
initialized:
  description: Whether this run had to run C(init).
  returned: always
  type: bool
state_dir:
  description: The state directory used.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import masked_arguments, text_secrets
from ansible_collections.trident.gitops.plugins.module_utils.terraform.request import (
    ARGUMENT_SPEC, run_terraform, secret_values)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # Secrets are masked where they stand (common/masking.py): the echoed arguments mask the no_log options
    # whole, and Ansible searches free text only for the values long enough to be searched for.
    module.no_log_values = set(text_secrets(secret_values(module.params)))
    invocation = {"module_args": masked_arguments(module.argument_spec, module.params)}
    try:
        result = run_terraform(module.params, module.check_mode, module._diff)
    except TridentError as err:
        module.fail_json(**err.to_fail_kwargs(), invocation=invocation)
    module.exit_json(**result, invocation=invocation)


if __name__ == "__main__":
    main()
