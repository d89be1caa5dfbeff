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
      - With O(repository_root), a kubeconfig given as content or as a file inside it is the repository's, and every
        file it names must lie inside that folder (see O(repository_root)). Without it, a kubeconfig file inside a Git checkout is refused, and so is
        content that names a file (C(tokenFile), C(certificate-authority), ...); a file outside any checkout is
        the operator's own and is read as it is.
    type: raw
  repository_root:
    description:
      - The folder of the GitOps repository the O(kubeconfig) comes from (the checkout, or the copy of a held
        revision), given by the operator's side (the kubernetes role passes the source role's checkout), never
        found by looking for C(.git). A kubeconfig given as content, or as a file inside it, is the repository's, so
        every file it names (a user's C(tokenFile), C(client-certificate) and C(client-key), a cluster's C(certificate-authority), an
        C(oidc) auth provider's C(idp-certificate-authority), in every entry) must resolve inside it, or the
        task fails before anything is read, run or sent, naming the kubeconfig (relative to this folder), the
        entry and the field, never the value. A path is relative to the kubeconfig's folder; C(~), C($VAR),
        absolute paths, and C(..) or a symlink that leads out are refused. Inline data (C(token),
        C(*-data)) is fine.
      - M(trident.gitops.kube_diff) also requires O(trident.gitops.kube_diff#module:src) and
        O(trident.gitops.kube_diff#module:kustomize) to lie inside it, and names the
        repository's files relative to it in messages and results (C(environments/web/env.yml)).
      - A credential program (an C(exec) C(command), an auth provider's C(cmd-path)) must be a name found in the
        controller's PATH or an absolute path, never a relative path (that would run a file of the repository),
        and still runs only when O(kubeconfig_exec) allows its exact command line.
    type: path
  kubeconfig_file:
    description:
      - When O(kubeconfig) is content decrypted from a repository file (C(kubeconfig.sops.yaml)), that file's
        path, absolute or relative to O(repository_root); relative paths in the content resolve against its
        folder (without it, against O(repository_root); never the working folder), and messages name it.
      - Only with O(repository_root) and a kubeconfig given as content.
    type: str
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
