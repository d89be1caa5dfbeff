"""Plan, guard and apply one Terraform/OpenTofu root module from a repository, sandboxed, writing nothing into it.

The project directory is in a Git checkout (hostile data): Terraform runs on a copy of the folders the
configuration reaches (``workdir``), inside a bubblewrap sandbox that shows only that copy, the state dir and
the operator's provider locations (``bubblewrap``, ``locations``), after a check that no module runs programs
(``programs``) unless the operator allows them. Terraform's data dir (``TF_DATA_DIR``), the default local
state, plan files and our own lock live in a per-project state directory. Variables go through a private
``*.tfvars.json`` (never argv) in a 0700 temporary directory that is always removed, together with the plan file
(a plan file holds variable values too). The destroy guard is ``guard``.

``variables`` are secret (decrypted SOPS values): what they reach is masked (terraform/plan.py), their
values long enough to be searched for are masked in Terraform's messages, and the lines in which Terraform
quotes a variable's value in a diagnostic are left out whatever the value. ``plain_variables`` are not secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.command import interruptible
from ansible_collections.trident.gitops.plugins.module_utils.common.constants import CACHE_DIR
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write, private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask_text, text_secrets
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox, confine
from ansible_collections.trident.gitops.plugins.module_utils.terraform import bubblewrap, guard, workdir
from ansible_collections.trident.gitops.plugins.module_utils.terraform.locations import (
    provider_locations, refuse_repository_paths)
from ansible_collections.trident.gitops.plugins.module_utils.terraform.plan import (
    Plan, Secrets, mask_outputs, parse_plan, policy_document)
from ansible_collections.trident.gitops.plugins.module_utils.terraform.programs import find_programs

DEFAULT_STATE_ROOT = os.path.join(CACHE_DIR, "terraform")
# The private folder of one run in the state dir: var files, backend settings, the plan file.
RUN_PREFIX = ".run-"
# The private folder of the plan phase=plan saves for phase=apply (it may hold secrets). A fixed name, not a
# path handed back and forth: Ansible masks no_log values in returned strings, a random name included.
SAVED_PLAN_DIR = ".plan-saved"
# What the saved plan creates, kept next to it for phase=apply (the guard's unfinished creates).
SAVED_CREATES = "creates.json"
# The Git revision a Terraform-only environment was last deployed from, per workspace.
RECORD_FILE = "deployed-revision.json"
# The outputs a secret reaches, per workspace, for a run that is not given the secrets (phase=apply).
MASKED_OUTPUTS_FILE = "masked-outputs.json"
# A diagnostic's expression context: the lines under "├────" that tell a value ("│ var.password is "..."").
# A diagnostic's source lines ("  1: {"password": "..."}") when they are from a file of our private run folder.
_PRIVATE_SNIPPET = re.compile(r"^((?:[ \t]*│)?[ \t]*on [^\n]*/" + re.escape(RUN_PREFIX) + r"[^\n]* line \d+[^\n]*\n)"
                              r"(?:(?:[ \t]*│)?[ \t]*\d+:.*(?:\n|$))+", re.MULTILINE)
_VALUE_CONTEXT = re.compile(r"^(?:[ \t]*│)?[ \t]*├─+[ \t]*(?:\n|$)(?:(?:[ \t]*│)?[ \t]+│.*(?:\n|$))*", re.MULTILINE)
# The lock file init wrote for a configuration that commits none (it lives here, never in the checkout).
PROVIDER_LOCK = "providers.lock.hcl"
# The copy of the configuration Terraform runs in (workdir).
WORK_DIR = "work"
# Where the local backend keeps non-default workspaces, relative to the state dir (Terraform's own layout).
WORKSPACE_DIR = "terraform.tfstate.d"
_BACKEND_HCL = re.compile(r'^\s*backend\s+"([^"]+)"', re.MULTILINE)
_CLOUD_HCL = re.compile(r"^\s*cloud\s*\{", re.MULTILINE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
# Terraform's plan -detailed-exitcode: 0 = no changes, 1 = error, 2 = changes.
_PLAN_HAS_CHANGES = 2


@dataclass(frozen=True)
class Settings:
    project_path: str
    binary: str = "terraform"
    workspace: str = "default"
    backend_config: dict = field(default_factory=dict)
    backend_config_files: tuple = ()
    variables: dict = field(default_factory=dict)
    plain_variables: dict = field(default_factory=dict)
    variables_files: tuple = ()
    targets: tuple = ()
    parallelism: int | None = None
    lock_timeout: str = "0s"
    state: str = "present"
    allow_destroy: bool = False
    drift_only: bool = False
    state_dir: str | None = None
    cli_config_file: str | None = None
    plugin_dirs: tuple = ()
    plugin_cache_dir: str | None = None
    check_mode: bool = False
    # full: plan and apply; plan: save the plan for a later apply; apply: apply the saved plan (saved_plan)
    phase: str = "full"
    saved_plan: bool = False
    record: dict | None = None
    # The repository root the configuration may reach (default: the Git checkout holding project_path).
    repo_path: str | None = None
    # bubblewrap (every command in a sandbox) or none (the operator runs this environment unsandboxed).
    sandbox: str = bubblewrap.BUBBLEWRAP
    # Controller paths the operator shows read-only in the sandbox (cloud credentials files, ~/.ssh for git).
    sandbox_read_paths: tuple = ()
    # Controller folders the operator lets the configuration write (outside check mode): local_file targets.
    sandbox_write_paths: tuple = ()
    # Whether the configuration may run programs (data "external", local-exec, a provider's exec block).
    allow_programs: bool = False
    # Return the plan as show -json prints it, masked (plan.policy_document), for the policy step.
    plan_json: bool = False


@dataclass(frozen=True)
class Outcome:
    changed: bool
    plan: Plan
    outputs: dict
    applied: bool
    initialized: bool
    state_dir: str
    plan_file: str | None = None
    recorded: dict | None = None
    record_written: bool = False
    verdict: guard.Verdict = field(default_factory=guard.Verdict)
    # check mode: what the apply would refuse, as one line; None when it would refuse nothing
    refusal: str | None = None
    sandbox: str = bubblewrap.BUBBLEWRAP
    plan_json: dict | None = None

    def to_result(self, diff=False):
        result = {
            "changed": self.changed,
            "applied": self.applied,
            "initialized": self.initialized,
            "state_dir": self.state_dir,
            "summary": self.plan.summary.to_dict(),
            "resource_changes": [change.to_dict(self.verdict) for change in self.plan.resource_changes],
            "resource_drift": [change.to_dict() for change in self.plan.resource_drift],
            "outputs": self.outputs,
            "plan_file": self.plan_file,
            "recorded": self.recorded,
            "record_written": self.record_written,
            "refused": self.verdict.refuses,
            "refusal": self.refusal,
            "unfinished_creates": list(self.verdict.unfinished),
            "sandbox": self.sandbox,
        }
        if diff:
            result["diff"] = [change.to_diff() for change in self.plan.resource_changes or self.plan.resource_drift]
        if self.plan_json is not None:
            result["plan_json"] = self.plan_json
        return result


def without_values(text):
    """Terraform's text without what quotes variables' values: the expression contexts of its diagnostics, and
    the source lines it shows of our private var and backend files."""
    return _PRIVATE_SNIPPET.sub(r"\1", _VALUE_CONTEXT.sub("", text))


def parse_duration(text):
    """Seconds in a Terraform duration such as ``0s``, ``90s``, ``5m`` or ``1m30s``."""
    text = str(text).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise TridentError(f"lock_timeout {text!r} is not a duration such as 0s, 30s, 5m or 1m30s")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def backend_type(files):
    """The backend a configuration declares: a type name, ``"cloud"``, or None (the implicit local backend)."""
    found = None
    for path in files:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if path.endswith(".json"):
            found = _json_backend(text, path) or found
        else:
            match = _BACKEND_HCL.search(text)
            found = (match.group(1) if match else "cloud" if _CLOUD_HCL.search(text) else None) or found
    return found


def _json_backend(text, path):
    try:
        document = json.loads(text)
    except ValueError:
        raise TridentError(f"{os.path.basename(path)} is not valid JSON") from None
    blocks = document.get("terraform", []) if isinstance(document, dict) else []
    for block in blocks if isinstance(blocks, list) else [blocks]:
        if isinstance(block, dict) and block.get("cloud"):
            return "cloud"
        backend = block.get("backend") if isinstance(block, dict) else None
        if isinstance(backend, dict) and backend:
            return next(iter(backend))
    return None


def default_state_dir(project_path, workspace):
    key = hashlib.sha256(f"{os.path.realpath(project_path)}\0{workspace}".encode()).hexdigest()[:16]
    return os.path.join(os.path.expanduser(DEFAULT_STATE_ROOT), key)


def state_file(state_dir, workspace):
    """Where the local backend keeps ``workspace``'s state under our state dir."""
    if workspace == "default":
        return os.path.join(state_dir, "terraform.tfstate")
    return os.path.join(state_dir, WORKSPACE_DIR, workspace, "terraform.tfstate")


