"""Plan, guard and apply one Terraform/OpenTofu root module, with everything a run writes kept out of it.

The project directory is a Git checkout: Terraform's data dir (``TF_DATA_DIR``), the default local
state, plan files and our own lock live in a per-project state directory instead. Variables go
through a private ``*.tfvars.json`` (never argv) in a 0700 temporary directory that is always removed,
together with the plan file (a plan file holds variable values too).

``variables`` are secret (decrypted SOPS values): what they reach is masked (terraform/plan.py), their
values long enough to be searched for are masked in Terraform's messages, and the lines in which Terraform
quotes a variable's value in a diagnostic are left out whatever the value. ``plain_variables`` are not secret.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import CACHE_DIR
from ansible_collections.trident.gitops.plugins.module_utils.common.command import interruptible
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write, private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import confine
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask_text, text_secrets
from ansible_collections.trident.gitops.plugins.module_utils.terraform.plan import Plan, Secrets, mask_outputs, parse_plan

DEFAULT_STATE_ROOT = os.path.join(CACHE_DIR, "terraform")
# The private folder of one run in the state dir: var files, backend settings, the plan file.
RUN_PREFIX = ".run-"
# The private folder of the plan phase=plan saves for phase=apply (it may hold secrets). A fixed name, not a
# path handed back and forth: Ansible masks no_log values in returned strings, a random name included.
SAVED_PLAN_DIR = ".plan-saved"
# The Git revision a Terraform-only environment was last deployed from, per workspace.
RECORD_FILE = "deployed-revision.json"
# The outputs a secret reaches, per workspace, for a run that is not given the secrets (phase=apply).
MASKED_OUTPUTS_FILE = "masked-outputs.json"
# A diagnostic's expression context: the lines under "├────" that tell a value ("│ var.password is "..."").
# A diagnostic's source lines ("  1: {"password": "..."}") when they are from a file of our private run folder.
_PRIVATE_SNIPPET = re.compile(r"^((?:[ \t]*│)?[ \t]*on [^\n]*/" + re.escape(RUN_PREFIX) + r"[^\n]* line \d+[^\n]*\n)"
                              r"(?:(?:[ \t]*│)?[ \t]*\d+:.*(?:\n|$))+", re.MULTILINE)
_VALUE_CONTEXT = re.compile(r"^(?:[ \t]*│)?[ \t]*├─+[ \t]*(?:\n|$)(?:(?:[ \t]*│)?[ \t]+│.*(?:\n|$))*", re.MULTILINE)
LOCK_FILE = ".terraform.lock.hcl"
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

    def to_result(self, diff=False):
        result = {
            "changed": self.changed,
            "applied": self.applied,
            "initialized": self.initialized,
            "state_dir": self.state_dir,
            "summary": self.plan.summary.to_dict(),
            "resource_changes": [change.to_dict() for change in self.plan.resource_changes],
            "resource_drift": [change.to_dict() for change in self.plan.resource_drift],
            "outputs": self.outputs,
            "plan_file": self.plan_file,
            "recorded": self.recorded,
            "record_written": self.record_written,
        }
        if diff:
            result["diff"] = [change.to_diff() for change in self.plan.resource_changes or self.plan.resource_drift]
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


def config_files(project_path):
    """The root module's configuration files (Terraform reads only the top level of the directory)."""
    return sorted(glob.glob(os.path.join(project_path, "*.tf")) + glob.glob(os.path.join(project_path, "*.tf.json")))


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


def init_fingerprint(settings, files, backend_config, binary_path):
    """Everything whose change needs a new ``init``: binary, configuration, lock file, backend settings."""
    digest = hashlib.sha256()
    stat = os.stat(binary_path)
    digest.update(f"{binary_path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{settings.workspace}\0".encode())
    digest.update(json.dumps(backend_config, sort_keys=True, default=str).encode())
    digest.update(json.dumps([settings.plugin_dirs, settings.plugin_cache_dir]).encode())
    for path in [*files, os.path.join(settings.project_path, LOCK_FILE), *settings.backend_config_files,
                 *([settings.cli_config_file] if settings.cli_config_file else [])]:
        digest.update(f"\0{path}\0{_digest(path)}".encode())
    return digest.hexdigest()


def resolve_binary(binary):
    found = shutil.which(os.path.expanduser(binary))
    if not found:
        raise TridentError(f"{binary!r} was not found (install terraform or tofu, or give its path in 'binary')")
    return os.path.realpath(found)


