"""Real local services for tests, benchmarks and the demo.

Nothing here is a mock: each helper starts the real binary that ``tools/toolchain.py`` installed
(kube-apiserver + etcd, git daemon / git-http-backend, GnuPG, age, sops) on loopback, in a private
directory, and stops it again. A binary that is missing raises :class:`MissingTool`, never a skip.
"""

import os
import shutil
import sys
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent.parent
if str(TOOLS_DIR) not in sys.path:
    sys.path.insert(0, str(TOOLS_DIR))

import toolchain  # noqa: E402  (tools/ is not a package; it is put on the path above)


class MissingTool(RuntimeError):
    """A real tool the tests need is not installed."""


def tool(name):
    """Absolute path of a pinned tool (cache first, then the machine's PATH for Debian tools).

    A deferred tool (Vault, Gitea: see tools/toolchain.py) is installed here the first time a test needs
    it: ``make test`` builds it in the background, and this waits for that build (or builds it, when no
    build is under way). A build that fails raises :class:`MissingTool` with the build's message.
    """
    cached = toolchain.BIN_DIR / name
    owner = toolchain.owner_of(name)
    if not cached.exists() and owner and toolchain.deferred(owner):
        try:
            toolchain.install(owner)
        except toolchain.ToolError as exc:
            raise MissingTool(f"'{name}' could not be built: {exc}") from exc
    if cached.exists():
        return str(cached)
    found = shutil.which(name, path=os.environ.get("PATH", ""))
    if found:
        return found
    raise MissingTool(f"'{name}' is not installed: run `make tools` (python3 tools/toolchain.py install)")
