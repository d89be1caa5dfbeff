"""sops_decrypt's options, once: the argument spec (where every default lives) and the typed request built from
the validated parameters, the one value :func:`service.run_decrypt` reads. The module and its in-process action
plugin both build the request here; callers outside a module (tests) get the same defaults and rules through
:func:`validated_request`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.params import validated_params
from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions
from ansible_collections.trident.gitops.plugins.module_utils.sops.options import KEY_ARGUMENT_SPEC
from ansible_collections.trident.gitops.plugins.module_utils.sops.service import key_options

FORMATS = ["yaml", "json", "dotenv", "ini", "binary"]

# path is a repository path: type str, taken literally, never expanded as type path would ($VAR, ~); dest and the
# key files are the operator's controller paths.
ARGUMENT_SPEC = dict(
    path=dict(type="str"),
    content=dict(type="str", no_log=True),
    input_type=dict(type="str", choices=FORMATS),
    output_type=dict(type="str", choices=FORMATS),
    extract=dict(type="raw"),
    dest=dict(type="path"),
    repository_root=dict(type="path"),
    **KEY_ARGUMENT_SPEC,
)

RULES = dict(
    mutually_exclusive=[("path", "content")],
    required_one_of=[("path", "content")],
)


@dataclass(frozen=True)
class SopsDecryptRequest:
    """What one sops_decrypt task asks for (validated options; see the module's documentation)."""

    path: str | None
    content: str | None = field(repr=False)
    input_type: str | None
    output_type: str | None
    extract: object
    dest: str | None
    keys: KeyOptions
    verify_mac: bool
    repository_root: str | None = None

    @classmethod
    def from_params(cls, params):
        """The request of parameters validated against :data:`ARGUMENT_SPEC`."""
        return cls(path=params["path"], content=params["content"], input_type=params["input_type"],
                   output_type=params["output_type"], extract=params["extract"], dest=params["dest"],
                   keys=key_options(params), verify_mac=params["verify_mac"],
                   repository_root=params.get("repository_root"))


def validated_request(params):
    """The request of raw ``params`` with the argument spec's defaults, types and rules applied, as AnsibleModule
    would; for callers that are not a module (tests)."""
    return SopsDecryptRequest.from_params(validated_params(ARGUMENT_SPEC, RULES, params))