def validate(settings):
    project = os.path.realpath(settings.project_path)
    if not os.path.isdir(project):
        raise TridentError(f"project_path {settings.project_path} is not a directory")
    if not config_files(project):
        raise TridentError(f"project_path {settings.project_path} holds no *.tf or *.tf.json file")
    if settings.state == "absent" and settings.drift_only:
        raise TridentError("drift_only and state=absent cannot be combined: a drift check changes nothing")
    if settings.phase != "full" and settings.drift_only:
        raise TridentError("drift_only plans without applying: it takes no phase")
    if settings.saved_plan and settings.phase != "apply":
        raise TridentError("saved_plan is read by phase=apply only")
    if settings.state_dir:
        state_dir = os.path.realpath(os.path.expanduser(settings.state_dir))
        if state_dir == project or state_dir.startswith(project + os.sep):
            raise TridentError("state_dir must be outside project_path: nothing a run writes may live in the checkout")
    for path in config_files(project):
        confine(path, settings.project_path)  # a *.tf symlinked out of the checkout is refused
    for path in [*settings.variables_files, *settings.backend_config_files,
                 *([settings.cli_config_file] if settings.cli_config_file else [])]:
        # A file inside a checkout cannot lead out of it; one the user names outside any checkout is theirs.
        if not os.path.isfile(confine(path)):
            raise TridentError(f"file not found: {path}")
    for path in settings.plugin_dirs:
        if not os.path.isdir(confine(path)):
            raise TridentError(f"plugin_dirs: {path} is not a directory")


def provider_env(settings):
    """Where this run's Terraform finds providers: its own CLI configuration and plugin cache, if given.

    Per run, not per controller: environments with different mirrors or registries share one controller.
    """
    env = {}
    if settings.cli_config_file:
        env["TF_CLI_CONFIG_FILE"] = os.path.abspath(os.path.expanduser(settings.cli_config_file))
    if settings.plugin_cache_dir:
        env["TF_PLUGIN_CACHE_DIR"] = os.path.abspath(os.path.expanduser(settings.plugin_cache_dir))
    return env


def reconcile(settings, runner):
    """Init if needed, plan, guard and (unless check mode or drift_only) apply exactly the plan made."""
    validate(settings)
    binary = resolve_binary(settings.binary)
    files = config_files(settings.project_path)
    backend = backend_type(files)
    if settings.backend_config and backend is None:
        raise TridentError("backend_config was given, but the configuration declares no backend block")
    state_dir = os.path.expanduser(settings.state_dir or default_state_dir(settings.project_path, settings.workspace))
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    lock_seconds = parse_duration(settings.lock_timeout)
    with interruptible(), \
            file_lock(os.path.join(state_dir, ".trident.lock"), timeout=lock_seconds, what="the terraform state dir"):
        remove_leftover_runs(state_dir, keep_saved_plan=settings.saved_plan)
        run = _Run(settings, runner, binary, files, backend, state_dir)
        if settings.phase == "apply":
            return run.apply_saved()
        with private_tempdir(prefix=RUN_PREFIX, parent=state_dir) as scratch:
            return run.execute(scratch)


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


