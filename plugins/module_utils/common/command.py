"""An injectable command runner: module_utils take one, tests pass a real or a recording one."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


@dataclass(frozen=True)
class CommandResult:
    argv: tuple
    rc: int
    stdout: str
    stderr: str


class CommandRunner:
    """Runs argv lists (never a shell) with a fixed base environment.

    ``redact`` lists strings (tokens, passwords) that must never appear in an error message built
    from a command's output.
    """

    def __init__(self, env=None, redact=()):
        self.env = dict(os.environ if env is None else env)
        self.redact = [value for value in redact if value]

    def __call__(self, argv, cwd=None, env=None, data=None, check=True, binary_output=False):
        full_env = {**self.env, **(env or {})}
        try:
            proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=full_env, input=data,
                                  capture_output=True, text=not binary_output, check=False)
        except FileNotFoundError:
            raise TridentError(f"executable not found: {argv[0]}") from None
        result = CommandResult(tuple(str(a) for a in argv), proc.returncode, proc.stdout, proc.stderr)
        if check and result.rc != 0:
            raise TridentError(self.scrub(f"{os.path.basename(str(argv[0]))} failed (rc={result.rc}): "
                                          f"{_text(result.stderr).strip() or _text(result.stdout).strip()}"),
                               rc=result.rc)
        return result

    def scrub(self, text):
        for value in self.redact:
            text = text.replace(value, "********")
        return text


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else value
