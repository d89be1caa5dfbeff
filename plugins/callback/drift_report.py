# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: drift_report
type: aggregate
short_description: Report what drifted, per environment and step, as JSON, Markdown and JUnit XML
version_added: 0.1.0
description:
  - "Reports, for every environment (a host of the P(trident.gitops.environments#inventory) inventory) and every
    reconcile step (source, secrets, terraform, kubernetes, promotion), whether the step was in sync, drifted, failed,
    was not checked (an earlier step failed) or had nothing to do, with the account of the drift, and the
    environment's verdict (C(in_sync), C(drift), C(corrected), C(error)), the revision it runs, when it started and
    how long it took."
  - "The reconcile role's pipeline decides all of it (its C(set_stats) data C(trident_drift) and
    C(trident_environments), docs/drift-report.md); for environments it did not report (the four modules used in a
    playbook of one's own) the task results are read, the account of the drift the modules return (C(drift),
    C(resource_changes), C(changed_files), C(summary)). An environment a reconcile play targeted that never reported
    (the run stopped before it) is a failure."
  - A task's step is its C(trident_step) variable (task or block vars) when set, else the step its
    module maps to in O(step_map). Tasks with no step are not reported.
  - "Writes C(drift-report.json), C(drift-report.md) (a table environment by step, then details per
    environment, fit for a merge-request comment), C(drift-report.txt) (the same for a terminal: plain text, one
    line per environment, then each changed object or resource with its changed fields), C(drift-report.xml) (JUnit,
    one test suite per
    environment, one test case per step; drift is a failure, a failed step an error), C(drift-report.html) (one
    self-contained page: the table, the promotion chain drawn as SVG, the details per environment; no script, nothing
    fetched, a strict Content-Security-Policy) and C(verdict) (one word, the
    run's verdict: C(in_sync), C(drift), C(corrected) or C(error); removed when the run starts, so a run that
    crashed leaves none) to O(report_dir), and prints a short summary at the end of the run: per environment, what
    changed in each step, by action, with the objects' and resources' names (C(prod: Kubernetes 2 updated
    (Deployment web/api, ConfigMap web/x); Terraform 1 to replace (aws_instance.db)))."
  - "In check mode (C(--check), a play with C(check_mode: true), or a reported task with C(check_mode: true)) a
    changed task is drift that exists; otherwise it is drift that was corrected."
  - Never reports C(diff), values under keys that hold object or file content (C(data), C(stringData),
    C(binaryData), C(content)) or anything of a C(no_log) result beyond the fact that it changed.
author:
  - trident.gitops maintainers (@trident)
requirements:
  - Enable it with C(callbacks_enabled = trident.gitops.drift_report) in ansible.cfg or
    E(ANSIBLE_CALLBACKS_ENABLED).
