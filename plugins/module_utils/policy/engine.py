"""Policies as code: the repository's and the operator's Rego rules evaluated by the real OPA engine, sandboxed.

Conftest's layout and verdicts, with OPA's own ``opa eval``: every ``.rego`` file of a policy folder is loaded, every
package's rules named ``deny``, ``violation`` and ``warn`` (or ``deny_*``, ``violation_*``, ``warn_*``, as conftest
matches them) are evaluated once per input document (``with input as``), all documents in one process. A
``deny``/``violation`` result refuses the plan, a ``warn`` is reported. A package's ``exception`` rule (conftest's
``exception contains rules``: the names of its rules, without the ``deny_``/``violation_``/``warn_`` prefix, or ``""``
for the bare ``deny``, ``violation`` and ``warn``) excepts those rules for that document, as ``conftest test`` does:
their results are not verdicts, and the exception is reported as one. Each group of policies (the repository's,
the operator's) is compiled and run on its own, so the repository cannot add to, redefine, except or switch off an
operator's rule: two modules of one compile share their packages.

Policies are repository content, so they run in OPA's sandbox: capabilities without the builtins that reach
outside the input (``http.send``, ``net.lookup_ip_addr``, ``opa.runtime``) and with no network allowed, an empty
environment, and only files that the repository's sandbox resolves (no symlink out of the checkout). A policy
calling a refused builtin fails to compile before anything is evaluated.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox

POLICY_DIR = "policy"
# The builtins that reach outside the input: the network, and the process's environment and configuration.
REFUSED_BUILTINS = frozenset({"http.send", "net.lookup_ip_addr", "opa.runtime"})
RULE = re.compile(r"^(deny|violation|warn)(_[A-Za-z0-9_]+)?$")
_PACKAGE = re.compile(r"^[ \t]*package[ \t]+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)[ \t]*(?:#.*)?$",
                      re.M)
# The longest error text of OPA's quoted in a message (its first lines name the file, line and problem).
_MAX_ERROR = 600


@dataclass(frozen=True)
class PolicyFile:
    """A ``.rego`` file: ``path`` as OPA is given it (relative to the repository, or the operator's absolute
    path), ``shown`` as messages name it, its package and its text."""

    path: str
    shown: str
    package: str
    text: str


@dataclass(frozen=True)
class Group:
    """Policies compiled together: ``origin`` is ``repository`` or ``operator``."""

    origin: str
    files: tuple
    cwd: str


@dataclass(frozen=True)
class Document:
    """One input document: what it is (``subject``: an object, the Terraform plan), where it comes from, the input."""

    subject: str
    source: str
    input: object
    addresses: tuple = ()  # Terraform resource addresses, to name the one a message names


@dataclass
class Verdicts:
    denials: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    exceptions: list = field(default_factory=list)

    @property
    def refusal(self):
        return "; ".join(f"{d['policy']} {d['rule']}: {d['subject']}: {d['message']}" for d in self.denials)


def repository_policy_dirs(repo_root: str, env_dir: str) -> list:
    """The repository's policy folders (relative to it): the shared ``policy/`` and the environment's own."""
    found = []
    for relative in (POLICY_DIR, f"{env_dir}/{POLICY_DIR}"):
        if os.path.isdir(os.path.join(repo_root, relative)):
            found.append(relative)
    return found


def _package_of(text: str, shown: str) -> str:
    match = _PACKAGE.search(text)
    if not match:
        raise TridentError(f"{shown}: no package line this step can evaluate (package main, package a.b)")
    return match.group(1)


def repository_group(repo_root: str, dirs) -> Group | None:
    """The repository's policy files under ``dirs`` (relative to ``repo_root``), each resolved inside the checkout."""
    sandbox = Sandbox(repo_root)
    files = []
    for relative in dirs:
        for path in sandbox.walk(sandbox.resolve(relative), (".rego",)):
            real = sandbox.resolve(path)
            shown = sandbox.display(path)
            with open(real, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            files.append(PolicyFile(os.path.relpath(real, sandbox.root), shown, _package_of(text, shown), text))
    return Group("repository", tuple(files), sandbox.root) if files else None


def operator_group(dirs) -> Group | None:
    """The operator's policy files (controller folders the operator names)."""
    files = []
    for folder in dirs:
        if not os.path.isdir(folder):
            raise TridentError(f"policy_operator_dirs: {folder} is not a folder")
        for root, subdirs, names in os.walk(folder):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for name in sorted(n for n in names if n.endswith(".rego") and not n.startswith(".")):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
                files.append(PolicyFile(path, path, _package_of(text, path), text))
    return Group("operator", tuple(files), "/") if files else None


def capabilities(opa: str, runner) -> dict:
    """OPA's capabilities without the builtins that reach outside the input, and no network at all."""
    current = json.loads(runner([opa, "capabilities", "--current"], env=_ENV).stdout)
    current["builtins"] = [b for b in current.get("builtins", []) if b.get("name") not in REFUSED_BUILTINS]
    current["allow_net"] = []
    return current


# The environment OPA runs in: nothing of the controller's (opa.runtime is refused anyway).
_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}


