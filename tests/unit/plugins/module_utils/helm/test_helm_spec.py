"""The env.yml helm_releases shape: what is accepted, and errors that name the file and the release."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_releases

ENV = "environments/prod/env.yml"
DIGEST = "a" * 64


def test_the_three_chart_sources_and_defaults():
    releases = parse_releases([
        {"name": "web", "chart": {"path": "../../charts/web"}, "values_files": ["values/web.yaml"],
         "secret_values_files": ["secrets/web.sops.yaml"], "values": {"replicas": 2}},
        {"name": "cache", "namespace": "data",
         "chart": {"repo": "https://charts.example.com/stable", "name": "redis", "version": "1.2.3",
                   "digest": f"sha256:{DIGEST}"}},
        {"name": "db", "chart": {"oci": "oci://registry.example.com/charts/pg", "version": "v15.0.1-rc.1"}},
    ], ENV, default_namespace="apps")
    web, cache, db = releases
    assert (web.namespace, web.chart.kind, web.chart.location) == ("apps", "path", "../../charts/web")
    assert web.values_files == ("values/web.yaml",) and web.secret_values_files == ("secrets/web.sops.yaml",)
    assert web.values == {"replicas": 2}
    assert (cache.namespace, cache.chart.name, cache.chart.version, cache.chart.digest) == ("data", "redis", "1.2.3",
                                                                                            DIGEST)
    assert db.chart.label == "oci://registry.example.com/charts/pg v15.0.1-rc.1"
    assert parse_releases(None, ENV) == []


@pytest.mark.parametrize(("release", "expected"), [
    ({"name": "web", "chart": {"path": "c"}, "replicas": 2}, "unknown key(s) replicas"),
    ({"name": "Web_1", "chart": {"path": "c"}}, "'name' must be a release name"),
    ({"name": "web", "chart": {"path": "c", "repo": "https://x"}}, "exactly one of path, repo or oci"),
    ({"name": "web", "chart": {"repo": "https://x", "name": "web", "version": "^1.2.0"}}, "exact version"),
    ({"name": "web", "chart": {"repo": "https://x", "name": "web"}}, "exact version"),
    ({"name": "web", "chart": {"repo": "https://u:p@x", "name": "w", "version": "1.0.0"}}, "must not hold credentials"),
    ({"name": "web", "chart": {"repo": "ftp://x", "name": "w", "version": "1.0.0"}}, "http(s):// URL"),
    ({"name": "web", "chart": {"oci": "registry/x", "version": "1.0.0"}}, "oci:// reference"),
    ({"name": "web", "chart": {"oci": "oci://r/x", "version": "1.0.0", "digest": DIGEST}}, "unknown key(s) digest"),
    ({"name": "web", "chart": {"repo": "https://x", "name": "w", "version": "1.0.0", "digest": "md5:1"}}, "sha256:"),
    ({"name": "web", "chart": {"path": "c"}, "secret_values_files": ["secrets/web.yaml"]}, "not named *.sops.yaml"),
    ({"name": "web", "chart": {"path": "c"}, "values": ["a"]}, "'values' must be a mapping"),
    ({"name": "web", "chart": {"path": "c"}, "values_files": "v.yaml"}, "'values_files' must be a list"),
    ({"name": "web", "namespace": "Bad_NS", "chart": {"path": "c"}}, "'namespace' must be a namespace name"),
])
def test_refusals_name_the_file_and_the_release(release, expected):
    with pytest.raises(TridentError) as caught:
        parse_releases([release], ENV, default_namespace="apps")
    assert expected in caught.value.message
    assert caught.value.message.startswith(f"{ENV}: helm_releases[0]")


def test_a_release_declared_twice_and_a_non_list():
    twice = [{"name": "web", "namespace": "a", "chart": {"path": "c"}}] * 2
    with pytest.raises(TridentError, match="'web' is declared twice in namespace 'a'"):
        parse_releases(twice, ENV)
    assert len(parse_releases([twice[0], {**twice[0], "namespace": "b"}], ENV)) == 2
    with pytest.raises(TridentError, match="must be a list"):
        parse_releases({"name": "web"}, ENV)