class _Run:
    """One reconcile of one project; the small methods each run one Terraform command."""

    def __init__(self, settings, runner, binary, files, backend, state_dir):
        self.settings = settings
        self.runner = runner
        self.binary = binary
        self.files = files
        self.backend = backend
        self.state_dir = state_dir
        self.data_dir = os.path.join(state_dir, "data")
        self.env = {"TF_DATA_DIR": self.data_dir, "TF_WORKSPACE": settings.workspace, "TF_IN_AUTOMATION": "1",
                    "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1", **provider_env(settings)}
        # The implicit local backend cannot be configured: its state path is given per command (-state).
        self.state_args = [f"-state={state_file(state_dir, settings.workspace)}"] if backend is None else []
        self.local_state = state_file(state_dir, settings.workspace) if owns_local_state(backend, settings) else None
        self.secrets = Secrets.of(settings.variables)
        self.text_secrets = text_secrets([settings.variables, settings.backend_config])

    def execute(self, scratch):
        leftovers = self._workspace_dirs_absent()
        recorded = read_record(self.state_dir, self.settings.workspace)
        saving = self.settings.phase == "plan" and not self.settings.check_mode
        # A plan kept for phase=apply lives in its own 0700 folder; any other plan dies with the scratch folder.
        folder = _fresh_private_dir(os.path.join(self.state_dir, SAVED_PLAN_DIR)) if saving else scratch
        kept = False
        try:
            initialized = self._init_if_needed(scratch)
            self._check_local_modules()
            plan_file = os.path.join(folder, "plan.tfplan")
            plan = self._plan(scratch, plan_file)
            changed = bool(plan.resource_drift) if self.settings.drift_only else plan.has_changes
            if plan.destructive and not self.settings.allow_destroy:
                raise TridentError(_refusal(plan, os.path.basename(self.binary), self.state_dir),
                                   summary=plan.summary.to_dict(),
                                   resource_changes=[change.to_dict() for change in plan.resource_changes])
            applied = changed and self.settings.phase == "full" and not (self.settings.check_mode
                                                                         or self.settings.drift_only)
            if applied:
                self._apply(plan_file)
            kept = saving and changed
            # A plan that was not applied tells the outputs it would produce; otherwise the state does.
            outputs = plan.outputs if changed and not applied else self._outputs()
            written = self.settings.phase == "full" and self._record()
            return Outcome(changed=changed, plan=plan, outputs=outputs, applied=applied, initialized=initialized,
                           state_dir=self.state_dir, plan_file=plan_file if kept else None, recorded=recorded,
                           record_written=written)
        finally:
            if saving and not kept:
                shutil.rmtree(folder, ignore_errors=True)
            _remove_empty(leftovers)

    def apply_saved(self):
        """phase=apply: apply exactly the saved plan (if any), remove it whatever happens, then record."""
        recorded = read_record(self.state_dir, self.settings.workspace)
        saved = self.settings.saved_plan
        if saved and not self.settings.check_mode:
            plan_file = saved_plan_file(self.state_dir)
            try:
                self._apply(plan_file)
            finally:
                shutil.rmtree(os.path.dirname(plan_file), ignore_errors=True)
        written = self._record()
        applied = saved and not self.settings.check_mode
        return Outcome(changed=saved, plan=Plan(), outputs=self._outputs(), applied=applied,
                       initialized=False, state_dir=self.state_dir, recorded=recorded, record_written=written)

    def _record(self):
        """Write the deployed revision after a successful apply (never in check mode or for a drift check)."""
        if not self.settings.record or self.settings.check_mode or self.settings.drift_only:
            return False
        return write_record(self.state_dir, self.settings.workspace, self.settings.record)

    def _workspace_dirs_absent(self):
        """Directories the implicit local backend creates in the project for a non-default workspace.

        With ``-state`` they stay empty; those that did not exist before the run are removed after it.
        """
        if self.backend is not None or self.settings.workspace == "default":
            return []
        base = os.path.join(self.settings.project_path, WORKSPACE_DIR)
        return [path for path in (os.path.join(base, self.settings.workspace), base) if not os.path.exists(path)]

    def _command(self, *args, check=True):
        return self.runner([self.binary, *args], cwd=self.settings.project_path, env=self.env, check=check)

    def _init_if_needed(self, scratch):
        backend_config = backend_settings(self.backend, self.settings, self.state_dir)
        fingerprint_path = os.path.join(self.state_dir, "init.fingerprint")
        fingerprint = init_fingerprint(self.settings, self.files, backend_config, self.binary)
        if _read(fingerprint_path) == fingerprint and os.path.isdir(self.data_dir):
            return False
        args = ["init", "-input=false", "-no-color", "-reconfigure"]
        lock_file = os.path.join(self.settings.project_path, LOCK_FILE)
        ours_path = os.path.join(self.state_dir, "lockfile.written")
        lock_digest = _digest(lock_file)
        if lock_digest is not None and lock_digest != _read(ours_path):
            # A lock file from the checkout is the truth: never rewrite it, fail if it does not match.
            args.append("-lockfile=readonly")
        args += [f"-backend-config={path}" for path in self.settings.backend_config_files]
        # -plugin-dir makes init install providers only from these folders (an air-gapped mirror).
        args += [f"-plugin-dir={os.path.abspath(path)}" for path in self.settings.plugin_dirs]
        if backend_config:
            # A file, not argv: backend settings may hold credentials.
            config_path = os.path.join(scratch, "backend.tfbackend.json")
            atomic_write(config_path, json.dumps(backend_config).encode())
            args.append(f"-backend-config={config_path}")
        # Without providers or modules init creates no data dir; it must exist to show init happened.
        os.makedirs(self.data_dir, exist_ok=True)
        self._checked(self._command(*args, check=False), "init")
        if "-lockfile=readonly" not in args:
            # init wrote (or kept) this lock file itself: a later init may update it.
            atomic_write(ours_path, (_digest(lock_file) or "").encode())
        # The lock file init may just have written is part of the fingerprint.
        atomic_write(fingerprint_path,
                     init_fingerprint(self.settings, self.files, backend_config, self.binary).encode())
        return True

    def _check_local_modules(self):
        """Local module sources (``source = "../x"``) that init recorded stay inside the checkout."""
        try:
            with open(os.path.join(self.data_dir, "modules", "modules.json"), encoding="utf-8") as handle:
                modules = json.load(handle).get("Modules") or []
        except (OSError, ValueError):
            return
        for module in modules:
            if module.get("Dir") and not os.path.isabs(module["Dir"]) and ".terraform" not in module["Dir"]:
                try:
                    confine(os.path.join(self.settings.project_path, module["Dir"]), self.settings.project_path)
                except TridentError as exc:
                    raise TridentError(f"module {module.get('Key') or '?'}: {exc.message}") from None

    def _plan(self, scratch, plan_file):
        args = ["plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={plan_file}",
                f"-lock-timeout={self.settings.lock_timeout}", *self.state_args, *self._parallelism()]
        if self.settings.drift_only:
            args.append("-refresh-only")
        if self.settings.state == "absent":
            args.append("-destroy")
        args += [f"-target={target}" for target in self.settings.targets]
        args += [f"-var-file={path}" for path in self.settings.variables_files]
        variables = {**self.settings.plain_variables, **self.settings.variables}
        if variables:
            # Last, so these win over the variables files, like -var after -var-file.
            vars_path = os.path.join(scratch, "trident.tfvars.json")
            atomic_write(vars_path, json.dumps(variables, ensure_ascii=False).encode())
            args.append(f"-var-file={vars_path}")
        result = self._command(*args, check=False)
        if result.rc != _PLAN_HAS_CHANGES:
            self._checked(result, "plan")
            if not self.settings.variables:
                # rc 0: nothing to change, and no need for a second process to read the plan.
                return Plan()
        # With secret variables the plan's configuration tells which outputs they reach, even without changes.
        shown = self._checked(self._command("show", "-json", "-no-color", plan_file, check=False), "show")
        try:
            plan = parse_plan(json.loads(shown.stdout), self.secrets)
        except ValueError:
            raise TridentError(f"{os.path.basename(self.binary)} show -json did not print JSON") from None
        write_masked_outputs(self.state_dir, self.settings.workspace, plan.masked_outputs)
        return plan if result.rc == _PLAN_HAS_CHANGES else Plan(masked_outputs=plan.masked_outputs)

    def _apply(self, plan_file):
        self._checked(self._command("apply", "-input=false", "-no-color", f"-lock-timeout={self.settings.lock_timeout}",
                                    *self.state_args, *self._parallelism(), plan_file, check=False), "apply")

    def _outputs(self):
        masked = read_masked_outputs(self.state_dir, self.settings.workspace)
        if self.local_state:
            # The state file we own holds the outputs: no extra process on a no-op run.
            try:
                with open(self.local_state, encoding="utf-8") as handle:
                    return mask_outputs(json.load(handle).get("outputs"), self.secrets, masked)
            except FileNotFoundError:
                return {}
        shown = self._checked(self._command("output", "-json", "-no-color", check=False), "output")
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
        raise TridentError(f"{message}:\n{_tail(detail)}", rc=result.rc)


