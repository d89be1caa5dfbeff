"""Rendering releases with the real helm: a chart folder, an HTTPS chart repository with basic auth, an OCI
registry, values encrypted by the real sops; decrypted values never on disk nor in messages."""

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from sops_helpers import encrypt

from testbed import tool
from testbed.chartrepo import ChartRepository, OCIRegistry

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.helm.charts import RepositoryCredentials
from ansible_collections.trident.gitops.plugins.module_utils.helm.render import Cluster, render_releases
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_releases
from ansible_collections.trident.gitops.plugins.module_utils.sops.service import document_decryptor

SECRET = "Xq7-decrypted-db-password"
CLUSTER = Cluster("v1.35.4", ("v1", "v1/ConfigMap", "widgets.example.com/v1", "widgets.example.com/v1/Widget"))
TEMPLATES = {
    "config.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  mode: {{ .Values.mode | quote }}
  replicas: {{ .Values.replicas | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widgets: {{ .Capabilities.APIVersions.Has "widgets.example.com/v1/Widget" | quote }}
""",
    "secret.yaml": """apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-db
data:
  password: {{ required "db.password is required" .Values.db.password | b64enc }}
""",
    "hook.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-on-delete
  annotations: {"helm.sh/hook": pre-delete}
""",
}
CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
"""


def write_chart(folder, version="0.1.0", name="web", templates=None):
    folder = Path(folder)
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "crds").mkdir(exist_ok=True)
    (folder / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (folder / "values.yaml").write_text("mode: slow\nreplicas: 1\ndb: {}\n")
    (folder / "crds" / "gadget.yaml").write_text(CRD)
    for file_name, text in (templates or TEMPLATES).items():
        (folder / "templates" / file_name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def chart_repository(tmp_path_factory, gnupg_home):
    """web 0.1.0 and 0.2.0, and web 0.3.0 signed (provenance) by the first key of the GnuPG home."""
    with ChartRepository(tmp_path_factory.mktemp("chart-repo")) as repo:
        source = tmp_path_factory.mktemp("chart-sources")
        repo.add(write_chart(source / "v1", "0.1.0"))
        repo.add(write_chart(source / "v2", "0.2.0"))
        signer = gnupg_home.keys[0]
        secring = source / "secring.gpg"
        secring.write_bytes(gnupg_home.gpg("--export-secret-keys", signer.fingerprint))
        repo.add(write_chart(source / "v3", "0.3.0"), sign_with=(signer.uid.split(" <")[0], str(secring)))
        secring.unlink()
        yield repo


@pytest.fixture(scope="module")
def oci_registry(tmp_path_factory):
    with OCIRegistry(tmp_path_factory.mktemp("oci-registry")) as registry:
        registry.push(write_chart(tmp_path_factory.mktemp("oci-chart") / "web", "1.0.0"))
        yield registry


@pytest.fixture
def gitops_repo(tmp_path, age_key):
    """A repository with a chart folder, a values file and a SOPS values file encrypted by the real sops."""
    root = tmp_path / "repo"
    env = root / "environments" / "prod"
    (env / "secrets").mkdir(parents=True)
    write_chart(root / "charts" / "web")
    (env / "values.yaml").write_text("mode: fast\n")
    encrypt(env / "secrets", "web.sops.yaml", f"db:\n  password: {SECRET}\n", "--age", age_key.public)
    return root, env


class WatchingRunner(CommandRunner):
    """The real runner; before and after every command it checks that no file under ``roots`` holds the secret."""

    def __init__(self, roots):
        super().__init__()
        self.roots = roots
        self.commands = []

    def __call__(self, argv, **kwargs):
        self.commands.append(list(argv))
        assert_not_on_disk(self.roots)
        try:
            return super().__call__(argv, **kwargs)
        finally:
            assert_not_on_disk(self.roots)


def assert_not_on_disk(roots):
    encoded = base64.b64encode(SECRET.encode())
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    content = path.read_bytes()
                    assert SECRET.encode() not in content and encoded not in content, f"secret in {path}"


def render(env, releases, age_key, runner, **kwargs):
    kwargs.setdefault("cache_dir", str(env.parent.parent.parent / "cache"))
    return render_releases(parse_releases(releases, f"{env}/env.yml"), f"{env}/env.yml", str(env),
                           str(env.parent.parent), CLUSTER, runner, helm=tool("helm"),
                           decrypt=document_decryptor({"age_key_file": str(age_key.path), "use_environment": False}),
                           namespaced=lambda api_version, kind: kind != "CustomResourceDefinition", **kwargs)


def by_name(rendered):
    return {o.obj["metadata"]["name"]: o for o in rendered.objects}


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Every temporary folder of the rendering goes here, to be searched for the secret."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_chart_folder_with_values_and_sops_values(gitops_repo, age_key, tmp_path, private_tmp):
    root, env = gitops_repo
    cache = tmp_path / "cache"
    runner = WatchingRunner([root, cache, private_tmp])
    rendered = render(env, [{"name": "web", "namespace": "web", "chart": {"path": "../../charts/web"},
                             "values_files": ["values.yaml"], "secret_values_files": ["secrets/web.sops.yaml"],
                             "values": {"replicas": 3}}], age_key, runner, cache_dir=str(cache))
    objects = by_name(rendered)
    assert sorted(objects) == ["gadgets.example.com", "web-config", "web-db"]
    assert objects["web-config"].obj["data"] == {"mode": "fast", "replicas": "3", "kube": "v1.35.4", "widgets": "true"}
    assert objects["web-config"].obj["metadata"]["namespace"] == "web"
    assert "namespace" not in objects["gadgets.example.com"].obj["metadata"]
    assert base64.b64decode(objects["web-db"].obj["data"]["password"]).decode() == SECRET
    assert objects["web-db"].source.endswith("helm release 'web' (chart path ../../charts/web) web/templates/secret.yaml")
    assert rendered.skipped_hooks[0].endswith("web/templates/hook.yaml")
    # The secret reaches the Secret's value only (a Secret's values are masked anyway): nothing else is masked.
    assert objects["web-db"].masked == (("data", "password"),) and objects["web-config"].masked == ()
    assert not any(SECRET in " ".join(argv) for argv in runner.commands)
    assert list(private_tmp.iterdir()) == [], "the private helm home is removed"


def test_repository_chart_with_basic_auth_cached_by_digest(gitops_repo, age_key, tmp_path, chart_repository):
    _root, env = gitops_repo
    chart = {"repo": chart_repository.url, "name": "web", "version": "0.2.0"}
    release = {"name": "cache", "namespace": "data", "chart": chart,
               "secret_values_files": ["secrets/web.sops.yaml"]}
    credentials = [RepositoryCredentials(chart_repository.url, chart_repository.username, chart_repository.password,
                                         str(chart_repository.ca_file))]
    before = len(chart_repository.requests)
    rendered = render(env, [release, {**release, "name": "cache-two"}], age_key, CommandRunner(),
                      cache_dir=str(tmp_path / "cache"), credentials=credentials)
    names = sorted(o.obj["metadata"]["name"] for o in rendered.objects)
    assert names == ["cache-config", "cache-db", "cache-two-config", "cache-two-db", "gadgets.example.com",
                     "gadgets.example.com"]
    assert chart_repository.requests[before:] == [("/charts/index.yaml", True), ("/charts/web-0.2.0.tgz", True)]
    digest = next(e["digest"] for e in chart_repository.index()["entries"]["web"] if e["version"] == "0.2.0")
    assert (tmp_path / "cache" / f"sha256-{digest}.tgz").is_file()
    pinned = {**release, "chart": {**release["chart"], "digest": f"sha256:{digest}"}}
    render(env, [pinned], age_key, CommandRunner(), cache_dir=str(tmp_path / "cache"), credentials=credentials)
    assert len(chart_repository.requests) == before + 2, "a pinned digest in the cache needs no download"

    wrong = [RepositoryCredentials(chart_repository.url, chart_repository.username, "wrong-password",
                                   str(chart_repository.ca_file))]
    with pytest.raises(TridentError) as caught:
        render(env, [release], age_key, CommandRunner(), cache_dir=str(tmp_path / "other"), credentials=wrong)
    assert "helm release 'cache' (chart web 0.2.0 from https://127.0.0.1:" in caught.value.message
    assert "index.yaml: HTTP 401" in caught.value.message and "wrong-password" not in caught.value.message


def test_oci_chart(gitops_repo, age_key, tmp_path, oci_registry, private_tmp):
    root, env = gitops_repo
    credentials = [RepositoryCredentials(f"oci://{oci_registry.host}", oci_registry.username, oci_registry.password,
                                         str(oci_registry.ca_file))]
    runner = WatchingRunner([root, tmp_path / "cache", private_tmp])
    rendered = render(env, [{"name": "db", "namespace": "db", "chart": {"oci": oci_registry.url("web"),
                                                                        "version": "1.0.0"},
                             "values": {"db": {"password": "inline"}}}], age_key, runner,
                      cache_dir=str(tmp_path / "cache"), credentials=credentials)
    assert by_name(rendered)["db-config"].obj["data"]["mode"] == "slow"
    assert [argv[1:3] for argv in runner.commands] == [["pull", oci_registry.url("web")], ["template", "db"]]
    assert not any(oci_registry.password in " ".join(argv) for argv in runner.commands)
    assert list(private_tmp.iterdir()) == [], "the private folders are removed"


# Pulls an OCI chart with credentials, says so, then waits (still inside the pull) to be killed.
KILLED_PULL = """
import json, os, sys, time
from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.helm.charts import ChartFetcher, RepositoryCredentials
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import Chart

args = json.loads(sys.argv[1])

def runner(argv, **kwargs):
    result = CommandRunner()(argv, **kwargs)
    print(json.dumps({"rc": result.rc, "stderr": result.stderr[-300:]}), flush=True)
    time.sleep(600)

fetcher = ChartFetcher(args["cache"], runner, args["helm"], [RepositoryCredentials(**args["credentials"])],
                       helm_home=args["home"])
fetcher.fetch(Chart("oci", args["url"], version="1.0.0"), "killed", "", "")
"""


def test_registry_credentials_do_not_survive_a_sigkill(tmp_path, oci_registry):
    """helm pulls with the credentials, the process is killed with SIGKILL mid-pull: no file holds them."""
    home, private = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    private.mkdir()
    args = {"cache": str(tmp_path / "cache"), "helm": tool("helm"), "home": str(home), "url": oci_registry.url("web"),
            "credentials": {"url": f"oci://{oci_registry.host}", "username": oci_registry.username,
                            "password": oci_registry.password, "ca_file": str(oci_registry.ca_file)}}
    env = {**os.environ, "TMPDIR": str(private), "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen([sys.executable, "-c", KILLED_PULL, json.dumps(args)], env=env, stdout=subprocess.PIPE,
                          text=True) as child:
        try:
            pulled = json.loads(child.stdout.readline())
            assert pulled["rc"] == 0, pulled["stderr"]
            held = [os.readlink(f"/proc/{child.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{child.pid}/fd")]
            assert "/memfd:trident-helm-registry (deleted)" in held, "the credentials live in a memfd while helm runs"
        finally:
            child.send_signal(signal.SIGKILL)
    token = base64.b64encode(f"{oci_registry.username}:{oci_registry.password}".encode())
    for root in (home, private, tmp_path / "cache"):
        for path in (p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            content = path.read_bytes()
            assert oci_registry.password.encode() not in content and token not in content, f"credentials in {path}"


@pytest.mark.parametrize(("change", "expected"), [
    ({"templates/config.yaml": "data: {{ .Values.mode "}, "helm template failed: "),
    ({"templates/fail.yaml": '{{ fail (printf "bad password %s" .Values.db.password) }}'}, "bad password <masked>"),
    ({"templates/list.yaml": "- {{ .Values.db.password }}\n"}, "YAML parse error on web/templates/list.yaml"),
    ({"templates/nokind.yaml": "metadata: {name: {{ .Values.db.password }}}\n"},
     "web/templates/nokind.yaml rendered a document that is not a Kubernetes object"),
])
def test_a_bad_chart_fails_naming_release_and_chart_never_the_values(gitops_repo, age_key, change, expected):
    root, env = gitops_repo
    for name, text in change.items():
        (root / "charts" / "web" / name).write_text(text)
    release = {"name": "web", "namespace": "web", "chart": {"path": "../../charts/web"},
               "secret_values_files": ["secrets/web.sops.yaml"]}
    with pytest.raises(TridentError) as caught:
        render(env, [release], age_key, CommandRunner())
    assert caught.value.message.startswith(f"{env}/env.yml: helm release 'web' (chart path ../../charts/web): ")
    assert expected in caught.value.message and SECRET not in caught.value.message


def test_bad_values_fail_clearly(gitops_repo, age_key):
    root, env = gitops_repo
    (env / "values.yaml").write_text("mode: [unclosed\n")
    release = {"name": "web", "namespace": "web", "chart": {"path": "../../charts/web"}, "values_files": ["values.yaml"]}
    with pytest.raises(TridentError, match="helm release 'web' .*values_files 'values.yaml': not valid YAML \\(line \\d+\\)"):
        render(env, [release], age_key, CommandRunner())
    tampered = env / "secrets" / "web.sops.yaml"
    data = yaml.safe_load(tampered.read_text())
    data["sops"]["lastmodified"] = "2001-01-01T00:00:00Z"
    tampered.write_text(yaml.safe_dump(data))
    release = {**release, "values_files": [], "secret_values_files": ["secrets/web.sops.yaml"]}
    with pytest.raises(TridentError, match="secret_values_files 'secrets/web.sops.yaml': cannot decrypt: .*MAC"):
        render(env, [release], age_key, CommandRunner())


def test_provenance_is_verified_with_the_keyring_from_the_repository(gitops_repo, age_key, tmp_path, chart_repository,
                                                                     gnupg_home):
    root, env = gitops_repo
    (root / "keys").mkdir()
    (root / "keys" / "charts.gpg").write_bytes(gnupg_home.gpg("--export", gnupg_home.keys[0].fingerprint))
    (root / "keys" / "other.gpg").write_bytes(gnupg_home.gpg("--export", gnupg_home.keys[1].fingerprint))
    credentials = [RepositoryCredentials(chart_repository.url, chart_repository.username, chart_repository.password,
                                         str(chart_repository.ca_file))]
    chart = {"repo": chart_repository.url, "name": "web", "version": "0.3.0", "keyring": "../../keys/charts.gpg"}
    release = {"name": "signed", "namespace": "web", "chart": chart, "values": {"db": {"password": "x"}}}
    rendered = render(env, [release], age_key, CommandRunner(), cache_dir=str(tmp_path / "cache"),
                      credentials=credentials)
    assert "signed-config" in by_name(rendered)
    for keyring, version, expected in (("../../keys/other.gpg", "0.3.0", "provenance verification failed"),
                                       ("../../keys/charts.gpg", "0.2.0", "web-0.2.0.tgz.prov: HTTP 404")):
        unsigned = {**release, "chart": {**chart, "keyring": keyring, "version": version}}
        with pytest.raises(TridentError, match=expected):
            render(env, [unsigned], age_key, CommandRunner(), cache_dir=str(tmp_path / "cache"),
                   credentials=credentials)
