# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filter behind playbooks/merge_reports.yml: the drift reports of a run's slices (inventory option slice, AWX job
slices, execution nodes) as one, by drift_report.merge_reports, the one place that decides how reports merge."""

from __future__ import annotations

DOCUMENTATION = r"""
name: merge_drift_reports
short_description: The drift reports of several slices of a run, merged into one
version_added: 0.6.0
description:
  - Merges C(drift-report.json) documents (the P(trident.gitops.drift_report#callback) callback's JSON report) of
    runs that each reconciled other environments of one repository (slices, docs/awx.md) into the report one run over
    all of them gives, timings aside.
  - The environments are the union; an environment in two reports is an error, and so are reports of different modes
    (reconcile and drift). The verdict is the worst, the summary is recomputed, C(started) is the earliest and
    C(duration) spans them all.
options:
  _input:
    description: The parsed reports.
    type: list
    elements: dict
    required: true
author:
  - trident.gitops maintainers (@trident)
"""

EXAMPLES = r"""
- name: Merge three slices' reports
  ansible.builtin.copy:
    dest: merged/drift-report.json
    content: "{{ [lookup('file', 's1/drift-report.json') | from_json, lookup('file', 's2/drift-report.json') | from_json]
                 | trident.gitops.merge_drift_reports | to_nice_json }}"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: One report, shaped as C(drift-report.json) (C(mode), C(verdict), C(started), C(duration), C(summary),
    C(environments)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import merge_reports


def merge_drift_reports(reports):
    if not isinstance(reports, list) or not all(isinstance(report, dict) for report in reports):
        raise AnsibleFilterError("merge_drift_reports takes a list of parsed drift-report.json documents")
    try:
        return merge_reports(reports)
    except (ValueError, KeyError) as exc:
        raise AnsibleFilterError(f"cannot merge the drift reports: {exc}") from None


class FilterModule:
    def filters(self):
        return {"merge_drift_reports": merge_drift_reports}
