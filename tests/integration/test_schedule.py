"""Schedules without AWX (issue 19): the systemd service's ExecStart and the GitLab scheduled pipeline's
script lines, run as they are against a GitOps repository on the local git server and the real control plane.

gitlab-ci-local is not used: its current npm release needs Node 22 (this machine has Node 20) and older
releases build the native re2 module. The scheduled jobs are selected by evaluating their `rules`
for a schedule pipeline, in stage order, and their script lines run with the pipeline's variables.
"""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from run_sanity import REPO
from test_reconcile_e2e import Cluster, configmap, namespace

from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, write_inventory

pytestmark = pytest.mark.slow

SYSTEMD = REPO / "examples" / "systemd"
GITLAB_CI = REPO / "examples" / "gitops-repo" / ".gitlab-ci.yml"
ENV = "scheduled"


def unit_file(path):
    """A systemd unit file as {section: [(key, value), ...]} (keys repeat, e.g. Environment=)."""
    sections, current = {}, None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _sep, value = line.partition("=")
            current.append((key, value))
    return sections


def values(section, key):
    return [value for name, value in section if name == key]


@pytest.fixture(scope="module")
def gitops(tmp_path_factory, control_plane, git_server):
    work = tmp_path_factory.mktemp("schedule")
    repo = GitOpsRepo(git_server, "scheduled-gitops", work / "clone")
    repo.write(f"environments/{ENV}/kubeconfig.yaml", kubeconfig_text(control_plane))
    repo.write(f"environments/{ENV}/yaml/all.yaml", namespace(ENV) + configmap("settings", ENV, "from-git"))
    repo.write("gitops.environments.yml", (REPO / "examples" / "gitops-repo" / "gitops.environments.yml").read_text())
    repo.write("ansible.cfg", (REPO / "examples" / "gitops-repo" / "ansible.cfg").read_text())
    # The repository's own group_vars (next to its inventory file) keep this test's state in `work`.
    repo.write("group_vars/all.yml", yaml.safe_dump(isolated_vars(work / "ci-runs")))
    repo.push("one environment")
    cluster = Cluster(control_plane)

    def mode():
        try:
            return cluster.get(f"/api/v1/namespaces/{ENV}/configmaps/settings")["data"]["mode"]
        except OSError:
            return None

    def drift():
        cluster.request("PATCH", f"/api/v1/namespaces/{ENV}/configmaps/settings", {"data": {"mode": "edited"}},
                        content_type="application/merge-patch+json")

    return {"work": work, "repo": repo, "mode": mode, "drift": drift}


def test_systemd_timer_starts_the_oneshot_service_on_a_schedule():
    timer = unit_file(SYSTEMD / "trident-reconcile.timer")
    service = unit_file(SYSTEMD / "trident-reconcile.service")
    assert values(timer["Timer"], "Unit") == ["trident-reconcile.service"]
    assert values(timer["Timer"], "OnCalendar") and values(timer["Timer"], "Persistent") == ["true"]
    assert values(timer["Install"], "WantedBy") == ["timers.target"]
    # oneshot: a timer firing during a run starts nothing, and a failed run leaves the unit failed.
    assert values(service["Service"], "Type") == ["oneshot"]


