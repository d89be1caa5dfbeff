"""Where a run's providers and binary come from: only places the operator named, never the repository.

Why: a provider is a program Terraform runs, so whoever chooses the folder it is installed from chooses the
program. Those folders are the operator's: ``plugin_dirs``, the CLI configuration in effect (``cli_config_file``,
else the controller's ``TF_CLI_CONFIG_FILE`` or ``~/.terraformrc``) with every path it names (filesystem mirrors,
the plugin cache, development overrides), ``~/.terraform.d/plugins`` (Terraform's implied mirror), the plugin
cache and the binary itself. A path among them that lies inside the repository is
refused, whoever passed it. The sandbox shows exactly these locations: read-only, except the plugin caches,
which ``init`` fills.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

# Every quoted string of a CLI configuration (HCL or JSON): the paths among them are shown in the sandbox.
_QUOTED = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_CACHE_SETTING = re.compile(r'^\s*"?plugin_cache_dir"?\s*[=:]\s*"((?:[^"\\\n]|\\.)*)"', re.MULTILINE)
# Terraform's and OpenTofu's per-user files, read when no CLI configuration file is named, and the implied
# provider mirror in the home directory. Not ~/.terraform.d/credentials.tfrc.json: the configuration could read
# the registry tokens `terraform login` keeps there (TF_TOKEN_<host> variables it cannot read: no /proc).
_HOME_FILES = (".terraformrc", ".tofurc", os.path.join(".terraform.d", "plugins"))


@dataclass(frozen=True)
class ProviderLocations:
    """The operator's provider locations of one run, as the sandbox shows them."""

    # The CLI configuration to set as TF_CLI_CONFIG_FILE, None to keep Terraform's own lookup.
    cli_config: str | None = None
    # Files and folders shown read-only (the CLI configuration, mirrors, plugin_dirs, ~/.terraform.d/plugins ...).
    readable: tuple = ()
    # Plugin caches: writable while init runs, read-only otherwise.
    caches: tuple = ()


def _expand(value, environ):
    """A path as Terraform reads it from a CLI configuration (``~`` and ``$VAR`` are the operator's here)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    value = re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: environ.get(m.group(1) or m.group(2), m.group(0)), value)
    return home + value[1:] if value == "~" or value.startswith("~/") else value


def paths_named(text, environ):
    """Absolute paths among the quoted strings of a CLI configuration, and its plugin cache (or None)."""
    named = {os.path.normpath(_expand(value, environ)) for value in _QUOTED.findall(text)}
    cache = _CACHE_SETTING.search(text)
    return (sorted(path for path in named if os.path.isabs(path)),
            os.path.normpath(_expand(cache.group(1), environ)) if cache else None)


def provider_locations(settings, environ):
    """The operator's provider locations for ``settings`` (a terraform ``Settings``), from ``environ``."""
    home = environ.get("HOME") or os.path.expanduser("~")
    cli_config = settings.cli_config_file or environ.get("TF_CLI_CONFIG_FILE") or None
    readable = [os.path.join(home, name) for name in _HOME_FILES]
    readable += [os.path.join(environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share"), name, "plugins")
                 for name in ("terraform", "opentofu")]
    caches = [path for path in (settings.plugin_cache_dir, environ.get("TF_PLUGIN_CACHE_DIR")) if path]
    for config in [cli_config] if cli_config else [os.path.join(home, ".terraformrc"), os.path.join(home, ".tofurc")]:
        text = _read(config)
        if text is None:
            continue
        named, cache = paths_named(text, environ)
        readable += [config, *named]
        caches += [cache] if cache else []
    readable += list(settings.plugin_dirs)
    return ProviderLocations(
        cli_config=os.path.abspath(os.path.expanduser(cli_config)) if cli_config else None,
        readable=tuple(os.path.abspath(os.path.expanduser(path)) for path in readable),
        caches=tuple(os.path.abspath(os.path.expanduser(path)) for path in caches))


def refuse_repository_paths(settings, binary, locations, repository):
    """TridentError when the binary or a provider location lies inside ``repository`` (a Sandbox).

    A repository folder is never a plugin folder, a mirror or a program, whoever names it.
    """
    named = [("binary", binary), *(("plugin_dirs", path) for path in settings.plugin_dirs),
             *(("cli_config_file", path) for path in ([settings.cli_config_file] if settings.cli_config_file else [])),
             *(("plugin_cache_dir", path) for path in locations.caches),
             *(("a provider location", path) for path in locations.readable)]
    for option, path in named:
        real = os.path.realpath(os.path.expanduser(path))
        if repository.contains(real):
            raise TridentError(f"{option}: '{repository.display(real)}' is inside the repository; a repository "
                               "folder is never a provider source or a program (only the operator's locations "
                               "are: plugin_dirs, cli_config_file, plugin_cache_dir, binary outside any checkout)")


def _read(path):
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None