def owns_local_state(backend, settings):
    """Whether the state is a local file in our state dir (the local backend, not pointed elsewhere)."""
    if backend is None:
        return True
    return backend == "local" and not settings.backend_config_files and \
        not {"path", "workspace_dir"} & set(settings.backend_config)


def backend_settings(backend, settings, state_dir):
    """Backend config for init: an explicit local backend keeps its state in the state dir unless told otherwise."""
    config = dict(settings.backend_config)
    if backend == "local" and owns_local_state(backend, settings):
        config.update(path=state_file(state_dir, "default"), workspace_dir=os.path.join(state_dir, WORKSPACE_DIR))
    return config


def local_backend_paths(backend, settings):
    """Folders of a local backend's state that ``backend_config`` puts outside the state dir (the sandbox shows
    them to the run)."""
    if backend != "local":
        return []
    folders = []
    if settings.backend_config.get("path"):
        folders.append(os.path.dirname(os.path.abspath(os.path.expanduser(str(settings.backend_config["path"])))))
    if settings.backend_config.get("workspace_dir"):
        folders.append(os.path.abspath(os.path.expanduser(str(settings.backend_config["workspace_dir"]))))
    return folders


def init_fingerprint(settings, files, backend_config, binary_path, lock_file, locations):
    """Everything whose change needs a new ``init``: binary, configuration, lock file, backend settings, providers."""
    digest = hashlib.sha256()
    stat = os.stat(binary_path)
    digest.update(f"{binary_path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{settings.workspace}\0".encode())
    digest.update(json.dumps(backend_config, sort_keys=True, default=str).encode())
    digest.update(json.dumps([settings.plugin_dirs, settings.plugin_cache_dir, locations.cli_config]).encode())
    for path in [*files, lock_file, *settings.backend_config_files,
                 *([locations.cli_config] if locations.cli_config else [])]:
        digest.update(f"\0{path}\0{_digest(path)}".encode())
    return digest.hexdigest()


