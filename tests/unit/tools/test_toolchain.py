"""The toolchain's pure parts: wrapper go.mod files, build commands, the build order and the parallel installer."""

import stat
import threading
import time

import pytest

import toolchain

VAULT_GOMOD = """\
module github.com/hashicorp/vault

go 1.25.3

replace github.com/hashicorp/vault/api => ./api

replace github.com/hashicorp/vault/sdk => ./sdk

replace github.com/99designs/keyring => github.com/Jeffail/keyring v1.2.3

require (
\tgithub.com/hashicorp/vault/api v1.22.0
\tgithub.com/hashicorp/vault/sdk v0.21.0
)
"""

GITEA_GOMOD = """\
module gitea.dev

go 1.26.4

require modernc.org/sqlite v1.53.0

replace go.yaml.in/yaml/v4 => go.yaml.in/yaml/v4 v4.0.0-rc.3 // rc.4 changes block scalar serialization

replace github.com/microsoft/go-mssqldb => github.com/microsoft/go-mssqldb v1.9.7 // downgraded with Azure SDK
"""


def test_sibling_modules_come_from_their_published_versions():
    spec = {"module": "github.com/hashicorp/vault", "version": "v1.21.4"}
    gomod = toolchain.wrapper_gomod("vault", spec, VAULT_GOMOD)
    assert "require github.com/hashicorp/vault v1.21.4" in gomod
    assert "./api" not in gomod and "./sdk" not in gomod
    assert "replace github.com/99designs/keyring => github.com/Jeffail/keyring v1.2.3" in gomod


def test_a_module_declaring_another_path_is_required_by_it_and_replaced_by_the_served_one():
    spec = {"module": "code.gitea.io/gitea", "version": "v1.27.3"}
    gomod = toolchain.wrapper_gomod("gitea", spec, GITEA_GOMOD)
    assert "require gitea.dev v1.27.3" in gomod
    assert "replace gitea.dev => code.gitea.io/gitea v1.27.3" in gomod
    assert "require code.gitea.io/gitea" not in gomod


def test_replace_lines_with_trailing_comments_are_kept():
    gomod = toolchain.wrapper_gomod("gitea", {"module": "code.gitea.io/gitea", "version": "v1.27.3"}, GITEA_GOMOD)
    assert "replace go.yaml.in/yaml/v4 => go.yaml.in/yaml/v4 v4.0.0-rc.3\n" in gomod
    assert "replace github.com/microsoft/go-mssqldb => github.com/microsoft/go-mssqldb v1.9.7\n" in gomod


def test_extra_requirements_join_the_wrapper():
    spec = {"module": "github.com/open-policy-agent/conftest", "version": "v0.71.1",
            "require": {"github.com/open-policy-agent/opa": "v1.21.1"}}
    gomod = toolchain.wrapper_gomod("conftest", spec, "module github.com/open-policy-agent/conftest\n\ngo 1.26.8\n")
    assert "require github.com/open-policy-agent/conftest v0.71.1\n" in gomod
    assert "require github.com/open-policy-agent/opa v1.21.1\n" in gomod


def test_kubernetes_staging_modules_map_to_their_published_releases():
    upstream = ("module k8s.io/kubernetes\n\ngodebug default=go1.25\n\n"
                "replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n)\n")
    gomod = toolchain.wrapper_gomod("kubernetes", {"module": "k8s.io/kubernetes", "version": "v1.35.4"}, upstream)
    assert "replace k8s.io/api => k8s.io/api v0.35.4" in gomod
    assert "godebug default=go1.25" in gomod


