"""``playbooks/status.yml`` and the drift report page against real environments in every state (issue 30,
docs/status.md, docs/drift-report.md).

On the fuller cluster (kwok nodes: a Deployment becomes Healthy, or Degraded when its pods never get ready), real
terraform and the local git server. One reconcile deploys ``insync``, ``drifted``, ``held`` (promote_from drifted),
``degraded`` and ``tfonly`` (Terraform only); ``never`` is left out of it. A second commit, whose subject is hostile
(terminal escape sequences, HTML), changes the folders of ``drifted`` and ``held`` and adds a folder whose name
carries an escape sequence. The status playbook then reads every state, writes nothing, and prints no control
character. A drift run of the same environments writes drift-report.html, opened in headless Chromium: it renders
(screenshot kept in the test's tmp folder, ``<tmp>/status*/artifacts/drift-report.png``), the promotion chain is
drawn, the hostile subject is text, and neither Chromium's net log nor the spy server (named by the subject's
``<img>``, ``<link>`` and ``<script>``) sees a request.
"""

import json
import time
from html.parser import HTMLParser

import pytest

from kube_support import HEALTHY_TIMEOUT, client, unique
from test_drift_degraded import deployment_yaml
from test_reconcile_e2e import configmap, namespace
from testbed.browser import open_page
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.spyserver import SpyServer
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import DEGRADED, health
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import visible

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workload_cluster")]

TF = 'resource "terraform_data" "a" {\n  input = "%s"\n}\n'
HOSTILE_SUBJECT = ("drifted: \x1b[2J\x1b]8;;http://127.0.0.1:9/\x07click\x1b]8;;\x07 \x9b31m <script>alert(1)</script>"
                   " \u202eevil <img src=\"{spy}/img\"> <link rel=stylesheet href=\"{spy}/css\"> "
                   "<script src=\"{spy}/js\"></script> <iframe src=\"{spy}/frame\"></iframe>")
HOSTILE_FOLDER = "evil\x1b[31mred"
HOSTILE_FILE = "<svg onload=alert(1)>.yaml"
KUBE_ENVS = ("insync", "drifted", "held", "degraded", "never")


@pytest.fixture(scope="module")
def spy():
    with SpyServer() as server:
        yield server


@pytest.fixture(scope="module")
def story(tmp_path_factory, workload_cluster, git_server, spy):
    work = tmp_path_factory.mktemp("status")
    repo = GitOpsRepo(git_server, unique("status-gitops"), work / "clone")
    namespaces = {env: unique(f"status-{env}") for env in KUBE_ENVS}
    for env, ns in namespaces.items():
        settings = {"namespace": ns, **({"promote_from": "drifted"} if env == "held" else {})}
        repo.write(f"environments/{env}/env.yml", json.dumps(settings))
        repo.write(f"environments/{env}/kubeconfig.yaml", kubeconfig_text(workload_cluster))
        manifests = (deployment_yaml("app", ns, "never-ready") if env == "degraded"
                     else namespace(ns) + configmap("settings", ns, "one"))
        repo.write(f"environments/{env}/yaml/app.yaml", manifests)
    repo.write("environments/tfonly/env.yml", json.dumps({"terraform_binary": "terraform"}))
    repo.write("environments/tfonly/main.tf", TF % "one")
    first = repo.push("every environment, first revision")
    inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")
    extra = isolated_vars(work)

    deployed = run_gitops("reconcile", inventory, work, extra_vars={**extra, "trident_hosts": "all:!never"})
    assert deployed.rc == 0, deployed.explain()
    kube = client(workload_cluster)
    path = f"/apis/apps/v1/namespaces/{namespaces['degraded']}/deployments/app"
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    while health(kube.request("GET", path)).status != DEGRADED:
        assert time.monotonic() < deadline, "the degraded environment's Deployment never became Degraded"
        time.sleep(0.5)

    for env in ("drifted", "held"):
        repo.write(f"environments/{env}/yaml/app.yaml",
                   namespace(namespaces[env]) + configmap("settings", namespaces[env], "two"))
    repo.write(f"environments/drifted/yaml/{HOSTILE_FILE}", configmap("extra", namespaces["drifted"], "x"))
    repo.write(f"environments/{HOSTILE_FOLDER}/env.yml", "{}\n")
    subject = HOSTILE_SUBJECT.format(spy=spy.url)
    second = repo.push(subject)

    def status(**more):
        result = run_gitops("status", inventory, work, extra_vars={**extra, **more},
                            stdout_callback="ansible.builtin.default")
        assert result.rc == 0, f"rc={result.rc}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
        return result

    def drift():
        return run_gitops("drift", inventory, work, extra_vars=extra)

    return {"status": status, "drift": drift, "work": work, "first": first, "second": second, "kube": kube,
            "namespaces": namespaces, "subject": subject}


def parents(story):
    """The resourceVersion of every ApplySet parent: status must write none of them."""
    return {env: story["kube"].request("GET", f"/api/v1/namespaces/{ns}/secrets/trident-{env}")
            ["metadata"]["resourceVersion"] for env, ns in story["namespaces"].items() if env != "never"}


def files_under(folder):
    return sorted((str(path.relative_to(folder)), path.stat().st_mtime_ns) for path in folder.rglob("*"))