def query(packages) -> str:
    """One query evaluating every rule of ``packages`` named like conftest's (``r<n>``) and every name its
    ``exception`` rule gives (``x<n>``, once per binding, as conftest counts them) on every input document (written
    in the syntax Rego v0 and v1 share)."""
    parts = []
    for index, package in enumerate(sorted(packages)):
        rules = (f"env := input.environment; doc := input.documents[i]; "
                 f"rules := data.{package} with input as doc with data.trident.environment as env")
        parts.append(f'r{index} := [[i, name, value] | {rules}; value := rules[name]; regex.match(`{RULE.pattern}`, name)]')
        parts.append(f"x{index} := [[i, name] | {rules}; name := rules.exception[_][_]]")
    return "; ".join(parts)


def excepted_name(rule: str) -> str:
    """The name an ``exception`` gives for ``rule`` (conftest's): ``""`` for a bare deny/violation/warn, else the
    rule's name without those prefixes."""
    if rule in ("deny", "violation", "warn"):
        return ""
    for prefix in ("violation_", "deny_", "warn_"):
        rule = rule[len(prefix):] if rule.startswith(prefix) else rule
    return rule


def evaluate(group: Group, documents: list, environment: dict, opa: str, caps_file: str, runner,
             rego_version: str = "v1") -> tuple:
    """``[(document index, package, rule, value)]`` of ``group``'s rules on ``documents``, and
    ``[(document index, package, name)]`` of the names their packages' ``exception`` rules give."""
    packages = sorted({f.package for f in group.files})
    argv = [opa, "eval", "--format", "json", "--stdin-input", "--capabilities", caps_file]
    if rego_version == "v0":
        argv.append("--v0-compatible")
    # OPA is given our copies of the texts we read, under names of ours in the private folder: OPA reads a
    # ``--data`` argument with a colon as ``prefix:path``, so a repository name must never reach its command line.
    shown = {}
    for number, policy in enumerate(group.files):
        copy = os.path.join(os.path.dirname(caps_file), f"{group.origin}-{number}.rego")
        with open(copy, "w", encoding="utf-8") as handle:
            handle.write(policy.text)
        shown[copy] = policy.shown
        argv += ["--data", copy]
    argv.append(query(packages))
    payload = json.dumps({"documents": [d.input for d in documents], "environment": environment})
    result = runner(argv, cwd=group.cwd, env=_ENV, data=payload, check=False)
    if result.rc != 0:
        raise TridentError(f"the {group.origin}'s policies do not evaluate: {_opa_error(result, shown)}")
    try:
        bindings = (json.loads(result.stdout).get("result") or [{}])[0].get("bindings") or {}
    except (ValueError, AttributeError, IndexError):
        raise TridentError(f"opa eval printed no JSON result for the {group.origin}'s policies") from None
    found, excepted = [], []
    for index, package in enumerate(packages):
        for entry in bindings.get(f"r{index}") or []:
            found.append((entry[0], package, entry[1], entry[2]))
        for entry in bindings.get(f"x{index}") or []:
            if isinstance(entry[1], str):
                excepted.append((entry[0], package, entry[1]))
    return found, excepted