def test_build_command_carries_tags_and_ldflags(tmp_path):
    spec = {"module": "code.gitea.io/gitea", "version": "v1.27.3", "tags": ["minimal", "other"],
            "ldflags": "-X main.Version={number}"}
    cmd = toolchain.go_build_command(spec, tmp_path / "gitea", "gitea.dev")
    assert cmd == ["go", "build", "-o", str(tmp_path / "gitea"), "-tags", "minimal,other",
                   "-ldflags", "-X main.Version=1.27.3", "gitea.dev"]
    assert toolchain.go_build_command({"module": "filippo.io/age", "version": "v1.2.1"}, tmp_path / "age",
                                      "filippo.io/age/cmd/age") == ["go", "build", "-o", str(tmp_path / "age"),
                                                                    "filippo.io/age/cmd/age"]


def test_longest_cold_builds_start_first(monkeypatch):
    monkeypatch.setattr(toolchain, "VERSIONS", {"small": {"cold_seconds": 5}, "big": {"cold_seconds": 600},
                                                "unknown": {}, "middle": {"cold_seconds": 100}})
    assert toolchain.build_order(["small", "unknown", "big", "middle"]) == ["big", "middle", "small", "unknown"]


def test_every_pinned_tool_has_a_cold_build_time():
    assert all(spec.get("cold_seconds", 0) > 0 for spec in toolchain.VERSIONS.values())


def test_tools_build_side_by_side_and_one_failure_does_not_stop_the_others(monkeypatch):
    running, peak, done = set(), [], []
    lock = threading.Lock()

    def fake_install(name):
        with lock:
            running.add(name)
            peak.append(len(running))
        time.sleep(0.2)
        with lock:
            running.discard(name)
        if name == "broken":
            raise toolchain.ToolError("no such module")
        done.append(name)

    monkeypatch.setattr(toolchain, "install", fake_install)
    monkeypatch.setattr(toolchain, "VERSIONS", {n: {} for n in ("a", "b", "broken", "c")})
    failures = toolchain.install_all(["a", "b", "broken", "c"], jobs=2)
    assert failures == ["broken: no such module"]
    assert sorted(done) == ["a", "b", "c"]
    assert max(peak) == 2


def test_copies_of_the_read_only_module_cache_can_be_removed(tmp_path):
    source = tmp_path / "mod" / "templates"
    (source / "repo").mkdir(parents=True)
    (source / "repo" / "home.tmpl").write_text("{{.Title}}")
    for path in (source / "repo" / "home.tmpl", source / "repo", source):
        path.chmod(stat.S_IRUSR | stat.S_IXUSR if path.is_dir() else stat.S_IRUSR)
    try:
        toolchain.copy_writable(source, tmp_path / "copy")
        assert (tmp_path / "copy" / "repo" / "home.tmpl").read_text() == "{{.Title}}"
        (tmp_path / "copy" / "repo" / "new").write_text("writable")  # a root test would pass anyway: also write
        assert all((p.stat().st_mode & stat.S_IWUSR) for p in (tmp_path / "copy").rglob("*") if p.is_dir())
    finally:
        for path in (source, source / "repo"):
            path.chmod(0o755)


@pytest.mark.parametrize("name", ["vault", "conftest", "gitea"])
def test_the_new_services_are_pinned_go_builds(name):
    spec = toolchain.VERSIONS[name]
    assert spec["version"].startswith("v") and spec["packages"]


def test_only_the_services_few_tests_start_are_deferred():
    assert sorted(name for name in toolchain.VERSIONS if toolchain.deferred(name)) == ["gitea", "vault"]
    assert toolchain.owner_of("opa") == "conftest" and toolchain.owner_of("kubectl") == "kubernetes"
    assert toolchain.owner_of("gpg") is None


def test_core_tools_install_before_the_deferred_ones_and_at_a_higher_priority(monkeypatch):
    order, niceness = [], []
    monkeypatch.setattr(toolchain, "VERSIONS", {"big-service": {"cold_seconds": 900, "deferred": True},
                                                "core-a": {"cold_seconds": 10}, "core-b": {"cold_seconds": 20}})
    monkeypatch.setattr(toolchain, "install", order.append)
    monkeypatch.setattr(toolchain.os, "nice", niceness.append)
    assert toolchain.install_in_phases(["big-service", "core-a", "core-b"], jobs=1) == []
    assert order == ["core-b", "core-a", "big-service"]
    assert niceness == [10]


