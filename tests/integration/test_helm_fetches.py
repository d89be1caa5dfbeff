"""Chart fetches are allowlisted (issue 24, class 5), with real HTTP (Ansible's open_url against loopback spy
servers), the real helm and the real apiserver:

- a chart index whose ``urls`` names a controller file (``file://``, also a valid chart package with the matching
  digest, the attack that was rendered and applied) or any other scheme fails naming the environment file, the
  release and the chart; helm never runs, nothing is applied, the spy saw only the index;
- a redirect to ``file://``, ``ftp://``, ``data:`` or any non-http(s) URL is refused, hop by hop (for the index and
  for the package); credentials never follow a redirect to another origin; redirect loops end.
"""

import hashlib
import json

import pytest
import yaml

from kube_support import get, unique
from testbed import tool
from testbed.chartrepo import package
from testbed.spy import Spy

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.helm.charts import RepositoryCredentials, http_get
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run

CANARY = "controller-canary-7f3e9a"
HOSTILE_LOCATIONS = ["file://{file}", "FILE://{file}", "file://localhost{file}", "ftp://127.0.0.1:1/c.tgz",
                     "data:application/gzip;base64,H4sIAAAA", "gopher://127.0.0.1:1/x", "jar:file://{file}!/x",
                     "https://user:pw@127.0.0.1:1/c.tgz", " file://{file}", "\\\\127.0.0.1\\share"]


@pytest.fixture
def spy():
    with Spy() as server:
        yield server


@pytest.fixture
def canary_file(tmp_path):
    path = tmp_path / "controller" / "canary.txt"
    path.parent.mkdir()
    path.write_text(CANARY)
    return path


@pytest.mark.parametrize("location", HOSTILE_LOCATIONS)
def test_a_redirect_to_anything_but_http_is_refused(spy, canary_file, location):
    target = location.format(file=canary_file)
    url = spy.redirect("/stable/index.yaml", target)
    with pytest.raises(TridentError) as refused:
        http_get(url, RepositoryCredentials(url=""))
    message = refused.value.message
    assert "redirects to" in message and "only http:// and https:// URLs" in message, message
    assert CANARY not in message and "pw@" not in message
    assert [r.path for r in spy.requests] == ["/stable/index.yaml"], "the redirect's target was never fetched"


def test_credentials_stay_with_the_first_origin_and_redirect_loops_end(spy):
    with Spy() as other:
        package_url = other.answer("/pkg.tgz", b"package")
        spy.redirect("/stable/moved.tgz", "/stable/here.tgz", status=301)
        spy.redirect("/stable/here.tgz", package_url, status=307)
        credentials = RepositoryCredentials(url=spy.url, username="reader", password="s3cret-pw")
        assert http_get(f"{spy.url}/stable/moved.tgz", credentials) == b"package"
        assert [r.path for r in spy.requests] == ["/stable/moved.tgz", "/stable/here.tgz"]
        assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in spy.requests), \
            "the repository's own origin gets the credentials, after a same-origin redirect too"
        assert [r.path for r in other.requests] == ["/pkg.tgz"]
        assert "Authorization" not in other.requests[0].headers, "another origin never gets them"
    for hop in range(7):
        spy.redirect(f"/loop/{hop}", f"/loop/{hop + 1}")
    with pytest.raises(TridentError, match="more than 5 redirects"):
        http_get(f"{spy.url}/loop/0", RepositoryCredentials(url=""))
    assert len(spy.seen("/loop/")) == 6


def chart_package(tmp_path):
    """A real chart package (helm package) on the controller: a ConfigMap holding the canary."""
    folder = tmp_path / "evil-src" / "web"
    (folder / "templates").mkdir(parents=True)
    (folder / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (folder / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-stolen\n"
        f"data:\n  canary: {CANARY}\n")
    destination = tmp_path / "controller"
    destination.mkdir(exist_ok=True)
    return package(folder, destination, tmp_path / "helm-home")


def gitops_repo(tmp_path, repo_url):
    env = tmp_path / "repo" / "environments" / "prod"
    env.mkdir(parents=True)
    releases = [{"name": "web", "chart": {"repo": repo_url, "name": "web", "version": "0.1.0"}}]
    (env / "env.yml").write_text(yaml.safe_dump({"helm_releases": releases}))
    return env, releases


class CountingRunner(CommandRunner):
    def __init__(self):
        super().__init__()
        self.commands = []

    def __call__(self, argv, **kwargs):
        self.commands.append(list(argv))
        return super().__call__(argv, **kwargs)


@pytest.mark.parametrize("listed", ["file://{file}", "file://localhost{file}", "FILE://{file}", "ftp://{host}/c.tgz",
                                    "gopher://{host}/c.tgz", "http://{host}/redirect-to-file.tgz"])
def test_an_index_that_lists_a_controller_file_renders_nothing_and_applies_nothing(control_plane, tmp_path, spy,
                                                                                   listed):
    packaged = chart_package(tmp_path)
    digest = hashlib.sha256(packaged.read_bytes()).hexdigest()
    spy.redirect("/redirect-to-file.tgz", f"file://{packaged}")
    url = listed.format(file=packaged, host=spy.host)
    index = {"apiVersion": "v1", "entries": {"web": [{"name": "web", "version": "0.1.0", "digest": digest,
                                                      "urls": [url]}]}}
    spy.answer("/stable/index.yaml", yaml.safe_dump(index).encode())
    repo_url = f"{spy.url}/stable"
    env, releases = gitops_repo(tmp_path, repo_url)
    ns = unique("helmfetch")
    runner = CountingRunner()
    request = validated_request({
        "kubeconfig": str(control_plane.kubeconfig), "namespace": ns, "apply": True,
        "discovery_cache": str(tmp_path / "discovery"),
        "definition": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}],
        "helm": {"releases": releases, "env_path": str(env), "repo_path": str(tmp_path / "repo"),
                 "binary": tool("helm"), "chart_cache": str(tmp_path / "chart-cache")}})
    with pytest.raises(TridentError) as refused:
        run(request, runner=runner)
    message = refused.value.message
    where = f"environments/prod/env.yml: helm release 'web' (chart web 0.1.0 from {repo_url})"
    assert where in message and "nothing was sent to the cluster" in message, message
    assert "only http:// and https:// URLs with a host" in message
    assert CANARY not in json.dumps(message) and str(tmp_path / "chart-cache") not in message
    assert not any(argv[1:2] == ["template"] for argv in runner.commands), "helm never rendered anything"
    assert not (tmp_path / "chart-cache").exists() or not any((tmp_path / "chart-cache").iterdir())
    assert [r.path for r in spy.requests if r.path != "/redirect-to-file.tgz"] == ["/stable/index.yaml"]
    assert get(control_plane, "namespace", ns) is None and get(control_plane, "configmap", "web-stolen", ns) is None
