"""Chart fetching: once per run, cached by digest, verified against the repository index."""

import hashlib

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.helm.charts import (
    ChartFetcher,
    RepositoryCredentials,
    credentials_for,
    find_entry,
)
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_chart

PACKAGE = b"\x1f\x8b pretend this is a chart package"
DIGEST = hashlib.sha256(PACKAGE).hexdigest()
REPO = "https://charts.example.com/stable"
CREDS = RepositoryCredentials(REPO, "user", "pa55word")


def index(digest=DIGEST, url="web-1.2.3.tgz"):
    entry = {"name": "web", "version": "1.2.3", "urls": [url], "digest": digest}
    return yaml.safe_dump({"apiVersion": "v1", "entries": {"web": [entry, {**entry, "version": "1.0.0"}]}}).encode()


class Server:
    """Answers GETs from a dict of URL -> bytes and records (url, credentials)."""

    def __init__(self, files):
        self.files = files
        self.gets = []

    def __call__(self, url, credentials):
        self.gets.append((url, credentials.username))
        if url not in self.files:
            raise TridentError(f"cannot download {url}: HTTP 404")
        return self.files[url]


def chart(**extra):
    return parse_chart({"repo": REPO, "name": "web", "version": "1.2.3", **extra}, "env.yml")


def fetcher(tmp_path, server, credentials=(CREDS,)):
    return ChartFetcher(str(tmp_path / "cache"), runner=None, helm="helm", credentials=credentials, get=server)


def test_fetched_once_per_run_verified_and_cached_by_digest(tmp_path):
    server = Server({f"{REPO}/index.yaml": index(), f"{REPO}/web-1.2.3.tgz": PACKAGE})
    first = fetcher(tmp_path, server)
    path = first.fetch(chart(), "env.yml", str(tmp_path), str(tmp_path))
    assert open(path, "rb").read() == PACKAGE and path.endswith(f"sha256-{DIGEST}.tgz")
    assert first.fetch(chart(), "env.yml", str(tmp_path), str(tmp_path)) == path
    assert server.gets == [(f"{REPO}/index.yaml", "user"), (f"{REPO}/web-1.2.3.tgz", "user")]
    # The next run reads the index again (a tag may move) but not the package; pinned, not even the index.
    fetcher(tmp_path, server).fetch(chart(), "env.yml", str(tmp_path), str(tmp_path))
    fetcher(tmp_path, server).fetch(chart(digest=f"sha256:{DIGEST}"), "env.yml", str(tmp_path), str(tmp_path))
    assert len(server.gets) == 3


def test_a_package_that_does_not_match_the_index_is_refused(tmp_path):
    server = Server({f"{REPO}/index.yaml": index(), f"{REPO}/web-1.2.3.tgz": PACKAGE + b"tampered"})
    with pytest.raises(TridentError, match="does not match the repository index digest"):
        fetcher(tmp_path, server).fetch(chart(), "env.yml", str(tmp_path), str(tmp_path))
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_a_cached_file_that_changed_is_fetched_again(tmp_path):
    server = Server({f"{REPO}/index.yaml": index(), f"{REPO}/web-1.2.3.tgz": PACKAGE})
    path = fetcher(tmp_path, server).fetch(chart(), "env.yml", str(tmp_path), str(tmp_path))
    with open(path, "ab") as handle:
        handle.write(b"corrupted")
    assert open(fetcher(tmp_path, server).fetch(chart(), "e", str(tmp_path), str(tmp_path)), "rb").read() == PACKAGE


def test_pinned_digest_must_match_the_index(tmp_path):
    server = Server({f"{REPO}/index.yaml": index()})
    with pytest.raises(TridentError, match=f"index gives digest sha256:{DIGEST}, env.yml pins sha256:b"):
        fetcher(tmp_path, server).fetch(chart(digest="b" * 64), "env.yml", str(tmp_path), str(tmp_path))


def test_credentials_stay_with_their_origin(tmp_path):
    elsewhere = "https://cdn.example.net/web-1.2.3.tgz"
    server = Server({f"{REPO}/index.yaml": index(url=elsewhere), elsewhere: PACKAGE})
    fetcher(tmp_path, server).fetch(chart(), "env.yml", str(tmp_path), str(tmp_path))
    assert server.gets == [(f"{REPO}/index.yaml", "user"), (elsewhere, "")]


