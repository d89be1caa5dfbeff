"""Which options carry a path of the repository and which a path of the operator's controller (docs/developing.md,
"Repository paths and controller paths"), checked against every plugin's documentation and argument spec.

Why: ``type: path`` expands ``$VAR`` and ``~``, so a repository path declared that way puts the controller's
environment into messages and reports (issue 24). The docs' table is the one list; this test fails for a
``type: path`` option the table does not call a controller path, for a repository path that is not a plain string,
for a row that names no option, and for an action plugin whose argument spec disagrees with its module's.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.kube import request as kube_request
from ansible_collections.trident.gitops.plugins.module_utils.sops import request as sops_request

REPO = Path(__file__).resolve().parents[3]
ROW = re.compile(r"^\| (module|lookup|inventory|callback) (\w+) \| `([\w.]+)` \| (repository|controller) \|$")
PLUGIN_DIRS = {"module": "modules", "lookup": "lookup", "inventory": "inventory", "callback": "callback"}


def table():
    """{(kind, plugin, option): 'repository' | 'controller'} from docs/developing.md."""
    rows = {}
    for line in (REPO / "docs" / "developing.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            kind, plugin, option, what = match.groups()
            assert (kind, plugin, option) not in rows, f"{line}: listed twice"
            rows[(kind, plugin, option)] = what
    assert len(rows) > 30, "the table of docs/developing.md was not found"
    return rows


def documentation(path):
    """A plugin's DOCUMENTATION with its doc fragments' options merged in."""
    tree = ast.parse(path.read_text())
    text = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", "") == "DOCUMENTATION")
    doc = yaml.safe_load(text)
    for fragment in doc.get("extends_documentation_fragment") or []:
        doc.setdefault("options", {}).update(yaml.safe_load(fragment_documentation(fragment)).get("options") or {})
    return doc


def fragment_documentation(fragment):
    """The text of a doc fragment: ours (trident.gitops.<name>) or ansible-core's (<name>[.<attribute>])."""
    if fragment.startswith("trident.gitops."):
        name, _dot, attribute = fragment[len("trident.gitops."):].partition(".")
        source = (REPO / "plugins" / "doc_fragments" / f"{name}.py").read_text()
        return re.search(rf'{attribute.upper() or "DOCUMENTATION"} = r"""(.*?)"""', source, re.S).group(1)
    name, _dot, attribute = fragment.partition(".")
    module = importlib.import_module(f"ansible.plugins.doc_fragments.{name}")
    return getattr(module.ModuleDocFragment, attribute.upper() or "DOCUMENTATION")


def options(tree, prefix=""):
    """{dotted name: (type, elements)} of every option and suboption."""
    found = {}
    for name, spec in (tree or {}).items():
        found[prefix + name] = (spec.get("type", "str"), spec.get("elements"))
        found.update(options(spec.get("suboptions") or spec.get("options"), f"{prefix}{name}."))
    return found


def all_plugins():
    for kind, folder in PLUGIN_DIRS.items():
        for path in sorted((REPO / "plugins" / folder).glob("*.py")):
            if path.name != "__init__.py":
                yield kind, path.stem, options(documentation(path).get("options"))


PLUGINS = list(all_plugins())
ROWS = table()


@pytest.mark.parametrize("kind, plugin, found", PLUGINS, ids=[f"{k} {p}" for k, p, _f in PLUGINS])
def test_every_path_option_is_a_controller_path_listed_in_the_docs(kind, plugin, found):
    for option, types in found.items():
        if "path" in types:
            assert ROWS.get((kind, plugin, option)) == "controller", \
                f"{kind} {plugin} option {option} is type path (expands $VAR and ~): list it in docs/developing.md " \
                "as a controller path, or make it type str if the repository names it"


@pytest.mark.parametrize("row, what", sorted(ROWS.items()), ids=[" ".join(r) for r in sorted(ROWS)])
def test_every_row_names_an_option_of_the_right_type(row, what):
    kind, plugin, option = row
    found = {(k, p): f for k, p, f in PLUGINS}.get((kind, plugin))
    assert found is not None and option in found, f"docs/developing.md lists {kind} {plugin} {option}: no such option"
    types = found[option]
    if what == "repository":
        assert types in (("str", None), ("list", "str")), f"{kind} {plugin} {option}: a repository path is type str"
    else:
        assert "path" in types, f"{kind} {plugin} {option}: a controller path is type path"


def spec_types(spec, prefix=""):
    found = {}
    for name, entry in spec.items():
        found[prefix + name] = (entry.get("type", "str"), entry.get("elements"))
        found.update(spec_types(entry.get("options") or {}, f"{prefix}{name}."))
    return found


@pytest.mark.parametrize("module, spec", [("kube_diff", kube_request.ARGUMENT_SPEC),
                                          ("sops_decrypt", sops_request.ARGUMENT_SPEC)])
def test_the_in_process_action_validates_paths_as_the_module_documents(module, spec):
    """The action plugins (plugins/plugin_utils/inprocess.py) validate with module_utils' argument spec: each
    repository path in it is a plain string there too, so the in-process path expands nothing either."""
    documented = {k: v for k, p, f in PLUGINS if k == "module" and p == module for k, v in f.items()}
    for option, types in spec_types(spec).items():
        kind = ROWS.get(("module", module, option))
        if kind is not None:
            assert ("path" in types) == (kind == "controller"), f"{module} {option}"
            assert types == documented[option], f"{module} {option}: the spec says {types}, the docs {documented[option]}"