options:
  report_dir:
    description:
      - Folder the report files are written to (created if missing). Without it only the summary is printed.
    type: path
    env:
      - name: TRIDENT_DRIFT_REPORT_DIR
    ini:
      - section: callback_trident_drift_report
        key: report_dir
  formats:
    description: Report files to write.
    type: list
    elements: str
    choices: [json, markdown, junit, text, html]
    default: [json, markdown, junit, text, html]
    env:
      - name: TRIDENT_DRIFT_REPORT_FORMATS
    ini:
      - section: callback_trident_drift_report
        key: formats
  step_map:
    description:
      - Extra C(module=step) pairs (module as written in the task or its FQCN), added to the default map
        C(trident.gitops.git_source=source), C(trident.gitops.sops_decrypt=secrets),
        C(trident.gitops.terraform_apply=terraform), C(trident.gitops.kube_diff=kubernetes).
    type: list
    elements: str
    default: []
    env:
      - name: TRIDENT_DRIFT_REPORT_STEP_MAP
    ini:
      - section: callback_trident_drift_report
        key: step_map
  forge:
    description:
      - "The forge to tell what the run found (docs/forge.md): C(gitlab), C(github) or C(gitea). With
        O(forge_pull_request), the Markdown report is posted as one comment on that pull/merge request and updated by
        later runs, never duplicated; after an apply run, each environment sets the commit status C(trident/<env>)
        (success, pending or failure) on the commit it deployed, waits to deploy or failed to deploy."
      - A forge that cannot be reached or refuses is a warning; it never fails the run or an environment.
      - Unset (the default), nothing is sent anywhere.
    type: str
    choices: [gitlab, github, gitea]
    env:
      - name: TRIDENT_FORGE
    ini:
      - section: callback_trident_drift_report
        key: forge
  forge_api_url:
    description:
      - The root of the forge's API, e.g. C(https://api.github.com), C(https://gitlab.example.com/api/v4) or
        C(https://gitea.example.com/api/v1). The operator's setting, never read from the repository.
    type: str
    env:
      - name: TRIDENT_FORGE_API_URL
    ini:
      - section: callback_trident_drift_report
        key: forge_api_url
  forge_project:
    description: The repository on the forge, C(owner/name); on GitLab the project's id or full path.
    type: str
    env:
      - name: TRIDENT_FORGE_PROJECT
    ini:
      - section: callback_trident_drift_report
        key: forge_project
  forge_token:
    description:
      - "The API token (GitLab C(api) scope; GitHub C(pull-requests:write) and C(statuses:write); Gitea
        C(write:issue) and C(write:repository)). Never logged nor reported."
    type: str
    env:
      - name: TRIDENT_FORGE_TOKEN
  forge_pull_request:
    description: The number of the pull request (GitLab merge request IID) the preview comment belongs to.
    type: int
    env:
      - name: TRIDENT_FORGE_PULL_REQUEST
  forge_target_url:
    description: A link set on the commit statuses (the CI job or the run's page).
    type: str
    env:
      - name: TRIDENT_FORGE_TARGET_URL
"""

import contextlib
import os
import time

from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.callback import CallbackBase

from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write
from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import (
    DriftReport, parse_step_map, step_of)

# The role whose plays target environments: a host of such a play that never reports did not run.
PIPELINE_ROLE = "trident.gitops.reconcile"
VERDICT_FILE = "verdict"
from ansible_collections.trident.gitops.plugins.plugin_utils import drift_html, drift_markdown, drift_terminal, forge

FILES = {"json": ("drift-report.json", DriftReport.to_json), "markdown": ("drift-report.md", drift_markdown.render),
         "junit": ("drift-report.xml", DriftReport.to_junit), "text": ("drift-report.txt", drift_terminal.render),
         "html": ("drift-report.html", drift_html.render)}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "trident.gitops.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.report = DriftReport(check_mode=bool(context.CLIARGS.get("check", False)))
        self.step_map = parse_step_map(())

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        try:
            self.step_map = parse_step_map(self.get_option("step_map"))
        except ValueError as exc:
            raise AnsibleError(f"trident.gitops.drift_report: {exc}") from None

    def v2_playbook_on_start(self, playbook):
        self.report.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._clock = time.monotonic()
        folder = self.get_option("report_dir")
        if folder:  # a run that never ends leaves no verdict of an earlier run behind
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, VERDICT_FILE))

    def v2_playbook_on_play_start(self, play):
        if any(role.get_name() in (PIPELINE_ROLE, "reconcile") for role in play.get_roles()):
            hosts = play.hosts if isinstance(play.hosts, list) else []
            self.report.expect(h for h in hosts if isinstance(h, str))
        # The mode is the play's (drift.yml sets check_mode: true on its plays) or --check's, known before any
        # task runs: a run whose first step fails (the source fetch runs with check_mode: false) is still a check.
        if getattr(play, "check_mode", None) is True or context.CLIARGS.get("check"):
            self.report.check_mode = True

    # -- task results ---------------------------------------------------------------------------
    def _record(self, result, status):
        task = result._task
        task_vars = task.get_vars()
        # The resolved FQCN when Ansible has it; the public resolved_action property warns inside loops.
        module = getattr(task, "_resolved_action", None) or task.action
        step = step_of(module, task_vars, self.step_map)
        if step is None:
            return
        if getattr(task, "check_mode", None) is True:  # a task of an apply run may preview on its own
            self.report.check_mode = True
        self.report.record(result._host.get_name(), step, task.get_name(), module, status, result._result)

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    # -- end of run -----------------------------------------------------------------------------
    def v2_playbook_on_stats(self, stats):
        for scope in (stats.custom or {}).values():
            if isinstance(scope, dict):
                self.report.merge_stats(scope.get("trident_drift"))
                self.report.merge_environments(scope.get("trident_environments"))
        self.report.settle_unreported()
        if getattr(self, "_clock", None) is not None:
            self.report.duration = round(time.monotonic() - self._clock, 3)
        written = self._write()
        self._publish()
        self._display.banner("TRIDENT DRIFT REPORT")
        summary = self.report.summary()
        for line in drift_terminal.summary_lines(self.report):
            self._display.display(line)
        mode = "drifted" if self.report.check_mode else "had drift corrected"
        self._display.display(f"{len(summary['drifted'])} of {summary['environments']} environments {mode}"
                              + (f"; report written to {written}" if written else ""))
        self._display.display(f"verdict: {self.report.verdict()}")

    def _write(self):
        folder = self.get_option("report_dir")
        if not folder:
            return None
        try:
            os.makedirs(folder, exist_ok=True)
            for fmt in self.get_option("formats"):
                name, render = FILES[fmt]
                atomic_write(os.path.join(folder, name), render(self.report).encode("utf-8"), mode=0o644)
            atomic_write(os.path.join(folder, VERDICT_FILE), f"{self.report.verdict()}\n".encode(), mode=0o644)
        except OSError as exc:
            self._display.warning(f"trident.gitops.drift_report: cannot write the report to {folder}: {exc}")
            return None
        return folder

    def _publish(self):
        """The preview comment and the commit statuses (plugin_utils/forge.py); a failure is a warning only."""
        kind = self.get_option("forge")
        if not kind:
            return
        try:
            settings = forge.ForgeSettings(
                kind=kind, api_url=self.get_option("forge_api_url") or "",
                project=self.get_option("forge_project") or "", token=self.get_option("forge_token") or "",
                pull_request=self.get_option("forge_pull_request"),
                target_url=self.get_option("forge_target_url") or "")
        except ValueError as exc:
            self._display.warning(f"trident.gitops.drift_report: nothing sent to the forge: {exc}")
            return
        done, failed = forge.publish(settings, self.report.as_dict(), drift_markdown.render(self.report),
                                     self.report.check_mode)
        for message in done:
            self._display.display(f"forge: {message}")
        for message in failed:
            self._display.warning(f"trident.gitops.drift_report: forge: {message}")
