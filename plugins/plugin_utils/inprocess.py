"""Running a module's work inside the Ansible worker instead of a new Python process (issue 17).

Environment hosts are ``ansible_connection: local`` with the controller's Python, so the module process a task
would start (AnsiballZ payload, interpreter start-up, imports, JSON both ways; about 1 s of a 1.2 s kube_diff
task) runs the same code with the same libraries as the worker that starts it. :class:`InProcessAction` is the
base of an action plugin named like its module: where that is sound (:func:`in_process_refusal`) it validates
the task's arguments with the module's argument spec, calls the module's module_utils function and returns what
the module would (``invocation`` with the no_log options masked whole, free text masked as the module masks it,
common/masking.py); anywhere else it runs the module, which stays the reference.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import stat
import sys

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.trident.gitops.plugins.module_utils.common.deps import MissingLibrary
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import (
    masked_arguments, new_key, text_secrets)

display = Display()

# The serialization profile of our modules (they declare none); the in-process arguments and result go through
# the same JSON encoding and decoding as a module's, so they have the same types.
RESULT_PROFILE = "legacy"


def in_process_refusal(transport, become, interpreter, playbook_python, async_val, delegated):
    """Why the task must run the module rather than in the worker, or None when in-process is equivalent:
    a local connection, no become, not async, not delegated, and the host's Python is the controller's
    (unset, ``ansible_playbook_python`` or this process's interpreter, see :func:`same_python`)."""
    if transport != "local":
        return f"connection {transport}"
    if become:
        return "become"
    if async_val:
        return "async"
    if delegated:
        return "delegate_to"
    if interpreter is not None and not any(same_python(interpreter, ours) for ours in (playbook_python, sys.executable)):
        return f"interpreter {interpreter}"
    return None


def same_python(interpreter, ours):
    """Whether ``interpreter`` is the Python ``ours`` names: the same file, reached from the same folder (a
    virtualenv's ``bin/python`` and ``bin/python3``, not the system Python the venv links to)."""
    if not ours or not os.path.isabs(interpreter):
        return False
    return (os.path.dirname(os.path.abspath(interpreter)) == os.path.dirname(os.path.abspath(ours))
            and os.path.realpath(interpreter) == os.path.realpath(ours))


def validation_failure(errors, module_name):
    """The message AnsibleModule fails with for argument ``errors`` (an AnsibleValidationErrorMultiple)."""
    if isinstance(errors[0], UnsupportedError):
        return f"Unsupported parameters for ({module_name}) module: {errors.msg}"
    return errors.msg


def path_info(result):
    """The file attributes AnsibleModule.add_path_info adds for a result's ``path`` or ``dest``."""
    path = result.get("path", result.get("dest"))
    if path is None or not os.path.exists(path):
        return {}
    st = os.lstat(path)
    info = {"uid": st.st_uid, "gid": st.st_gid, "owner": _name(pwd.getpwuid, st.st_uid),
            "group": _name(grp.getgrgid, st.st_gid), "mode": "0%03o" % stat.S_IMODE(st.st_mode)}
    if os.path.islink(path):
        info["state"] = "link"
    elif os.path.isdir(path):
        info["state"] = "directory"
    else:
        info["state"] = "hard" if os.stat(path).st_nlink > 1 else "file"
    info["size"] = st.st_size
    return info


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def module_result(result, echoed, text_values):
    """``result`` as AnsibleModule.exit_json/fail_json returns it for a module that masks as ours do: file
    attributes, ``invocation`` with the ``echoed`` arguments (no_log options masked whole, masking.masked_arguments),
    the ``text_values`` (masking.text_secrets) masked in free text by Ansible's own search (top-level booleans and
    None kept), then through the module's JSON encoding."""
    result = {**result, **path_info(result)}
    result.setdefault("invocation", {"module_args": echoed})
    preserved = {key: value for key, value in result.items() if value is None or isinstance(value, bool)}
    masked = {**remove_values(result, set(text_values)), **preserved}
    text = json.dumps(masked, cls=get_module_encoder(RESULT_PROFILE, Direction.MODULE_TO_CONTROLLER))
    return json.loads(text, cls=get_module_decoder(RESULT_PROFILE, Direction.MODULE_TO_CONTROLLER))


def missing_library_failure(exc):
    """The failure a module reporting with ``deps.report`` returns for a :class:`MissingLibrary`, else None."""
    return {"msg": missing_required_lib(exc.library)} if isinstance(exc, MissingLibrary) else None


def module_arguments(args):
    """The task's arguments as the module would receive them (through the controller-to-module JSON)."""
    text = json.dumps(args, cls=get_module_encoder(RESULT_PROFILE, Direction.CONTROLLER_TO_MODULE))
    return json.loads(text, cls=get_module_decoder(RESULT_PROFILE, Direction.CONTROLLER_TO_MODULE))


@contextlib.contextmanager
def task_environment(environment):
    """The task's ``environment`` keyword in ``os.environ`` while the work runs (a module process gets it in
    its environment); the previous values come back afterwards."""
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update({name: str(value) for name, value in environment.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class InProcessAction(ActionBase):
    """An action plugin that does its module's work in the worker when that is equivalent.

    A subclass sets :attr:`argument_spec` and :attr:`rules` (the module's), :attr:`required_libraries`
    (``(name, import_error)`` pairs the module checks first) and implements :meth:`work`; it may change
    :meth:`secret_values` and :meth:`failure` as its module does.
    """

    _supports_check_mode = True
    _supports_async = True

    argument_spec = None
    rules = {}
    required_libraries = ()

    def work(self, params, check_mode, diff):
        """The module's result for validated ``params``."""
        raise NotImplementedError

    def secret_values(self, params, validated_no_log_values):
        """The secret values given in the arguments (AnsibleModule's ``no_log_values``); those long enough are
        masked in free text (masking.text_secrets)."""
        return list(validated_no_log_values)

    def echoed_arguments(self, params):
        """The arguments the result echoes (``invocation.module_args``): every no_log option masked whole."""
        return masked_arguments(self.argument_spec, params)

    def failure(self, exc):
        """The ``fail_json`` arguments for an exception raised by :meth:`work`, as the module's ``except``s."""
        if isinstance(exc, TridentError):
            return exc.to_fail_kwargs()
        # Its text is left out, as the modules do: it may quote a secret value.
        return {"msg": f"{self._task.action.rsplit('.', 1)[-1]}: unexpected {type(exc).__name__}"}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        refusal = self._refusal(task_vars)
        if refusal:
            display.vvv(f"{self._task.action}: running the module ({refusal})", host=self._play_context.remote_addr)
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        display.vvv(f"{self._task.action}: running in the worker, no module process",
                    host=self._play_context.remote_addr)
        environment = {}
        self._compute_environment_string(environment)
        with task_environment(environment):
            result.update(self._run_in_process())
        return result

    def _refusal(self, task_vars):
        interpreter = task_vars.get("ansible_python_interpreter")
        if interpreter is not None:
            interpreter = self._templar.copy_with_new_env(available_variables=task_vars).template(interpreter)
        return in_process_refusal(self._connection.transport, self._play_context.become, interpreter,
                                  task_vars.get("ansible_playbook_python"), self._task.async_val,
                                  self._task.delegate_to)

    def _run_in_process(self):
        """Validate like AnsibleModule, run :meth:`work`, and shape the result like exit_json/fail_json."""
        validation = ModuleArgumentSpecValidator(self.argument_spec, **self.rules).validate(module_arguments(self._task.args))
        params = validation.validated_parameters
        # A failure before the module's own code runs is AnsibleModule's: its echo, every no_log value searched for.
        if validation.error_messages:
            return module_result({"failed": True, "msg": validation_failure(validation.errors, self._task.action)},
                                 params, validation._no_log_values)
        for library, import_error in self.required_libraries:
            if import_error:
                return module_result({"failed": True, "msg": missing_required_lib(library)}, params,
                                     validation._no_log_values)
        text_values = text_secrets(self.secret_values(params, validation._no_log_values))
        new_key()  # this task's masks, not the controller's (the worker is forked from it)
        try:
            result = self.work(params, self._task.check_mode, self._task.diff)
        except Exception as exc:  # noqa: BLE001 - every error ends as the module's failure, never a traceback
            result = {"failed": True, **self.failure(exc)}
        return module_result(result, self.echoed_arguments(params), text_values)