def run_exec_start(unit, cwd, extra_env):
    """The unit's ExecStart in its WorkingDirectory's stand-in, with its Environment= settings.

    PATH and HOME stay the test's (the virtualenv and the tools are there, not in /opt)."""
    service = unit_file(SYSTEMD / unit)["Service"]
    (exec_start,) = values(service, "ExecStart")
    env = dict(os.environ)
    for assignment in values(service, "Environment"):
        key, _sep, value = assignment.partition("=")
        if key not in ("PATH", "HOME", "XDG_CACHE_HOME"):
            env[key] = value
    env.update(extra_env)
    return subprocess.run(shlex.split(exec_start), cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_systemd_service_exec_start_reconciles(gitops):
    etc = gitops["work"] / "etc-trident-gitops"  # stands for WorkingDirectory=/etc/trident-gitops
    inventory = write_inventory(etc / "inventory", gitops["repo"].url, gitops["work"] / "inventory-cache")
    (inventory.parent / "group_vars").mkdir()
    (inventory.parent / "group_vars" / "all.yml").write_text(yaml.safe_dump(isolated_vars(gitops["work"] / "timer")))
    report = gitops["work"] / "timer-report"
    proc = run_exec_start("trident-reconcile.service", etc, {"TRIDENT_DRIFT_REPORT_DIR": str(report)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert gitops["mode"]() == "from-git"
    assert (report / "drift-report.json").is_file(), "the unit's drift report setting reached the callback"


def test_systemd_service_fails_when_the_inventory_cannot_be_read(gitops):
    """A scheduled run must fail loudly: an unreachable repository leaves the unit failed, not green."""
    etc = gitops["work"] / "etc-broken"
    write_inventory(etc / "inventory", gitops["repo"].url.replace("scheduled-gitops", "no-such-repo"),
                    gitops["work"] / "broken-cache")
    proc = run_exec_start("trident-reconcile.service", etc, {})
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "no-such-repo" in proc.stdout + proc.stderr


def rule_matches(rule, variables):
    """Evaluate a GitLab `rules: if:` of the two shapes the example uses ($A == "x", $A == $B)."""
    match = re.fullmatch(r'\$(\w+) == (?:"([^"]*)"|\$(\w+))', rule["if"])
    assert match, f"unsupported rule {rule['if']}"
    name, literal, other = match.groups()
    return variables.get(name) == (literal if other is None else variables.get(other))


def scheduled_jobs(ci, variables):
    """The jobs a schedule pipeline runs, in stage order, with the `when` of the rule that matched."""
    assert any(rule_matches(rule, variables) for rule in ci["workflow"]["rules"])
    jobs = []
    for name, job in ci.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        rule = next((rule for rule in job.get("rules", []) if rule_matches(rule, variables)), None)
        if rule is not None and rule.get("when", "on_success") != "never":
            jobs.append((ci["stages"].index(job["stage"]), name, job, rule.get("when", "on_success")))
    return [job[1:] for job in sorted(jobs, key=lambda job: job[0])]


def run_pipeline(ci, variables, checkout, logs=None):
    """Run the scheduled jobs' scripts in `checkout`; {job: returncode}. A job's script lines run in one shell, one
    after the other, and the first that fails ends the job with its exit status, as GitLab's runner runs them
    (a variable a line sets is there for the next). A job whose earlier stage failed runs only when its rule says
    `when: always`, as GitLab does. ``logs`` gets each job's output."""
    env = {**os.environ, **variables, "CI_PROJECT_DIR": str(checkout)}
    for key, value in ci["variables"].items():
        env[key] = value.replace("$CI_PROJECT_DIR", str(checkout))
    results, failed = {}, False
    for name, job, when in scheduled_jobs(ci, variables):
        if failed and when != "always":
            continue
        script = "set -e\n" + "\n".join(job["script"])
        proc = subprocess.run(["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True,
                              check=False)
        if logs is not None:
            logs[name] = proc.stdout + proc.stderr
        results[name] = proc.returncode
        failed = failed or proc.returncode != 0
    return results


def test_gitlab_scheduled_pipeline_reports_drift_then_corrects_it(gitops):
    ci = yaml.safe_load(GITLAB_CI.read_text())
    schedule = {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
    assert [name for name, _job, _when in scheduled_jobs(ci, schedule)] == ["drift-scheduled", "reconcile"]
    push = {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
    assert [name for name, _job, _when in scheduled_jobs(ci, push)] == ["reconcile"]

    checkout = gitops["work"] / "ci-checkout"
    subprocess.run(["git", "clone", "--quiet", gitops["repo"].url, str(checkout)], check=True)
    if gitops["mode"]():  # the systemd test applied it: drift it as someone with kubectl edit would
        gitops["drift"]()
    assert gitops["mode"]() != "from-git"
    # Drift is exit 3, told apart from breakage (exit 1) by the drift report's verdict file.
    logs = {}
    assert run_pipeline(ci, schedule, checkout, logs) == {"drift-scheduled": 3, "reconcile": 0}, \
        {job: text[-3000:] for job, text in logs.items()}
    assert (checkout / "drift-report" / "verdict").read_text() == "corrected\n", "the reconcile's verdict"
    assert gitops["mode"]() == "from-git"
    assert (checkout / "drift-report" / "drift-report.json").is_file()
    assert run_pipeline(ci, schedule, checkout) == {"drift-scheduled": 0, "reconcile": 0}
