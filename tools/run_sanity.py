"""Run ``ansible-test sanity`` on a copy of this checkout laid out as ansible_collections/trident/gitops.

ansible-test insists on that layout; the copy holds exactly the files git would ship (tracked plus
untracked-but-not-ignored), so what is checked is what is committed. Sanity tools run in ansible-test's
own pinned virtualenvs (--venv); their pip is bootstrapped offline (tools/offline_get_pip.py).
"""

import fcntl
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shipped_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name and (REPO / name).is_file()]


def install_offline_pip_bootstrap():
    """Put our get-pip stand-in where ansible-test looks for its cached bootstrap script."""
    import ansible_test

    source = (Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
    pip_version = re.search(r"pip='([0-9.]+)'", source).group(1)
    cached = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{pip_version.replace('.', '_')}.py"
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "tools" / "offline_get_pip.py", cached)


def main(argv):
    # ansible-test's virtualenvs under ~/.ansible/test are shared by every checkout on the machine.
    lock_path = Path.home() / ".ansible" / "test" / ".trident-sanity.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return run_sanity(argv)


def run_sanity(argv):
    install_offline_pip_bootstrap()
    with tempfile.TemporaryDirectory(prefix="trident-sanity-") as tmp:
        target = Path(tmp) / "ansible_collections" / "trident" / "gitops"
        for name in shipped_files():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination)
        # ansible-test lists files with git when the collection is a repository.
        subprocess.run(["git", "init", "-q"], cwd=target, check=True)
        subprocess.run(["git", "add", "-A"], cwd=target, check=True)
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        cmd = ["ansible-test", "sanity", "--venv", "--python", python, "--color", "no", *argv]
        print(f"[sanity] {' '.join(cmd)} (in {target})", flush=True)
        return subprocess.run(cmd, cwd=target, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
