"""Kubernetes' name rules (RFC 1123 labels and DNS subdomains), in one place.

Helm release names, namespaces and object names are all checked before anything runs; the rules are
the apiserver's (k8s.io/apimachinery validation), so a name refused here would be refused there too.
"""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile(rf"^{_LABEL}$")
DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


def is_dns_label(name, max_length=63):
    """An RFC 1123 label (lower case letters, digits, '-') of at most ``max_length`` characters."""
    return isinstance(name, str) and len(name) <= max_length and bool(DNS_LABEL.match(name))


def is_dns_subdomain(name, max_length=253):
    """An RFC 1123 subdomain: labels joined by '.', at most ``max_length`` characters."""
    return isinstance(name, str) and len(name) <= max_length and bool(DNS_SUBDOMAIN.match(name))