def resolve_binary(binary):
    found = shutil.which(os.path.expanduser(binary))
    if not found:
        raise TridentError(f"{binary!r} was not found (install terraform or tofu, or give its path in 'binary')")
    return os.path.realpath(found)


def validate(settings, repository):
    """Check every setting before anything is written; ``repository`` is the repository's sandbox."""
    project = os.path.realpath(settings.project_path)
    if not os.path.isdir(project):
        raise TridentError(f"project_path {settings.project_path} is not a directory")
    repository.resolve(settings.project_path)  # the root module lies in the repository
    if not workdir.config_files(project):
        raise TridentError(f"project_path {settings.project_path} holds no *.tf or *.tf.json file")
    if settings.state == "absent" and settings.drift_only:
        raise TridentError("drift_only and state=absent cannot be combined: a drift check changes nothing")
    if settings.phase != "full" and settings.drift_only:
        raise TridentError("drift_only plans without applying: it takes no phase")
    if settings.saved_plan and settings.phase != "apply":
        raise TridentError("saved_plan is read by phase=apply only")
    if settings.sandbox not in (bubblewrap.BUBBLEWRAP, bubblewrap.NONE):
        raise TridentError(f"sandbox must be {bubblewrap.BUBBLEWRAP} or {bubblewrap.NONE}, not {settings.sandbox!r}")
    if settings.state_dir:
        state_dir = os.path.realpath(os.path.expanduser(settings.state_dir))
        if state_dir == project or state_dir.startswith(project + os.sep) or repository.contains(state_dir):
            raise TridentError("state_dir must be outside the repository: nothing a run writes may live in the "
                               "checkout")
    for path in workdir.config_files(project):
        confine(path, settings.project_path)  # a *.tf symlinked out of the checkout is refused
    for path in [*settings.variables_files, *settings.backend_config_files,
                 *([settings.cli_config_file] if settings.cli_config_file else [])]:
        # A file inside a checkout cannot lead out of it; one the user names outside any checkout is theirs.
        if not os.path.isfile(confine(path)):
            raise TridentError(f"file not found: {path}")
    for path in settings.plugin_dirs:
        if not os.path.isdir(confine(path)):
            raise TridentError(f"plugin_dirs: {path} is not a directory")
    for option in ("sandbox_read_paths", "sandbox_write_paths"):
        for path in getattr(settings, option):
            if not os.path.lexists(os.path.expanduser(path)):
                raise TridentError(f"{option}: {path} does not exist")
    for path in settings.sandbox_write_paths:
        real = os.path.realpath(os.path.expanduser(path))
        if repository.contains(real) or Sandbox(real).contains(repository.root):
            raise TridentError(f"sandbox_write_paths: {path} holds or is inside the repository: nothing a run "
                               "writes may live in the checkout")


