"""The README's role variable tables, made from the roles' argument specs and defaults (so the README says what the
code does): ``python3 tools/role_tables.py`` prints the section, ``--write`` replaces it in README.md between its
markers. tests/unit/tools/test_role_tables.py fails when the README is behind."""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("source", "secrets", "terraform", "kubernetes", "policy", "reconcile")
BEGIN, END = "<!-- role variables: begin (tools/role_tables.py) -->", "<!-- role variables: end -->"
_MARKUP = re.compile(r"\b[CIOEVMPR]\(([^)]*)\)")


def text(value):
    """Ansible doc markup (C(x), O(x), ...) as Markdown code spans, one line, pipes escaped."""
    if isinstance(value, list):
        value = " ".join(value)
    value = _MARKUP.sub(lambda m: f"`{m.group(1).split('#')[0]}`", str(value))
    return " ".join(value.split()).replace("|", "\\|")


def default_of(name, spec, defaults):
    raw = defaults.get(name, spec.get("default"))
    if raw is None and name not in defaults:
        return ""
    shown = raw if isinstance(raw, str) else yaml.safe_dump(raw, default_flow_style=True).strip()
    shown = " ".join(str(shown).split())
    return f"`{shown}`".replace("|", "\\|") if shown != "" else "`''`"


def section():
    lines = [BEGIN, ""]
    for role in ROLES:
        folder = ROOT / "roles" / role
        main = yaml.safe_load((folder / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
        defaults = yaml.safe_load((folder / "defaults" / "main.yml").read_text()) or {}
        entry_points = list(yaml.safe_load((folder / "meta" / "argument_specs.yml").read_text())["argument_specs"])
        lines += [f"#### `trident.gitops.{role}`", "", text(main["short_description"]) + ".",
                  "", f"Entry points: {', '.join(f'`{e}`' for e in entry_points)}.", "",
                  "| Variable | Type | Default | Meaning |", "|---|---|---|---|"]
        for name, spec in main.get("options", {}).items():
            kind = spec.get("type", "str") + (f" of {spec['elements']}" if spec.get("elements") else "")
            lines.append(f"| `{name}` | {kind} | {default_of(name, spec, defaults)} | {text(spec['description'])} |")
        lines.append("")
    return "\n".join(lines + [END])


def readme_with(section_text):
    readme = (ROOT / "README.md").read_text()
    return readme[:readme.index(BEGIN)] + section_text + readme[readme.index(END) + len(END):]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        (ROOT / "README.md").write_text(readme_with(section()))
    else:
        print(section())
