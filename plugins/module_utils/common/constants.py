"""Names and places the whole collection agrees on, defined once: the reconcile steps, the manifest file
suffixes, the server-side apply field manager and the controller's cache folder."""

from __future__ import annotations

# The steps of a reconcile, in order (the reconcile role, the inventory's steps, the drift report's columns).
STEPS = ("source", "secrets", "terraform", "kubernetes")
# Files read as Kubernetes manifests (kube_diff's directories, the inventory's layout).
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# The server-side apply field manager that owns what the reconciler applies.
FIELD_MANAGER = "trident-gitops"
# The controller's cache (discovery, charts, checkouts, Terraform data dirs), as option defaults write it.
CACHE_DIR = "~/.cache/trident-gitops"