def test_index_lookups():
    parsed = yaml.safe_load(index())
    assert find_entry(parsed, "web", "v1.2.3", "w") == (["web-1.2.3.tgz"], DIGEST)
    for name, version, expected in (("api", "1.2.3", "no chart named 'api'"), ("web", "2.0.0", "no version 2.0.0")):
        with pytest.raises(TridentError, match=expected):
            find_entry(parsed, name, version, "w")
    with pytest.raises(TridentError, match="no sha256 digest"):
        find_entry(yaml.safe_load(index(digest="")), "web", "1.2.3", "w")
    with pytest.raises(TridentError, match="not a Helm index"):
        find_entry(["x"], "web", "1.2.3", "w")


def test_credentials_by_longest_prefix():
    broad, narrow = RepositoryCredentials("https://charts.example.com"), CREDS
    assert credentials_for(f"{REPO}/", (broad, narrow)) is narrow
    assert credentials_for("https://charts.example.com/other", (broad, narrow)) is broad
    assert credentials_for("https://charts.example.comevil/x", (broad,)).username == ""
    assert "pa55word" not in repr(CREDS)


# Every URL form a chart index could list for the package: what is fetched is an http(s) URL with a host, whatever
# the index (the repository's server, or whoever answers for it) says.
REFUSED_URLS = ["file:///etc/passwd", "FILE:///etc/passwd", "file://localhost/etc/passwd", "ftp://h.example/c.tgz",
                "data:application/gzip;base64,H4sI", "gopher://h/x", "jar:file:///x!/y", "ssh://h/c.tgz",
                " file:///etc/passwd", "\tfile:///etc/passwd", "http:/single-slash.tgz",
                "https://user:pw@cdn.example/c.tgz", "https://cdn.example/a b.tgz", "https://cdn.example\\@evil/c.tgz",
                "https://cdn.example/c.tgz\nHost: x", "oci://registry.example/web", "git+https://h/x.tgz",
                "local:/etc/passwd", "c:/charts/web.tgz"]
FETCHED_URLS = [("web-1.2.3.tgz", f"{REPO}/web-1.2.3.tgz"), ("../../web.tgz", "https://charts.example.com/web.tgz"),
                ("/abs/web.tgz", "https://charts.example.com/abs/web.tgz"),
                ("//cdn.example.net/web.tgz", "https://cdn.example.net/web.tgz"),
                # Python's urljoin reads a same-scheme URL without a host as relative to the repository.
                ("https:///no-host.tgz", "https://charts.example.com/no-host.tgz"),
                ("HTTP://cdn.example.net:8080/web.tgz?x=1", "HTTP://cdn.example.net:8080/web.tgz?x=1")]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_an_index_url_that_is_not_http_is_refused_before_anything_is_fetched(tmp_path, url):
    server = Server({f"{REPO}/index.yaml": index(url=url)})
    where = "environments/prod/env.yml: helm release 'web' (chart web 1.2.3 from https://charts.example.com/stable)"
    with pytest.raises(TridentError) as refused:
        fetcher(tmp_path, server).fetch(chart(), where, str(tmp_path), str(tmp_path))
    assert refused.value.message.startswith(where + ": refusing to fetch ")
    assert "only http:// and https:// URLs" in refused.value.message and "nothing was fetched" in refused.value.message
    assert "pw@" not in refused.value.message
    assert server.gets == [(f"{REPO}/index.yaml", "user")], "only the index was fetched"


@pytest.mark.parametrize("listed, fetched", FETCHED_URLS)
def test_relative_and_absolute_http_urls_resolve_against_the_repository_and_stay_http(tmp_path, listed, fetched):
    server = Server({f"{REPO}/index.yaml": index(url=listed), fetched: PACKAGE})
    fetcher(tmp_path, server).fetch(chart(), "env.yml", str(tmp_path), str(tmp_path))
    assert server.gets[-1][0] == fetched


@pytest.mark.parametrize("location", ["file:///etc", "oci://registry.example/charts/web?x=1", "oci://u:p@r.example/c",
                                      "oci:///web", "oci://registry.example", "oci://r.example/c web", "https://r/c"])
def test_an_oci_reference_is_a_host_and_a_repository_nothing_else(location):
    with pytest.raises(TridentError, match="chart 'oci' must be an oci:// reference"):
        parse_chart({"oci": location, "version": "1.2.3"}, "env.yml")
    assert parse_chart({"oci": "oci://127.0.0.1:5000/charts/web", "version": "1.2.3"}, "env.yml").kind == "oci"