def reconcile(settings, runner):
    """Init if needed, plan, guard and (unless check mode or drift_only) apply exactly the plan made."""
    repository = workdir.repository_of(settings.project_path, settings.repo_path)
    validate(settings, repository)
    binary = resolve_binary(settings.binary)
    locations = provider_locations(settings, runner.env)
    refuse_repository_paths(settings, binary, locations, repository)
    files = workdir.config_files(settings.project_path)
    backend = backend_type(files)
    if settings.backend_config and backend is None:
        raise TridentError("backend_config was given, but the configuration declares no backend block")
    bwrap = bubblewrap.bwrap_binary() if settings.sandbox == bubblewrap.BUBBLEWRAP else None
    state_dir = os.path.expanduser(settings.state_dir or default_state_dir(settings.project_path, settings.workspace))
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    state_dir = os.path.realpath(state_dir)
    lock_seconds = parse_duration(settings.lock_timeout)
    with interruptible(), \
            file_lock(os.path.join(state_dir, ".trident.lock"), timeout=lock_seconds, what="the terraform state dir"):
        remove_leftover_runs(state_dir, keep_saved_plan=settings.saved_plan)
        with private_tempdir(prefix=RUN_PREFIX, parent=state_dir) as scratch:
            run = _Run(settings, runner, _Context(binary=binary, backend=backend, state_dir=state_dir,
                                                  repository=repository, locations=locations, bwrap=bwrap,
                                                  scratch=scratch))
            if settings.phase == "apply":
                return run.apply_saved()
            return run.execute()


def remove_leftover_runs(state_dir, keep_saved_plan=False):
    """Private run folders (var files with secrets, plan files) left by a run killed outright (SIGKILL).

    Called under the state dir's lock: no other run can be using them, except the saved plan that this
    phase=apply is about to apply.
    """
    for name in os.listdir(state_dir):
        if name.startswith(RUN_PREFIX) or (name == SAVED_PLAN_DIR and not keep_saved_plan):
            shutil.rmtree(os.path.join(state_dir, name), ignore_errors=True)


def read_record(state_dir, workspace):
    """``{revision, tree}`` recorded for ``workspace`` in the state dir, None when there is none."""
    try:
        with open(os.path.join(state_dir, RECORD_FILE), encoding="utf-8") as handle:
            found = json.load(handle).get(workspace)
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, dict) and found.get("revision") and found.get("tree") else None