# What each of Terraform's action reasons means for the one who reads a refusal, and what to do.
_REASONS = {
    "replace_because_tainted": "tainted, most likely by an interrupted apply; to keep it, run "
                               "'{binary} untaint {address}' on the state (TF_DATA_DIR and state in {state_dir}); "
                               "to replace it, set allow_destroy: true for one run",
    "replace_because_cannot_update": "a changed argument forces a new resource",
    "replace_by_request": "replacement was requested (-replace)",
    "replace_by_triggers": "replace_triggered_by changed",
    "delete_because_no_resource_config": "no longer in the configuration",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_wrong_repetition": "count/for_each changed its kind",
    "delete_because_count_index": "its count index is gone",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_move_target": "its moved block has no target",
}


def _refusal(plan, binary="terraform", state_dir="the state dir"):
    """The destroy guard's message: every resource with its actions and Terraform's reason for them."""
    listed = "; ".join(f"{change.address} ({'/'.join(change.actions)}: {_reason_text(change, binary, state_dir)})"
                       for change in plan.destructive)
    return (f"refusing to apply a plan that deletes or replaces {len(plan.destructive)} resource(s): {listed}; "
            "nothing was applied (set allow_destroy: true to allow it)")


def _reason_text(change, binary, state_dir):
    if not change.reason:
        return "action_reason not given; a changed argument or a removed resource"
    explained = _REASONS.get(change.reason, "")
    explained = explained.format(binary=binary, address=change.address, state_dir=state_dir)
    return f"action_reason {change.reason}" + (f", {explained}" if explained else "")


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


def _digest(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None


def _remove_empty(paths):
    for path in paths:
        try:
            os.rmdir(path)
        except OSError:
            pass
