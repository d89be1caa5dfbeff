"""Options validated as AnsibleModule validates them, for callers that are not a module (tests, benchmarks):
every typed request's ``validated_request`` goes through here, so they all get the argument spec's defaults,
types and rules the same way."""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


def validated_params(argument_spec, rules, params):
    """``params`` with the defaults, types and ``rules`` (mutually_exclusive, required_if ...) of
    ``argument_spec`` applied; a :class:`TridentError` lists every violation."""
    result = ArgumentSpecValidator(argument_spec, **rules).validate(params)
    if result.error_messages:
        raise TridentError("; ".join(result.error_messages))
    return result.validated_parameters
