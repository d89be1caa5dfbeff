"""Run the real sops binary (fixtures are encrypted by it and our output is compared with its own)."""

import os
import subprocess

from . import tool


class SopsError(RuntimeError):
    pass


def sops(*args, binary="sops", gnupghome=None, age_key_file=None, input_data=None, cwd=None, vault=None):
    """Run ``sops ARGS`` and return stdout bytes; raises SopsError with sops' stderr on failure.

    ``vault``: ``(address, token)`` given to sops as VAULT_ADDR and VAULT_TOKEN (transit keys); the caller's
    own VAULT_* variables never reach it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "VAULT_"))}
    if vault:
        env["VAULT_ADDR"], env["VAULT_TOKEN"] = vault
    if gnupghome:
        env["GNUPGHOME"] = str(gnupghome)
    if age_key_file:
        env["SOPS_AGE_KEY_FILE"] = str(age_key_file)
    proc = subprocess.run([tool(binary), *map(str, args)], input=input_data, env=env, cwd=cwd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SopsError(f"sops {' '.join(map(str, args))} failed ({proc.returncode}): "
                        f"{proc.stderr.decode(errors='replace')}")
    return proc.stdout
