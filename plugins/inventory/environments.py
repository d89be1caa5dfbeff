# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: environments
short_description: One inventory host per environment folder of a GitOps repository
version_added: 0.1.0
description:
  - Reads C(environments/*/) of a GitOps repository and adds one host per environment folder, named after
    the folder (optionally prefixed), with C(ansible_connection=local) and the controller's Python as
    interpreter, so every environment is reconciled from the controller in parallel (forks, AWX slicing).
  - The repository is a local checkout (O(path)) or is fetched (O(repo), O(version)) into a cache by the
    same code as M(trident.gitops.git_source) (shallow, credentials never on the command line or in
    C(.git/config), optional commit signature verification).
  - "Each environment folder may hold: C(env.yml) (settings, validated; unknown keys or wrong types are
    an error naming the file and the key), C(kubeconfig.yaml) or C(kubeconfig.sops.yaml) (also found inside
    the manifests folder, as in the seed layout), C(*.tf) (a Terraform/OpenTofu root module), C(yaml/) or
    C(manifests/) (Kubernetes manifests; a C(kustomization.yaml) makes it a kustomize build) and
    C(secrets/*.sops.{yaml,json,env,ini}) (SOPS files). Every part is optional."
  - "One host variable per environment, C(trident_environment): the environment as one value, what the roles read.
    It holds C(name), C(dir) (the folder relative to the repository root), C(repository) (C(path), absolute on the
    machine that read the inventory; and when it fetched the repository C(url) without credentials, C(version) and
    C(commit)), C(steps) (which of source, secrets, terraform, kubernetes have content), C(tags), C(depends_on),
    C(wave), C(kubeconfig) and C(kubeconfig_encrypted), C(terraform_files), C(manifests_dir), C(manifests_kind)
    (C(files) or C(kustomize)), C(manifest_files), C(secrets) (list of C(path), C(name), C(format)), C(settings) (the
    validated C(env.yml) keys present) and C(error). Paths are relative to the environment folder."
  - "Everything in it is repository data: it is never templated (ansible-core 2.19 does not template what an
    inventory plugin sets) and never becomes any other host variable. C(env.yml) C(vars) give defaults for a few
    settings of the step roles (docs/inventory.md); the operator's variables (group_vars, host_vars, extra vars)
    always override them, and gates (C(fail_on_drift), the steps, signer keys, what runs or is fetched on the
    controller) are never the repository's (docs/security.md)."
  - "C(tags) become groups. Order (docs/promotion.md): C(env.yml) C(depends_on) (a list of environments) and
    C(promote_from) (one environment, implied as a dependency) give each environment its C(wave): wave 0 depends on
    nothing, wave n on environments of earlier waves. The playbooks reconcile the environments of a run in batches
    by wave (lookup P(trident.gitops.run_order#lookup)). An unknown environment, a dependency on itself, a cycle, or
    waiting directly or not for an environment that cannot be ordered makes the environment a failing host naming
    its C(env.yml)."
  - "One set of git credentials: O(username), O(password), O(token), O(key_file) and O(known_hosts_file)
    come from the options or the C(TRIDENT_GIT_*) environment variables; options given here (or
    credentials written in the O(repo) URL) are set in the run's environment as those variables, where
    M(trident.gitops.git_source) (the source role's fetch) reads them. They are never host variables."
  - "Every environment host gets C(ansible_connection=local) and C(ansible_pipelining=true): module
    arguments (secrets among them) go to the module's standard input, never to a file in C(~/.ansible/tmp)."
  - "An environment folder that cannot be read (invalid C(env.yml), a missing file it names, a path or
    symlink leading outside the repository) is still a host, whose C(trident_environment) has C(error) set (the
    environment, the file and the problem); the reconcile role fails it first thing. The other environments are
    not affected. Errors of the whole repository (fetch, signature, no C(environments) folder) fail the inventory
    source."
author:
  - trident.gitops maintainers (@trident)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: Marks this file as a source for this plugin.
    required: true
    type: str
    choices: [trident.gitops.environments]
  path:
    description:
      - Root of a local checkout of the GitOps repository.
      - A relative path is relative to the folder holding this inventory file, so a file at the root of
        the GitOps repository (an AWX inventory source from a project) sets it to C(.).
      - Exactly one of O(path) and O(repo) is required.
    type: str
  repo:
    description:
      - URL of the GitOps repository to fetch (shallow) into O(cache_dir).
      - Credentials in the URL are never shown in messages or host variables.
    type: str
  version:
    description: Branch, tag or commit of O(repo) to read.
    type: str
    default: HEAD
  username:
    description: User name for an http(s) O(repo) (with O(password)).
    type: str
    env:
      - name: TRIDENT_GIT_USERNAME
  password:
    description:
      - Password for an http(s) O(repo). Credentials written into the URL are taken as O(username) and
        O(password) too, and are never shown or stored.
    type: str
    env:
      - name: TRIDENT_GIT_PASSWORD
  token:
    description: Token for an http(s) O(repo) (sent as the password of a token user).
    type: str
    env:
      - name: TRIDENT_GIT_TOKEN
  key_file:
    description: SSH private key for an SSH O(repo).
    type: path
    env:
      - name: TRIDENT_GIT_KEY_FILE
  known_hosts_file:
    description: Known-hosts file for an SSH O(repo).
    type: path
    env:
      - name: TRIDENT_GIT_KNOWN_HOSTS_FILE
  verify_signature:
    description: Refuse the revision unless its commit (and tag) is signed by one of O(trusted_keys).
    type: bool
    default: false
  trusted_keys:
    description: Fingerprints and/or armored public keys, as for M(trident.gitops.git_source).
    type: list
    elements: str
    default: []
  cache_dir:
    description: Where fetched repositories are kept between runs.
    type: path
    default: ~/.cache/trident-gitops/inventory
    env:
      - name: TRIDENT_INVENTORY_CACHE_DIR
  environments_dir:
    description: Folder of the repository that holds one folder per environment.
    type: str
    default: environments
  host_prefix:
    description: Prefix for host names, to keep environments of several repositories apart.
    type: str
    default: ''
  group:
    description: Group that every environment joins.
    type: str
    default: environments
  slice_count:
    description:
      - Split the environments into this many slices, so that as many controllers (ansible-playbook processes,
        execution nodes) each reconcile one of them at once (docs/awx.md). With O(slice), this inventory holds only
        the environments of that slice. V(1) is one slice holding everything.
      - "Every slice reading the same revision of the repository computes the same assignment, from the environments'
        names and C(env.yml) C(depends_on) and C(promote_from) only: environments linked by those, directly or not, are
        in one slice (their order and a promotion in the same run hold as in one run); the linked groups are dealt out
        largest first to the slice with fewest environments so far."
      - A slice with no environment (fewer linked groups than slices) holds no host; the playbooks then fail saying
        the inventory holds no environment.
    type: int
    default: 1
  slice:
    description:
      - Which slice (V(1) to O(slice_count)) this inventory holds. Required when O(slice_count) is above V(1).
    type: int
notes:
  - Hidden folders (C(.template)) are not environments. Folder names must be valid host names.
  - Files in C(secrets/) not named C(*.sops.<ext>) are ignored with a warning.
seealso:
  - name: Environment layout
    description: The layout of a GitOps repository this plugin reads.
    link: https://example.invalid/trident/gitops/docs/inventory.md
"""

EXAMPLES = r"""
# prod.environments.yml at the root of the GitOps repository (an AWX inventory source from the project)
plugin: trident.gitops.environments
path: .

---
# Slice 2 of 3: three controllers, each with its own copy of this file (slice 1, 2, 3), reconcile one third each
plugin: trident.gitops.environments
path: .
slice_count: 3
slice: 2

---
# Fetch a branch and group hosts by a setting from env.yml
plugin: trident.gitops.environments
repo: https://git.example.com/platform/gitops.git
version: main
keyed_groups:
  - key: trident_environment.settings.terraform_binary | default('none')
    prefix: tf
groups:
  with_terraform: "'terraform' in trident_environment.steps"
compose:
  ansible_python_interpreter: ansible_playbook_python
"""

import os

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
# ansible-core 2.19 templates only trusted strings: nothing this plugin sets from the repository is trusted.
from ansible.template import trust_as_template

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.auth import GitAuth
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.fetch import (
    display_url, fetch_repository, share_credentials, split_credentials)
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import (
    BrokenEnvironment, Environment, describe_repository)
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.slices import assign_slices
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.environment import VARIABLE

# Interpreter discovery on the controller can pick a pyenv shim or a Python without the collection's
# libraries; the Python running ansible-playbook has them.
CONTROLLER_PYTHON = "{{ ansible_playbook_python }}"
# Environments run on the controller. Pipelining keeps module arguments (secrets among them) out of
# AnsiballZ files in ~/.ansible/tmp: they go to the module's stdin instead.
HOST_SETTINGS = {"ansible_connection": "local", "ansible_pipelining": True}


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "trident.gitops.environments"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".environments.yml", ".environments.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            root, source = self._repository(path)
            environments = describe_repository(root, self.get_option("environments_dir"))
            selected = self._slice(environments)
        except TridentError as exc:
            raise AnsibleParserError(f"trident.gitops.environments ({path}): {exc.message}") from None
        common = self.inventory.add_group(self.get_option("group"))
        hosts = {self.get_option("host_prefix") + env.name for env in environments}
        for env in selected:
            host = self.inventory.add_host(self.get_option("host_prefix") + env.name, group=common)
            variables = {VARIABLE: env.as_variable(source), **HOST_SETTINGS,
                         "ansible_python_interpreter": trust_as_template(CONTROLLER_PYTHON)}
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
            if isinstance(env, BrokenEnvironment):
                # The host stays, so the run fails it (and only it) first thing with this message.
                self.display.error(f"trident.gitops.environments ({path}): {env.error}")
                continue
            for warning in env.warnings:
                self.display.warning(f"environment {env.name}: {warning}")
            self._add_groups(path, env, host, hosts, variables)

    def _slice(self, environments):
        """The environments of this inventory's slice (all of them without slicing)."""
        count, number = self.get_option("slice_count"), self.get_option("slice")
        if count < 1:
            raise TridentError(f"slice_count must be at least 1, got {count}")
        if count == 1 and number in (None, 1):
            return environments
        if number is None or not 1 <= number <= count:
            raise TridentError(f"slice must be a number from 1 to slice_count ({count}), got {number}")
        graph = {env.name: env.depends_on if isinstance(env, Environment) else [] for env in environments}
        assigned = assign_slices(graph, count)
        return [env for env in environments if assigned[env.name] == number]

    def _add_groups(self, path, env, host, hosts, variables):
        strict = self.get_option("strict")
        for tag in env.tags:
            if tag in hosts:
                raise AnsibleParserError(f"trident.gitops.environments ({path}): environment {env.name}: tag "
                                         f"'{tag}' is also a host name; a group and a host cannot share it")
            self.inventory.add_child(self.inventory.add_group(tag), host)
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)

    def _repository(self, config_path):
        """The checkout to read and the variables that say where it came from."""
        local, repo = self.get_option("path"), self.get_option("repo")
        if bool(local) == bool(repo):
            raise TridentError("set exactly one of 'path' (a local checkout) and 'repo' (a URL to fetch)")
        if local:
            return os.path.join(os.path.dirname(os.path.abspath(config_path)), os.path.expanduser(local)), {}
        version = self.get_option("version")
        auth = GitAuth(username=self.get_option("username"), password=self.get_option("password"),
                       token=self.get_option("token"), key_file=self.get_option("key_file"),
                       known_hosts_file=self.get_option("known_hosts_file"))
        checkout = fetch_repository(repo, version, self.get_option("cache_dir"), auth,
                                    self.get_option("verify_signature"), tuple(self.get_option("trusted_keys") or ()))
        share_credentials(split_credentials(repo, auth)[1])
        return checkout.path, {"url": display_url(repo), "version": version, "commit": checkout.commit}
