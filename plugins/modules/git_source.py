#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: git_source
short_description: Check out a verified revision of a GitOps repository
version_added: 0.1.0
description:
  - Clones or updates O(repo) at O(version) into O(dest), the source of truth of a GitOps run.
  - The remote revision is resolved with C(git ls-remote), its objects are fetched into the repository
    only, signatures are verified (O(verify_signature)), and only then does the working copy move. A failed
    fetch or a refused signature leaves the previous checkout exactly as it was; a first clone is built in a
    temporary sibling directory and renamed into place.
  - The working copy must equal Git. Local modifications and untracked files (ignored ones included) are drift;
    with O(clean=true) they are discarded and reported in RV(discarded), and the task is changed.
  - Two runs on the same O(dest) are serialized by a lock file C(<dest>.lock) next to O(dest).
  - Credentials (O(password), O(token)) reach git through a credential helper configured in the environment of
    the git processes; they are never written to C(.git/config), never on a command line, never in logs.
author:
  - trident.gitops maintainers (@trident-gitops)
requirements:
  - git
  - GitPython
  - gpg (for O(verify_signature))
options:
  repo:
    description:
      - URL (C(https://), C(http://), C(ssh://), C(git://), C(user@host:path)) or local path of the repository.
      - A URL must not embed a password or token; use O(password) or O(token).
    type: str
    required: true
  dest:
    description:
      - Directory of the checkout. Created if missing. An existing non-empty directory that is not a git
        checkout is refused.
    type: path
    required: true
  version:
    description:
      - A branch, a tag, or a full or short commit SHA. A branch wins over a tag of the same name.
      - Default is the branch the remote HEAD points to.
      - A branch is checked out as a local branch of that name; a tag or SHA as a detached HEAD.
        A force-pushed branch moves to its new head; a branch deleted on the remote is an error.
    type: str
  depth:
    description:
      - Number of commits of history to fetch; V(0) fetches the full history.
      - Shallow fetches work for branches, tags and full SHAs (also SHAs that are not a branch or tag tip, when
        the server allows it, as protocol v2 servers do). When the server refuses a SHA, or for a short SHA that
        is not a branch or tag tip, every branch and tag is fetched with full history instead.
      - Only the requested ref is fetched (single branch, no other tags).
    type: int
    default: 1
  submodules:
    description:
      - Initialize, update and clean submodules (recursively) to the commits the checkout records.
      - Signature verification covers the superproject commit only.
    type: bool
    default: false
  clean:
    description:
      - If V(true), local modifications and untracked files (including ignored files) are discarded and
        reported in RV(discarded).
      - If V(false), the task fails when there are any, before anything is fetched into the working copy,
        listing them in RV(local_changes); nothing is discarded.
    type: bool
    default: true
  verify_signature:
    description:
      - Refuse, before the working copy moves, a commit that is not signed by one of O(trusted_keys).
      - For a tag, the tag itself must also be an annotated tag signed by a trusted key (a lightweight tag is
        refused).
      - The keys are loaded into a private, temporary GnuPG home; the user's keyring and trust database do not
        decide anything.
      - Check mode does not fetch, so it does not verify signatures.
    type: bool
    default: false
  trusted_keys:
    description:
      - Keys whose signatures are accepted. Each item is either a full fingerprint (40 or 64 hex digits) of a key
        in the keyring of the user running the task, or an ASCII-armored public key block.
      - A signature by a subkey is accepted when its primary key (or the subkey itself) is listed.
    type: list
    elements: str
    default: []
  username:
    description:
      - User name for HTTP(S) authentication. Defaults to the user in O(repo), or C(x-access-token) with O(token).
      - "This and the other credentials (O(password), O(token), O(key_file), O(known_hosts_file)) default to the
        environment variables C(TRIDENT_GIT_USERNAME), C(TRIDENT_GIT_PASSWORD), C(TRIDENT_GIT_TOKEN),
        C(TRIDENT_GIT_KEY_FILE) and C(TRIDENT_GIT_KNOWN_HOSTS_FILE), the ones the
        P(trident.gitops.environments#inventory) inventory reads (and sets from its options), so the
        inventory and the source role use one set of credentials."
    type: str
  password:
    description:
      - Password for HTTP(S) basic authentication.
    type: str
  token:
    description:
      - Access token for HTTP(S), sent as the basic-auth password of O(username) (GitHub, GitLab, Gitea and
        Bitbucket accept this).
    type: str
  key_file:
    description:
      - Private SSH key for C(ssh://) and C(user@host:path) repositories (no passphrase; SSH runs in batch mode).
    type: path
  accept_hostkey:
    description:
      - Accept and remember the SSH host key of a host seen for the first time (C(StrictHostKeyChecking=accept-new)).
        A changed host key is always refused.
      - If V(false) and O(key_file) or O(known_hosts_file) is set, the host key must already be known.
    type: bool
    default: false
  known_hosts_file:
    description:
      - SSH known hosts file to check host keys against (and to add new ones to with O(accept_hostkey)).
    type: path
  lock_timeout:
    description:
      - Seconds to wait for another run on the same O(dest) to finish.
    type: int
    default: 300
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Resolves the remote revision with C(git ls-remote) and reports whether O(dest) would change; nothing
      is fetched or written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Shows the revisions before and after, the changed files and the discarded local changes.
notes:
  - SSH host key policy and O(key_file) are applied through C(GIT_SSH_COMMAND).
"""

EXAMPLES = r"""
- name: Check out the main branch, verified against two trusted keys
  trident.gitops.git_source:
    repo: https://git.example.com/platform/gitops.git
    version: main
    dest: /srv/gitops/checkout
    token: "{{ lookup('ansible.builtin.env', 'GITOPS_TOKEN') }}"
    verify_signature: true
    trusted_keys:
      - 0123456789ABCDEF0123456789ABCDEF01234567
      - "{{ lookup('ansible.builtin.file', 'release-signing-key.asc') }}"
  register: source

- name: Pin a release tag over SSH
  trident.gitops.git_source:
    repo: git@git.example.com:platform/gitops.git
    version: v1.4.2
    dest: /srv/gitops/release
    key_file: /etc/trident/deploy_key
    known_hosts_file: /etc/trident/known_hosts
"""

RETURN = r"""
before:
  description: Commit checked out before the task; null for a new checkout.
  returned: always
  type: str
  sample: 5d0c9d7e4f3c1b2a5d0c9d7e4f3c1b2a5d0c9d7e
after:
  description: Commit checked out after the task (in check mode, the commit it would check out).
  returned: always
  type: str
  sample: 9a8b7c6d5e4f3a2b1c0d9a8b7c6d5e4f3a2b1c0d
kind:
  description: What O(version) resolved to.
  returned: always
  type: str
  choices: [branch, tag, commit]
ref:
  description: The branch or tag name, or the SHA as given.
  returned: always
  type: str
  sample: main
changed_files:
  description: Paths that differ between RV(before) and RV(after); every file for a new checkout.
  returned: always
  type: list
  elements: str
  sample: [environments/prod/yaml/app.yaml]
commit:
  description: The commit RV(after); null in check mode when it is not fetched yet.
  returned: always
  type: dict
  contains:
    sha:
      description: Full SHA.
      type: str
    author:
      description: Author name.
      type: str
    author_email:
      description: Author e-mail.
      type: str
    date:
      description: Author date, ISO 8601.
      type: str
    subject:
      description: First line of the message.
      type: str
signer:
  description: Key that signed RV(after), when O(verify_signature) is set; null otherwise.
  returned: always
  type: dict
  contains:
    fingerprint:
      description: Primary key fingerprint.
      type: str
    uid:
      description: User ID of the signing key.
      type: str
    signing_key:
      description: Fingerprint of the (sub)key that made the signature.
      type: str
tag_signer:
  description: Key that signed the tag, for a tag with O(verify_signature); null otherwise. Same keys as RV(signer).
  returned: always
  type: dict
discarded:
  description: Local changes that were discarded (in check mode, that would be).
  returned: always
  type: dict
  contains:
    modified:
      description: Tracked paths modified, deleted or staged locally.
      type: list
      elements: str
    untracked:
      description: Paths Git does not track (ignored ones included).
      type: list
      elements: str
local_changes:
  description: With O(clean=false), the local changes that made the task fail (same keys as RV(discarded)).
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.trident.gitops.plugins.module_utils.common.deps import require
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import text_secrets
from ansible_collections.trident.gitops.plugins.module_utils.git.request import (ARGUMENT_SPEC, RULES,
                                                                                 echoed_arguments, run_git_source,
                                                                                 secret_values)
from ansible_collections.trident.gitops.plugins.module_utils.git.source import GITPYTHON_IMPORT_ERROR


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **RULES)
    require(module, "GitPython", GITPYTHON_IMPORT_ERROR)
    # Credentials are masked where they stand (common/masking.py): the echoed arguments mask the password and
    # token whole (and a password in the URL, which is refused), and Ansible searches free text only for the
    # values long enough to be searched for.
    module.no_log_values = set(text_secrets(secret_values(module.params)))
    invocation = {"module_args": echoed_arguments(module.params)}
    try:
        result = run_git_source(module.params, module.check_mode)
    except TridentError as err:
        module.fail_json(**err.to_fail_kwargs(), invocation=invocation)
    module.exit_json(**result, invocation=invocation)


if __name__ == "__main__":
    main()