def _opa_error(result, shown=None) -> str:
    """OPA's errors in one line, our copies named as the policies they are (``shown``: copy path -> name)."""
    text = (result.stdout or "") + (result.stderr or "")
    try:
        errors = json.loads(result.stdout).get("errors") or []
        text = "; ".join(f"{(e.get('location') or {}).get('file', '')}:{(e.get('location') or {}).get('row', '')}: "
                         f"{e.get('message', '')}" for e in errors if isinstance(e, dict)) or text
    except (ValueError, AttributeError):
        pass
    for copy, name in (shown or {}).items():
        text = text.replace(copy, name)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR else text[:_MAX_ERROR - 1] + "…"


def messages(value) -> list:
    """A rule's result as conftest reads it: strings, objects with ``msg``, or ``true``."""
    if value is True:
        return [""]
    if isinstance(value, (list, tuple)):
        return [item if isinstance(item, str) else str(item.get("msg", json.dumps(item, sort_keys=True)))
                if isinstance(item, dict) else json.dumps(item) for item in value]
    if isinstance(value, str):
        return [value]
    return []


def _where(group: Group, package: str, rule: str, message: str) -> str:
    """The file of ``package`` defining ``rule``: of several, the one whose string literal (a ``sprintf`` format's
    fixed parts) explains most of ``message``; all of them when none does better."""
    files = [f for f in group.files if f.package == package]
    head = re.compile(rf"^[ \t]*{re.escape(rule)}\b", re.M)
    defining = [f for f in files if head.search(f.text)] or files
    if len(defining) > 1:
        scores = {f.shown: _explained(f.text, message) for f in defining}
        best = max(scores.values())
        if best:
            defining = [f for f in defining if scores[f.shown] == best]
    return ", ".join(f.shown for f in defining)


_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"|`([^`]*)`')
_VERB = re.compile(r"%[-+# 0-9.]*[a-zA-Z]")


def _explained(text: str, message: str) -> int:
    """How many characters of ``message`` the best string literal of ``text`` gives (its parts in order)."""
    best = 0
    for match in _LITERAL.finditer(text):
        literal = match.group(1) if match.group(1) is not None else match.group(2)
        parts = [part for part in _VERB.split(literal) if part]
        position, found = 0, 0
        for part in parts:
            at = message.find(part, position)
            if at < 0:
                found = 0
                break
            position, found = at + len(part), found + len(part)
        best = max(best, found)
    return best


def _named_address(message: str, addresses) -> str | None:
    named = [a for a in addresses if re.search(rf"(?<![\w.\[\]-]){re.escape(a)}(?![\w\[-])", message)]
    return max(named, key=len) if named else None


def check(groups, documents: list, environment: dict, opa: str, runner, rego_version: str = "v1") -> Verdicts:
    """Every group's verdicts on every document."""
    verdicts = Verdicts()
    groups = [g for g in groups if g is not None]
    if not groups or not documents:
        return verdicts
    folder = tempfile.mkdtemp(prefix="trident-policy-")
    try:
        caps_file = os.path.join(folder, "capabilities.json")
        with open(caps_file, "w", encoding="utf-8") as handle:
            json.dump(capabilities(opa, runner), handle)
        for group in groups:
            found, excepted = evaluate(group, documents, environment, opa, caps_file, runner, rego_version)
            # How many bindings of each package's exception name each (document, name): conftest's count.
            bindings = Counter(excepted)
            for index, package, rule, value in found:
                document = documents[index]
                times = bindings[(index, package, excepted_name(rule))]
                if times:  # excepted: reported as such, whether or not the rule fired; never a verdict
                    verdicts.exceptions += [{
                        "policy": _where(group, package, rule, ""), "package": package, "rule": rule,
                        "origin": group.origin, "subject": document.subject, "source": document.source,
                        "message": f"{rule} excepted by {package}.exception"} for _count in range(times)]
                    continue
                for message in messages(value):
                    subject = document.subject
                    address = _named_address(message, document.addresses)
                    entry = {"policy": _where(group, package, rule, message), "package": package, "rule": rule,
                             "origin": group.origin, "subject": address or subject, "source": document.source,
                             "message": message}
                    (verdicts.warnings if rule.startswith("warn") else verdicts.denials).append(entry)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return verdicts