def test_status_reads_every_state_and_writes_nothing(story):
    work = story["work"]
    before = parents(story), files_under(work / "terraform-state")
    result = story["status"](status_json=str(work / "status.json"))
    assert (parents(story), files_under(work / "terraform-state")) == before, "status wrote something"

    document = json.loads((work / "status.json").read_text())
    assert document["format"] == "trident.gitops/status/v1"
    found = {entry["name"]: entry for entry in document["environments"]}
    hostile_host = next(name for name in found if name.startswith("invalid-environment-"))
    assert {name: entry["state"] for name, entry in found.items()} == {
        "insync": "in sync", "drifted": "drifted", "held": "held", "degraded": DEGRADED, "never": "never deployed",
        "tfonly": "in sync", hostile_host: "unknown"}
    assert document["summary"] == {"unknown": 1, "never deployed": 1, DEGRADED: 1, "held": 1, "drifted": 1,
                                   "in sync": 2}

    first, second = story["first"], story["second"]
    for name in ("insync", "drifted", "held", "degraded", "tfonly"):
        assert found[name]["deployed"]["revision"] == first, name
        assert found[name]["branch"]["revision"] == second, name
    assert found["never"]["deployed"]["revision"] is None
    assert found["insync"]["health"] == "Healthy" and found["tfonly"]["health"] is None
    assert found["degraded"]["sync"] == "in sync"
    (unhealthy,) = found["degraded"]["unhealthy"]
    assert (unhealthy["kind"], unhealthy["name"], unhealthy["health"]) == ("Deployment", "app", DEGRADED)
    assert found["held"]["promotion"]["from"] == "drifted" and found["held"]["promotion"]["waits"]
    assert found["held"]["promotion"]["reason"].startswith(f"waiting for drifted to be Healthy at {second[:7]}")
    assert not found["drifted"]["promotion"]["waits"]
    assert found["drifted"]["branch"]["subject"] == visible(story["subject"])
    assert found["drifted"]["branch"]["subject"].startswith("drifted: \\x1b[2J\\x1b]8;;http://127.0.0.1:9/\\x07click")
    assert "<script>alert(1)</script>" in found["drifted"]["branch"]["subject"]
    assert "cannot be an environment" in found[hostile_host]["problems"][0]

    # The table, as a person reads it: one line per environment, its state, and not one control character.
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.split() and line.split()[0] in found}
    assert lines["held"].split()[1] == "held" and "waiting for drifted" in lines["held"]
    assert lines["never"].split()[1:3] == ["never", "deployed"]
    assert lines["drifted"].split()[2:4] == [first[:7], second[:7]]
    assert "Deployment" in lines["degraded"] and DEGRADED in lines["degraded"]
    for text in (result.stdout, result.stderr, (work / "status.json").read_text()):
        assert not [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
                    or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"], "a control character got out"


def test_status_shows_json_on_request(story):
    result = story["status"](status_show="json")
    start = result.stdout.index('{\n "environments"')
    document = json.JSONDecoder().raw_decode(result.stdout[start:])[0]
    assert {entry["name"]: entry["state"] for entry in document["environments"]}["drifted"] == "drifted"
    assert "ENVIRONMENT" not in result.stdout


class Dom(HTMLParser):
    """The elements (tag, attributes) of the DOM Chromium built, and the text of each ``<code>``."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements, self.codes, self._code = [], [], None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "code":
            self._code = []

    def handle_endtag(self, tag):
        if tag == "code" and self._code is not None:
            self.codes.append("".join(self._code))
            self._code = None

    def handle_data(self, data):
        if self._code is not None:
            self._code.append(data)

    def having(self, tag, css_class=None):
        return [attrs for name, attrs in self.elements
                if name == tag and (css_class is None or css_class in (attrs.get("class") or "").split())]


def test_the_report_page_renders_in_chromium_fetches_nothing_and_shows_the_subject_as_text(story, spy):
    work = story["work"]
    result = story["drift"]()
    assert result.rc in (0, 2), result.explain()  # the hostile folder is an environment that fails
    page_file = result.report_dir / "drift-report.html"
    assert (result.report_dir / "drift-report.md").exists() and page_file.exists()
    artifacts = work / "artifacts"
    page = open_page(page_file, artifacts)
    print(f"screenshot of the drift report page: {page.screenshot}")
    assert page.screenshot.stat().st_size > 10_000, "an empty screenshot"
    assert page.requested == [], f"the page fetched {page.requested}"
    assert spy.requests == [], "the spy server saw a request"

    dom = Dom(page.dom)
    assert not {"img", "script", "link", "iframe"} & {tag for tag, _attrs in dom.elements}
    (chain,) = [attrs for tag, attrs in dom.elements if tag == "svg" and attrs.get("id") == "promotion-chain"]
    boxes = dom.having("g", "environment")
    assert len(boxes) == len(result.report["environments"]) and len(dom.having("rect")) == len(boxes)
    (held_line,) = dom.having("line", "held")
    assert held_line["stroke-dasharray"] == "6 4" and held_line["stroke"] == "#cf222e"
    assert visible(story["subject"]) in dom.codes, "the hostile subject is not one code element of the page"
    assert any(code.endswith(visible(HOSTILE_FILE)) for code in dom.codes), "the hostile file name is not text"
    assert "held" in page.dom and "waiting for drifted" in page.dom

    # The oracle can fail: a page that does load from the spy is seen by both Chromium's log and the spy.
    control = work / "control.html"
    control.write_text(f'<!DOCTYPE html><html><body><img src="{spy.url}/control.png"></body></html>')
    seen = open_page(control, artifacts)
    assert seen.requested == [f"{spy.url}/control.png"] and {r["path"] for r in spy.requests} == {"/control.png"}