def write_record(state_dir, workspace, record):
    """Record ``{revision, tree}`` for ``workspace``; True when it changed."""
    path = os.path.join(state_dir, RECORD_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        document = {}
    document = document if isinstance(document, dict) else {}
    document[workspace] = {"revision": str(record["revision"]), "tree": str(record["tree"])}
    return atomic_write(path, json.dumps(document, indent=1, sort_keys=True).encode())


def read_masked_outputs(state_dir, workspace):
    """The outputs a secret reached at the last plan of ``workspace`` (names only)."""
    try:
        with open(os.path.join(state_dir, MASKED_OUTPUTS_FILE), encoding="utf-8") as handle:
            found = json.load(handle).get(workspace)
    except (OSError, ValueError, AttributeError):
        return frozenset()
    return frozenset(name for name in found if isinstance(name, str)) if isinstance(found, list) else frozenset()


def write_masked_outputs(state_dir, workspace, names):
    """Keep the names of the outputs a secret reaches for ``workspace``, for runs not given the secrets."""
    path = os.path.join(state_dir, MASKED_OUTPUTS_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        document = {}
    document = document if isinstance(document, dict) else {}
    if document.get(workspace) != sorted(names):
        document[workspace] = sorted(names)
        atomic_write(path, json.dumps(document, indent=1, sort_keys=True).encode())


def saved_plan_file(state_dir):
    """The plan phase=plan saved in ``state_dir``; fails when it is not there (nothing is applied then)."""
    plan_file = os.path.join(state_dir, SAVED_PLAN_DIR, "plan.tfplan")
    if not os.path.isfile(plan_file):
        raise TridentError(f"no saved plan in {state_dir} (another run on this state dir removed it, or none was "
                           "made); nothing was applied, run plan and apply again")
    return plan_file


@dataclass(frozen=True)
class _Context:
    """What one run resolved before it started: the binary, backend, folders and provider locations."""

    binary: str
    backend: str | None
    state_dir: str
    repository: object
    locations: object
    bwrap: str | None
    scratch: str


class _Run:
    """One reconcile of one project; the small methods each run one Terraform command."""

    def __init__(self, settings, runner, context):
        self.settings = settings
        self.runner = runner
        self.context = context
        self.plan_document = None  # the masked show -json, when settings.plan_json asks for it
        self.binary = context.binary
        self.backend = context.backend
        self.state_dir = context.state_dir
        self.data_dir = os.path.join(self.state_dir, "data")
        self.work_root = os.path.join(self.state_dir, WORK_DIR)
        self.project_copy = None
        self.committed_lock = False
        # Module folders the program check read (real paths).
        self.checked = set()
        self.env = {"TF_DATA_DIR": self.data_dir, "TF_WORKSPACE": settings.workspace, "TF_IN_AUTOMATION": "1",
                    "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
        if context.locations.cli_config:
            self.env["TF_CLI_CONFIG_FILE"] = context.locations.cli_config
        if settings.plugin_cache_dir:
            self.env["TF_PLUGIN_CACHE_DIR"] = os.path.abspath(os.path.expanduser(settings.plugin_cache_dir))
        if context.bwrap:
            self.env["TMPDIR"] = bubblewrap.SANDBOX_TMP  # the controller's TMPDIR is not there
        # The implicit local backend cannot be configured: its state path is given per command (-state).
        self.state_args = [f"-state={state_file(self.state_dir, settings.workspace)}"] if self.backend is None else []
        self.local_state = state_file(self.state_dir, settings.workspace) \
            if owns_local_state(self.backend, settings) else None
        self.secrets = Secrets.of(settings.variables)
        self.text_secrets = text_secrets([settings.variables, settings.backend_config])

    # --- what the sandbox shows -------------------------------------------------------------------------

    def _view(self, init=False):
        """The sandbox of one command. A check-mode run can write only its scratch folder (and, for init, the
        data dir, the copy's lock file and the plugin caches): a preview never changes the state or a record."""
        locations = self.context.locations
        readable = [self.binary, self.state_dir, *locations.readable, *self.settings.variables_files,
                    *self.settings.backend_config_files, *self.settings.sandbox_read_paths,
                    *self.settings.sandbox_write_paths]
        backend_folders = local_backend_paths(self.backend, self.settings)
        caches = list(locations.caches) if init else []
        readable += list(locations.caches)
        if self.settings.check_mode:
            readable += backend_folders
            writable = [self.context.scratch, *caches]
            if init:
                writable += [self.data_dir, self.project_copy, *self._workspaces()]
        else:
            writable = [self.state_dir, *backend_folders, *caches, *self.settings.sandbox_write_paths]
        return bubblewrap.View(readable=tuple(readable), writable=tuple(writable),
                               programs=self.settings.allow_programs)

    def _workspaces(self):
        """The local backend's workspace folder in the state dir, where init creates a new workspace's state
        (made here, so that the sandbox can show it writable to a check-mode init)."""
        if self.backend != "local" or not self.local_state:
            return []
        folder = os.path.join(self.state_dir, WORKSPACE_DIR)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        return [folder]

    # --- the run ----------------------------------------------------------------------------------------

    def execute(self):
        recorded = read_record(self.state_dir, self.settings.workspace)
        saving = self.settings.phase == "plan" and not self.settings.check_mode
        # A plan kept for phase=apply lives in its own 0700 folder; any other plan dies with the scratch folder.
        folder = _fresh_private_dir(os.path.join(self.state_dir, SAVED_PLAN_DIR)) if saving else self.context.scratch
        kept = False
        try:
            self._stage()
            self._check_local_modules()
            initialized = self._init_if_needed()
            self._check_installed_modules()
            plan_file = os.path.join(folder, "plan.tfplan")
            plan = self._plan(plan_file)
            changed = bool(plan.resource_drift) if self.settings.drift_only else plan.has_changes
            verdict, refusal = self._judge(plan)
            applied = changed and self.settings.phase == "full" and not (self.settings.check_mode
                                                                         or self.settings.drift_only)
            if applied:
                self._apply(plan_file, guard.creates(plan))
            kept = saving and changed
            if kept:
                atomic_write(os.path.join(folder, SAVED_CREATES), json.dumps(guard.creates(plan)).encode())
            # A plan that was not applied tells the outputs it would produce; otherwise the state does.
            outputs = plan.outputs if changed and not applied else self._outputs()
            written = self.settings.phase == "full" and self._record()
            return Outcome(changed=changed, plan=plan, outputs=outputs, applied=applied, initialized=initialized,
                           state_dir=self.state_dir, plan_file=plan_file if kept else None, recorded=recorded,
                           record_written=written, verdict=verdict, refusal=refusal, sandbox=self.settings.sandbox,
                           plan_json=self.plan_document)
        finally:
            if saving and not kept:
                shutil.rmtree(folder, ignore_errors=True)

    def apply_saved(self):
        """phase=apply: apply exactly the saved plan (if any), remove it whatever happens, then record."""
        recorded = read_record(self.state_dir, self.settings.workspace)
        saved = self.settings.saved_plan
        if saved and not self.settings.check_mode:
            plan_file = saved_plan_file(self.state_dir)
            try:
                self._stage()
                self._apply(plan_file, _load_json(os.path.join(os.path.dirname(plan_file), SAVED_CREATES)) or ())
            finally:
                shutil.rmtree(os.path.dirname(plan_file), ignore_errors=True)
        written = self._record()
        applied = saved and not self.settings.check_mode
        return Outcome(changed=saved, plan=Plan(), outputs=self._outputs(), applied=applied,
                       initialized=False, state_dir=self.state_dir, recorded=recorded, record_written=written,
                       sandbox=self.settings.sandbox)

    def _judge(self, plan):
        """The destroy guard: raise outside check mode; in check mode, return the refusal as a line instead."""
        unfinished = guard.read_unfinished(self.state_dir, self.settings.workspace)
        verdict = guard.judge(plan, self.settings.allow_destroy, unfinished)
        if unfinished and not (self.settings.check_mode or self.settings.drift_only):
            # Only creates that are still tainted stay this module's own: the rest finished or were untainted.
            tainted = {change.address for change in plan.destructive if change.reason == guard.TAINTED}
            guard.write_unfinished(self.state_dir, self.settings.workspace,
                                   [address for address in unfinished if address in tainted])
        if not verdict.refuses:
            return verdict, None
        if self.settings.check_mode:
            return verdict, guard.would_refuse(plan, verdict)
        project = self.context.repository.display(os.path.realpath(self.settings.project_path))
        project = None if os.path.isabs(project) else project  # never a controller path in a message
        raise TridentError(guard.refusal(plan, verdict, os.path.basename(self.binary), self.state_dir, project),
                           summary=plan.summary.to_dict(), refused=True,
                           resource_changes=[change.to_dict(verdict) for change in plan.resource_changes])

    def _record(self):
        """Write the deployed revision after a successful apply (never in check mode or for a drift check)."""
        if not self.settings.record or self.settings.check_mode or self.settings.drift_only:
            return False
        return write_record(self.state_dir, self.settings.workspace, self.settings.record)

    def _stage(self):
        """Copy the configuration into the work dir and put the lock file that applies into the copy."""
        self.project_copy = workdir.stage(self.settings.project_path, self.context.repository, self.work_root)
        if self.backend is None and os.path.isfile(self.local_state):
            # init reads the implicit local backend's state from its working directory, to install the providers
            # only the state still needs (a resource removed from the configuration): show it ours there.
            link = os.path.join(self.project_copy, os.path.relpath(self.local_state, self.state_dir))
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if os.path.isdir(link) and not os.path.islink(link):
                shutil.rmtree(link)
            elif os.path.lexists(link):
                os.unlink(link)  # a state file committed to the repository: ours is the one
            os.symlink(self.local_state, link)
        committed = os.path.join(os.path.realpath(self.settings.project_path), workdir.LOCK_FILE)
        self.committed_lock = os.path.isfile(committed)
        if not self.committed_lock:
            copy_lock = os.path.join(self.project_copy, workdir.LOCK_FILE)
            ours = os.path.join(self.state_dir, PROVIDER_LOCK)
            if os.path.isfile(ours):
                shutil.copy2(ours, copy_lock)
            elif os.path.lexists(copy_lock):
                os.unlink(copy_lock)

    def _command(self, *args, init=False):
        """Run one Terraform command on the copy (sandboxed unless the operator said otherwise); callers check rc."""
        argv = [self.binary, f"-chdir={self.project_copy}", *args]
        if not self.context.bwrap:
            return self.runner(argv, cwd=self.context.scratch, env=self.env, check=False)
        wrapped = bubblewrap.command(argv, self._view(init), self.context.scratch, self.context.bwrap)
        result = self.runner(wrapped, cwd=self.context.scratch, env=self.env, check=False, new_session=True)
        problem = bubblewrap.failure(result)
        if problem:
            raise TridentError(bubblewrap.unavailable(problem))
        return result

    def _init_if_needed(self):
        backend_config = backend_settings(self.backend, self.settings, self.state_dir)
        fingerprint_path = os.path.join(self.state_dir, "init.fingerprint")
        lock_file = os.path.join(self.project_copy, workdir.LOCK_FILE)
        files = [path for folder in workdir.reached_folders(self.project_copy, Sandbox(self.work_root))
                 for path in workdir.config_files(folder)]
        fingerprint = init_fingerprint(self.settings, files, backend_config, self.binary, lock_file,
                                       self.context.locations)
        if _read(fingerprint_path) == fingerprint and os.path.isdir(self.data_dir):
            return False
        args = ["init", "-input=false", "-no-color", "-reconfigure"]
        if self.committed_lock:
            # A lock file from the checkout is the truth: never rewritten, init fails if it does not match.
            args.append("-lockfile=readonly")
        args += [f"-backend-config={path}" for path in self.settings.backend_config_files]
        # -plugin-dir makes init install providers only from these folders (an air-gapped mirror).
        args += [f"-plugin-dir={os.path.abspath(path)}" for path in self.settings.plugin_dirs]
        if backend_config:
            # A file, not argv: backend settings may hold credentials.
            config_path = os.path.join(self.context.scratch, "backend.tfbackend.json")
            atomic_write(config_path, json.dumps(backend_config).encode())
            args.append(f"-backend-config={config_path}")
        # Without providers or modules init creates no data dir; it must exist to show init happened.
        os.makedirs(self.data_dir, exist_ok=True)
        self._checked(self._command(*args, init=True), "init")
        if not self.committed_lock and not self.settings.check_mode and os.path.isfile(lock_file):
            # The lock file init wrote is kept in the state dir; a preview's (a branch's) is not.
            shutil.copy2(lock_file, os.path.join(self.state_dir, PROVIDER_LOCK))
        atomic_write(fingerprint_path, init_fingerprint(self.settings, files, backend_config, self.binary,
                                                        lock_file, self.context.locations).encode())
        return True

    def _refuse_programs(self, folders):
        """Refuse the configuration if a module in ``folders`` (real path -> name shown) runs programs, unless the
        operator allows them."""
        if self.settings.allow_programs:
            return
        found = []
        for folder, name in folders.items():
            for path in workdir.config_files(folder):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    found += find_programs(handle.read(), name(path))
        if found:
            raise TridentError("refusing a configuration that runs programs on the controller: "
                               + "; ".join(construct.describe() for construct in found)
                               + "; nothing was planned (the operator allows programs per environment: "
                               "allow_programs, the terraform role's terraform_allow_programs; env.yml cannot set "
                               "it)")

    def _check_local_modules(self):
        """Before init: the root module and the local modules its literal sources reach (the copy) run no program."""
        copy = Sandbox(self.work_root)
        self.checked = set(workdir.reached_folders(self.project_copy, copy))
        self._refuse_programs({folder: copy.display for folder in self.checked})

    def _check_installed_modules(self):
        """After init: every module it installed stays in the copy or the data dir, and runs no program. This also
        covers a local module the literal sources did not name (OpenTofu evaluates a source early)."""
        modules = _load_json(os.path.join(self.data_dir, "modules", "modules.json")) or {}
        entries = modules.get("Modules") if isinstance(modules, dict) else None
        copy = Sandbox(self.work_root)
        downloads = os.path.realpath(os.path.join(self.data_dir, "modules")) + os.sep
        unchecked = {}
        for entry in entries or []:
            if not (isinstance(entry, dict) and entry.get("Key") and entry.get("Dir")):
                continue  # the root module (Key "")
            folder = os.path.realpath(os.path.join(self.project_copy, entry["Dir"]))
            label = f"module {entry['Key']} ({entry.get('Source') or '?'})"
            if not (copy.contains(folder) or folder.startswith(downloads)):
                raise TridentError(f"{label}: its folder leads outside the repository; nothing was planned")
            if folder not in self.checked:
                unchecked[folder] = copy.display if copy.contains(folder) else \
                    (lambda path, label=label: f"{label} {os.path.basename(path)}")
        self._refuse_programs(unchecked)
        self.checked.update(unchecked)

    def _plan(self, plan_file):
        args = ["plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={plan_file}",
                f"-lock-timeout={self.settings.lock_timeout}", *self.state_args, *self._parallelism()]
        if self.settings.check_mode and (self.local_state or self.backend == "local"):
            # A preview's sandbox shows a local state read-only (the state dir's, or the folder backend_config
            # names): Terraform could not take its lock there, and the kernel already keeps the preview from
            # writing the state. The state dir's own lock keeps this controller's runs apart.
            args.append("-lock=false")
        if self.settings.drift_only:
            args.append("-refresh-only")
        if self.settings.state == "absent":
            args.append("-destroy")
        args += [f"-target={target}" for target in self.settings.targets]
        args += [f"-var-file={path}" for path in self.settings.variables_files]
        variables = {**self.settings.plain_variables, **self.settings.variables}
        if variables:
            # Last, so these win over the variables files, like -var after -var-file.
            vars_path = os.path.join(self.context.scratch, "trident.tfvars.json")
            atomic_write(vars_path, json.dumps(variables, ensure_ascii=False).encode())
            args.append(f"-var-file={vars_path}")
        result = self._command(*args)
        if result.rc != _PLAN_HAS_CHANGES:
            self._checked(result, "plan")
            if not self.settings.variables and not self.settings.plan_json:
                # rc 0: nothing to change, and no need for a second process to read the plan.
                return Plan()
        # With secret variables the plan's configuration tells which outputs they reach, even without changes.
        shown = self._checked(self._command("show", "-json", "-no-color", plan_file), "show")
        try:
            document = json.loads(shown.stdout)
            plan = parse_plan(document, self.secrets)
            if self.settings.plan_json:
                self.plan_document = policy_document(document, self.secrets)
        except ValueError:
            raise TridentError(f"{os.path.basename(self.binary)} show -json did not print JSON") from None
        write_masked_outputs(self.state_dir, self.settings.workspace, plan.masked_outputs)
        return plan if result.rc == _PLAN_HAS_CHANGES else Plan(masked_outputs=plan.masked_outputs)

    def _apply(self, plan_file, creating):
        """Apply ``plan_file``; until it succeeds, what it creates is recorded as this module's unfinished creates."""
        workspace = self.settings.workspace
        if creating:
            guard.write_unfinished(self.state_dir, workspace,
                                   [*guard.read_unfinished(self.state_dir, workspace), *creating])
        self._checked(self._command("apply", "-input=false", "-no-color", f"-lock-timeout={self.settings.lock_timeout}",
                                    *self.state_args, *self._parallelism(), plan_file), "apply")
        guard.write_unfinished(self.state_dir, workspace, [])

    def _outputs(self):
        masked = read_masked_outputs(self.state_dir, self.settings.workspace)
        if self.local_state:
            # The state file we own holds the outputs: no extra process on a no-op run.
            try:
                with open(self.local_state, encoding="utf-8") as handle:
                    return mask_outputs(json.load(handle).get("outputs"), self.secrets, masked)
            except FileNotFoundError:
                return {}
        if self.project_copy is None:
            self._stage()
        shown = self._checked(self._command("output", "-json", "-no-color"), "output")
        return mask_outputs(json.loads(shown.stdout or "{}"), self.secrets, masked)

    def _parallelism(self):
        return [f"-parallelism={self.settings.parallelism}"] if self.settings.parallelism else []

    def _checked(self, result, step):
        if result.rc == 0:
            return result
        detail = (result.stderr or result.stdout or "").strip()
        name = os.path.basename(self.binary)
        message = f"{name} {step} failed (rc={result.rc}); nothing was applied" if step != "apply" else \
            f"{name} apply failed (rc={result.rc}); the state records what was applied before the error"
        detail = mask_text(without_values(detail), self.text_secrets)
        hint = provider_download_hint(detail) if step == "init" else ""
        raise TridentError(f"{message}:\n{_tail(detail)}{hint}", rc=result.rc)


# What terraform and tofu init print when a provider cannot be downloaded (the registry or a mirror unreachable).
_PROVIDER_DOWNLOAD_FAILURES = ("Failed to query available provider packages", "Failed to resolve provider packages",
                               "Failed to install provider",
                               "could not connect to registry", "Failed to retrieve available versions",
                               "Invalid provider registry host", "failed to request discovery document")


def provider_download_hint(detail):
    """What to do when init could not download a provider: where providers come from is the operator's setting."""
    words = " ".join(detail.split()).lower()  # both wrap their messages at 80 columns
    if not any(marker.lower() in words for marker in _PROVIDER_DOWNLOAD_FAILURES):
        return ""
    return ("\nThe providers could not be downloaded. Providers come from the public registry unless the operator "
            "says otherwise: a CLI configuration with a provider_installation mirror (the terraform role's "
            "terraform_cli_config_file, terraform_apply's cli_config_file) or provider folders "
            "(terraform_plugin_dirs, plugin_dirs); commit the module's .terraform.lock.hcl. "
            "See docs/terraform_apply.md.")


def _fresh_private_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.mkdir(path, 0o700)
    return path


def _tail(text, limit=4000):
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _load_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _digest(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None