def test_core_tools_alone_change_no_priority(monkeypatch):
    niceness = []
    monkeypatch.setattr(toolchain, "VERSIONS", {"core-a": {"cold_seconds": 10}})
    monkeypatch.setattr(toolchain, "install", lambda name: None)
    monkeypatch.setattr(toolchain.os, "nice", niceness.append)
    toolchain.install_in_phases(["core-a"])
    assert niceness == []


def _fake_tool(monkeypatch, tmp_path, builds):
    """A one-binary tool whose 'build' writes the binary after a pause, counting builds."""
    monkeypatch.setattr(toolchain, "CACHE", tmp_path)
    monkeypatch.setattr(toolchain, "TOOLS_DIR", tmp_path / "tools")
    monkeypatch.setattr(toolchain, "BIN_DIR", tmp_path / "bin")
    monkeypatch.setattr(toolchain, "VERSIONS", {"svc": {"version": "v1", "packages": {"svc": "example.com/svc"},
                                                        "deferred": True}})

    def fake_build(name, spec, dest, binaries, folders=()):
        builds.append(threading.current_thread().name)
        time.sleep(0.3)
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "svc").write_text("binary")

    monkeypatch.setattr(toolchain, "build_go_tool", fake_build)


def test_two_installers_of_one_tool_build_it_once_and_both_see_it(monkeypatch, tmp_path):
    builds = []
    _fake_tool(monkeypatch, tmp_path, builds)
    installers = [threading.Thread(target=toolchain.install, args=("svc",), name=f"installer-{i}") for i in range(3)]
    for thread in installers:
        thread.start()
    for thread in installers:
        thread.join()
    assert len(builds) == 1
    assert (tmp_path / "bin" / "svc").read_text() == "binary"


def test_a_test_asking_for_a_deferred_tool_installs_it(monkeypatch, tmp_path):
    import testbed

    builds = []
    _fake_tool(monkeypatch, tmp_path, builds)
    assert testbed.tool("svc") == str(tmp_path / "bin" / "svc")
    assert testbed.tool("svc") == str(tmp_path / "bin" / "svc")
    assert len(builds) == 1


def test_a_deferred_tool_that_fails_to_build_fails_the_test_that_needs_it(monkeypatch, tmp_path):
    import testbed

    _fake_tool(monkeypatch, tmp_path, [])

    def broken(*_args, **_kwargs):
        raise toolchain.ToolError("go build failed: no space left")

    monkeypatch.setattr(toolchain, "build_go_tool", broken)
    with pytest.raises(testbed.MissingTool, match="'svc' could not be built: go build failed"):
        testbed.tool("svc")


def test_installers_linking_one_tool_at_once_never_trip_on_each_other(tmp_path):
    targets = []
    for version in ("v1", "v2"):  # alternating targets: every call replaces the link through its staged one
        target = tmp_path / "tools" / f"svc-{version}" / "svc"
        target.parent.mkdir(parents=True)
        target.write_text("binary")
        targets.append(target)
    errors = []

    def link_many():
        try:
            for index in range(200):
                toolchain.link_atomically(tmp_path / "svc", targets[index % 2])
        except OSError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=link_many) for _thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (tmp_path / "svc").read_text() == "binary"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc", "tools"]  # no staged link left behind


def test_a_file_system_failure_of_one_tool_does_not_stop_the_others(monkeypatch):
    done = []

    def fake_install(name):
        if name == "broken":
            raise FileExistsError(17, "File exists")
        done.append(name)

    monkeypatch.setattr(toolchain, "install", fake_install)
    monkeypatch.setattr(toolchain, "VERSIONS", {n: {} for n in ("a", "broken", "c")})
    assert toolchain.install_all(["a", "broken", "c"], jobs=2) == ["broken: FileExistsError: [Errno 17] File exists"]
    assert sorted(done) == ["a", "c"]
