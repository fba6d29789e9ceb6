"""The safety family: the team's safety report (meldcode) and Veilig Thuis's answers.

State: ``safety-report:<report_id>`` (its subjects and case) and
``safety-case:<safety_case_id>`` (a handover: its report, subjects and case). Its types
are of the safety protection class (``hub.connectors.protocol.SAFETY``): they reach only
Veilig Thuis and the team, whatever the table says.
"""

from __future__ import annotations

from typing import cast

from hub.connectors.family import Family, StateKind
from hub.families import state as s
from hub.families.retention import with_case
from hub.routing.rules import RuleInput

__all__ = ["SAFETY_FAMILY"]


def _report_submitted(item: RuleInput) -> None:
    key = s.report_key(item.data["report_id"])
    if not item.is_new(
        key, "data.report_id", "A safety report with this report_id was already submitted."
    ):
        return
    report = s.SafetyReportState(subjects=sorted(item.own_subjects()))
    if "case_id" in item.data:
        report["case_id"] = item.data["case_id"]
    item.put(key, item.stamp(report))


def _feedback(item: RuleInput) -> None:
    report = s.report(item, item.data["report_id"])
    if report is None:
        item.unroutable("data.report_id", "No safety report with this report_id is known.")
        return
    item.facts.subjects |= set(report.get("subjects", ()))


def _handed_over(item: RuleInput) -> None:
    safety_case_id = item.data["safety_case_id"]
    known = s.safety_case(item, safety_case_id)
    # A copy, or a new value whose keys come in the order they are set (as always written).
    value = cast(s.SafetyCaseState, dict(known or {}))
    subjects = set(value.get("subjects", ())) | item.own_subjects()
    report_id = item.data.get("report_id")
    if report_id is not None:
        value["report_id"] = report_id
        report = s.report(item, report_id)
        if report is not None:
            subjects |= set(report.get("subjects", ()))
            handovers = list(report.get("safety_case_ids", ()))
            if safety_case_id not in handovers:
                # The report goes with the cases its handovers become (retention).
                linked: s.SafetyReportState = {
                    **report,
                    "safety_case_ids": [*handovers, safety_case_id],
                }
                item.put(s.report_key(report_id), item.stamp(linked))
    item.facts.subjects |= subjects
    value["subjects"] = sorted(subjects)
    item.put(s.safety_case_key(safety_case_id), item.stamp(value))


SAFETY_FAMILY = Family(
    name="safety",
    description="Safety reports under the meldcode, Veilig Thuis's feedback and handovers.",
    rules={
        "safety-reports.submitted": _report_submitted,
        "safety-reports.feedback": _feedback,
        "safety-cases.handed-over": _handed_over,
    },
    state=(
        StateKind("safety-report", "A safety report: its subjects and case.", with_case),
        StateKind(
            "safety-case", "A Veilig Thuis handover: its report, subjects and case.", with_case
        ),
    ),
)
