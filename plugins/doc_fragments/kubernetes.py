# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options shared by the modules that talk to a Kubernetes API server."""

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - A kubeconfig file path, or the kubeconfig itself as YAML text or a mapping (for example decrypted
        in memory from C(kubeconfig.sops.yaml)); the content is never written to a lasting file or logged.
      - When neither O(kubeconfig) nor O(host) is given, E(KUBECONFIG) or C(~/.kube/config) is used.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
      - A kubeconfig whose user runs a command on the controller to get its credential (an C(exec) plugin, an
        C(auth-provider) with C(cmd-path), the C(gcp) auth provider) is refused before anything runs, unless
        O(kubeconfig_exec) allows that exact command line. The controller's own default (E(KUBECONFIG),
        C(~/.kube/config), used when O(kubeconfig) is not given) is not checked.
    type: raw
  kubeconfig_exec:
    description:
      - The credential commands a kubeconfig may run on the controller, each an exact command line, shell-quoted
        (Python's C(shlex.join)) as the kubeconfig user entry gives it - C(env) entries as C(NAME=value), then
        C(command), then C(args) - for example C(aws --region eu-west-1 eks get-token --cluster-name prod
        --output json) or C(gke-gcloud-auth-plugin). For an C(auth-provider), its C(cmd-path) and C(cmd-args).
      - A kubeconfig comes from the repository and its command runs with the controller's environment and
        credentials, so anything not listed here is refused (Flux's C(--insecure-kubeconfig-exec) is the same
        decision). The arguments and environment are part of the match because they can make an allowed
        program do anything. Set it from the controller (the kubernetes role's
        C(kubernetes_kubeconfig_exec_commands)); C(env.yml) cannot set it. See docs/kube_diff.md.
    type: list
    elements: str
    default: []
  context:
    description:
      - The kubeconfig context to use instead of its current context.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - The API server URL, for example C(https://127.0.0.1:6443). With O(api_key) and O(ca_cert) no kubeconfig
        is needed; with a kubeconfig it overrides the cluster's server.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - A bearer token.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  ca_cert:
    description:
      - The CA certificate that signed the API server's certificate (a file path or PEM text).
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: str
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Verify the API server's TLS certificate.
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    default: true
    aliases: [verify_ssl]
  request_timeout:
    description: Seconds to wait for one API request.
    type: float
    default: 60
requirements:
  - PyYAML
  - urllib3
  - kubernetes (Python client, only for loading a kubeconfig)
"""
