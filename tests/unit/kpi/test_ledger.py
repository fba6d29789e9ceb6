"""The KPI ledger: pairs, month buckets, team links, restarts and repeats, on the example scenario."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.kpi.facts import Budget, Fact, fact_of
from hub.kpi.ledger import BUCKETS_SECONDS, UNASSIGNED, KpiLedger, Totals
from hub.testing import scenario, sender_of

TEAM = "Wijkteam Zwolle-Zuid"
DAY = 86_400.0


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _scenario_ledger() -> KpiLedger:
    ledger = KpiLedger(retention_ms=10**12)
    for n, event in enumerate(scenario()):
        fact = fact_of(event, sender_of(event))
        if fact is not None:
            ledger.apply(fact, seen_ms=n)
    return ledger


def _row(report: dict[str, Any], team: str, kpi: str) -> dict[str, Any]:
    return next(r for r in report["kpis"] if r["team"] == team and r["kpi"] == kpi)


def test_the_scenarios_waiting_time_counts_in_the_month_of_the_intake() -> None:
    """Referral DL-2025-0317, submitted 3 March 10:42:17 and scheduled 6 March 14:20, waited 3 d 3 h 37 min 43 s, for its team, in March."""
    march = _scenario_ledger().month_report("2025-03")
    row = _row(march, TEAM, "waiting")
    assert row["count"] == 1
    assert row["mean_seconds"] == 3 * DAY + 3 * 3600 + 37 * 60 + 43
    assert row["median_at_most_seconds"] == 5 * DAY
    assert march["budgets"] == [
        {
            "team": TEAM,
            "period": "2025-03",
            "budget_cents": 18500000,
            "committed_cents": 12950000,
            "spent_cents": 11730250,
        }
    ]


def test_the_scenarios_starts_count_once_per_assignment_for_its_cases_team() -> None:
    """Two assignments of case ZWZ-2025-0042 start in April (a corrected start does not count again); one without a case has no team."""
    april = _scenario_ledger().month_report("2025-04")
    row = _row(april, TEAM, "time-to-start")
    assert row["count"] == 2
    # 24 March 09:00 -> 2 April 08:30 and 24 March 09:01 -> 3 April 16:10 (CET to CEST).
    assert row["mean_seconds"] == (772_200 + 886_140) / 2
    assert _row(april, UNASSIGNED, "time-to-start")["count"] == 1


def test_the_veilig_thuis_response_is_the_first_feedback_within_five_working_days() -> None:
    """Report ZWZ-MLD-2025-0007's first feedback came the next morning: within target; its second feedback counts nothing."""
    row = _row(_scenario_ledger().month_report("2025-04"), UNASSIGNED, "veilig-thuis-response")
    assert (row["count"], row["within_target"], row["within_target_share"]) == (1, 1, 1.0)
    assert row["mean_seconds"] == 17 * 3600 + 55 * 60


def test_a_case_counts_its_throughput_when_it_closes_and_open_pairs_wait() -> None:
    """Case ZWZ-2025-0042 closes in July; the pairs the scenario leaves open are counted as open."""
    ledger = _scenario_ledger()
    assert _row(ledger.month_report("2025-07"), TEAM, "throughput")["count"] == 1
    assert ledger.open_counts() == {
        "waiting": 1,
        "throughput": 1,
        "time-to-start": 0,
        "veilig-thuis-response": 1,
    }


def test_a_late_response_is_outside_the_target() -> None:
    """A first feedback 6 working days after the report is counted, not within target."""
    ledger = KpiLedger(retention_ms=10**12)
    ledger.apply(Fact("start", "case", "C-1", _at("2025-03-01T09:00:00+01:00"), team="T"), 0)
    ledger.apply(Fact("start", "report", "M-1", _at("2025-03-03T09:00:00+01:00"), case_id="C-1"), 0)
    done = ledger.apply(Fact("complete", "report", "M-1", _at("2025-03-11T09:00:00+01:00")), 0)
    assert done is not None
    assert (done.team, done.kpi, done.within_target) == ("T", "veilig-thuis-response", False)


def test_a_repeated_or_unpaired_completion_counts_nothing() -> None:
    """A completion without an open pair, or a second one, changes no total; a second start does not move the first."""
    ledger = KpiLedger(retention_ms=10**12)
    assert (
        ledger.apply(Fact("complete", "case", "C-9", _at("2025-03-01T09:00:00+01:00")), 0) is None
    )
    ledger.apply(Fact("start", "case", "C-1", _at("2025-03-01T09:00:00+01:00"), team="T"), 0)
    ledger.apply(Fact("start", "case", "C-1", _at("2025-03-05T09:00:00+01:00"), team="U"), 0)
    first = ledger.apply(Fact("complete", "case", "C-1", _at("2025-03-02T09:00:00+01:00")), 0)
    again = ledger.apply(Fact("complete", "case", "C-1", _at("2025-03-03T09:00:00+01:00")), 0)
    assert first is not None
    assert (first.team, first.seconds) == ("T", DAY)
    assert again is None
    assert ledger.totals[("T", "2025-03", "throughput")].count == 1


def test_another_providers_start_does_not_complete_an_assignment() -> None:
    """care.started from a provider the assignment was not issued to leaves it open."""
    ledger = KpiLedger(retention_ms=10**12)
    at = _at("2025-03-01T09:00:00+01:00")
    ledger.apply(Fact("start", "assignment", "1", at, provider="73730001"), 0)
    assert ledger.apply(Fact("complete", "assignment", "1", at, provider="73730002"), 0) is None
    assert ledger.apply(Fact("complete", "assignment", "1", at, provider="73730001"), 0) is not None


def test_open_pairs_expire_after_the_retention_counted_from_receipt() -> None:
    """A start received longer ago than the retention is dropped (and tombstoned); a younger one stays."""
    ledger = KpiLedger(retention_ms=1000)
    at = _at("2025-03-01T09:00:00+01:00")
    ledger.apply(Fact("start", "referral", "old", at), seen_ms=0)
    ledger.apply(Fact("start", "referral", "new", at), seen_ms=1500)
    ledger.changes()
    assert ledger.expire(now_ms=2000) == 1
    assert list(ledger.open) == [("referral", "new")]
    assert ledger.changes() == [(b'["open","referral","old"]', None)]


def test_the_ledger_read_back_from_its_records_is_the_same() -> None:
    """What ``changes`` writes, ``load`` reads back: totals, budgets, open pairs and offsets, tombstones applied."""
    ledger = _scenario_ledger()
    ledger.advance("sociaaldomein.inbound.gp-de-linde", 0, 7)
    ledger.apply(Fact("start", "referral", "gone", _at("2025-03-01T09:00:00+01:00")), 0)
    written = ledger.changes()
    ledger.apply(Fact("drop", "referral", "gone", _at("2025-03-01T09:00:00+01:00")), 0)
    written += ledger.changes()
    restored = KpiLedger(retention_ms=10**12)
    for key, value in written:
        restored.load(key, value)
    assert restored.totals == ledger.totals
    assert restored.budgets == ledger.budgets
    assert restored.open == ledger.open
    assert restored.done == ledger.done
    assert restored.offsets == {("sociaaldomein.inbound.gp-de-linde", 0): 7}
    assert not restored.dirty


def test_the_latest_budget_report_of_a_period_stands() -> None:
    """A report sent earlier but read later does not replace a newer one of the same period."""
    ledger = KpiLedger(retention_ms=10**12)
    newer = Fact("budget", None, "T", _at("2025-04-02T09:00:00+02:00"), team="T",
                 budget=Budget("2025-03", 100, 50, 40))  # fmt: skip
    older = Fact("budget", None, "T", _at("2025-04-01T09:00:00+02:00"), team="T",
                 budget=Budget("2025-03", 100, 50, 10))  # fmt: skip
    ledger.apply(newer, 0)
    ledger.apply(older, 0)
    assert ledger.month_report("2025-03")["budgets"][0]["spent_cents"] == 40


def test_medians_are_the_bound_of_the_bucket_they_fall_in() -> None:
    """Half the durations lie at or under the median's bucket bound; beyond the last bound is None."""
    totals = Totals()
    for seconds in (0.5 * DAY, 1.5 * DAY, 4 * DAY, 400 * DAY):
        totals.add(seconds, False)
    assert totals.at_most(0.5) == 2 * DAY
    assert totals.at_most(0.75) == 5 * DAY
    assert totals.at_most(1.0) is None
    assert len(totals.buckets) == len(BUCKETS_SECONDS) + 1


def test_a_completion_read_before_its_start_waits_for_it() -> None:
    """Topics are read side by side: care.started read before its assignment counts once the assignment is read, for its case's team."""
    ledger = KpiLedger(retention_ms=10**12)
    begin, end = _at("2025-03-03T09:00:00+01:00"), _at("2025-03-05T09:00:00+01:00")
    assert ledger.apply(Fact("complete", "assignment", "1", end, provider="73730001"), 0) is None
    assert ledger.open_counts()["time-to-start"] == 0
    ledger.apply(Fact("start", "case", "C-1", _at("2025-03-01T09:00:00+01:00"), team="T"), 0)
    done = ledger.apply(
        Fact("start", "assignment", "1", begin, case_id="C-1", provider="73730001"), 0
    )
    assert done is not None
    assert (done.team, done.kpi, done.month, done.seconds) == (
        "T",
        "time-to-start",
        "2025-03",
        2 * DAY,
    )


def test_a_pair_done_is_not_counted_again_when_its_events_repeat() -> None:
    """After a completion, a repeated start and completion (a resend, a replay) change nothing."""
    ledger = KpiLedger(retention_ms=10**12)
    start = Fact("start", "referral", "R-1", _at("2025-03-03T09:00:00+01:00"))
    end = Fact("complete", "referral", "R-1", _at("2025-03-04T09:00:00+01:00"), team="T")
    assert ledger.apply(start, 0) is None
    assert ledger.apply(end, 0) is not None
    assert ledger.apply(start, 1) is None
    assert ledger.apply(end, 1) is None
    assert ledger.totals[("T", "2025-03", "waiting")].count == 1
    assert ledger.open == {}


def test_a_case_closed_keeps_its_team_for_what_names_it_later() -> None:
    """A safety report on a closed case still counts for the case's team."""
    ledger = KpiLedger(retention_ms=10**12)
    ledger.apply(Fact("start", "case", "C-1", _at("2025-03-01T09:00:00+01:00"), team="T"), 0)
    ledger.apply(Fact("complete", "case", "C-1", _at("2025-03-02T09:00:00+01:00")), 0)
    ledger.apply(Fact("start", "report", "M-1", _at("2025-03-03T09:00:00+01:00"), case_id="C-1"), 0)
    done = ledger.apply(Fact("complete", "report", "M-1", _at("2025-03-04T09:00:00+01:00")), 0)
    assert done is not None
    assert done.team == "T"


def test_a_withdrawn_assignment_is_not_measured() -> None:
    """assignments.issued withdrawn ends the pair: a later care.started counts nothing."""
    ledger = KpiLedger(retention_ms=10**12)
    at = _at("2025-03-01T09:00:00+01:00")
    ledger.apply(Fact("start", "assignment", "1", at), 0)
    ledger.apply(Fact("drop", "assignment", "1", at), 0)
    assert ledger.apply(Fact("complete", "assignment", "1", at), 0) is None
    assert ledger.totals == {}


def test_the_earliest_completion_stands_whatever_its_offset() -> None:
    """Two feedbacks read before their report: the earlier moment counts, compared as times, not text."""
    ledger = KpiLedger(retention_ms=10**12)
    later = Fact("complete", "report", "VT-1", _at("2026-03-02T09:00:00+00:00"))
    earlier = Fact("complete", "report", "VT-1", _at("2026-03-02T09:30:00+01:00"))  # 08:30Z
    ledger.apply(later, seen_ms=1)
    ledger.apply(earlier, seen_ms=2)
    done = ledger.apply(Fact("start", "report", "VT-1", _at("2026-03-02T08:00:00+00:00")), 3)
    assert done is not None
    assert done.seconds == 30 * 60


def test_a_report_answered_years_later_is_late_at_once() -> None:
    """More than a fortnight is more than 5 working days: no day-by-day count over years."""
    ledger = KpiLedger(retention_ms=10**12)
    ledger.apply(Fact("start", "report", "VT-2", _at("2000-01-03T09:00:00+01:00")), 1)
    done = ledger.apply(Fact("complete", "report", "VT-2", _at("2026-03-02T09:00:00+01:00")), 2)
    assert done is not None
    assert not done.within_target


def test_teams_beyond_the_bound_count_together_and_keep_no_budget() -> None:
    """Partners write team names: past MAX_TEAMS they count as one, and their budgets are not kept."""
    from hub.kpi.ledger import MAX_TEAMS, OTHER_TEAMS

    ledger = KpiLedger(retention_ms=10**12)
    at = _at("2026-03-02T09:00:00+01:00")
    for n in range(MAX_TEAMS + 5):
        ledger.apply(Fact("start", "case", f"C-{n}", at, team=f"Team {n}"), n)
        ledger.apply(Fact("complete", "case", f"C-{n}", at), n)
    teams = {team for team, _, _ in ledger.totals}
    assert len(teams) == MAX_TEAMS + 1
    assert ledger.totals[(OTHER_TEAMS, "2026-03", "throughput")].count == 5
    budget = Budget("2026-03", 100, 50, 25)
    assert ledger.apply(Fact("budget", None, "Team 1", at, team="Team 1", budget=budget), 1) is None
    ledger.apply(Fact("budget", None, "Team X", at, team="Team X", budget=budget), 2)
    assert ("Team 1", "2026-03") in ledger.budgets
    assert ("Team X", "2026-03") not in ledger.budgets


def test_the_retention_sweep_goes_a_step_at_a_time_and_misses_nothing() -> None:
    """``expire_step`` looks at ``limit`` pairs per call and says where to go on; all stale pairs go."""
    ledger = KpiLedger(retention_ms=1000)
    at = _at("2026-03-02T09:00:00+01:00")
    for n in range(7):  # stale: seen at 0
        ledger.apply(Fact("start", "referral", f"old-{n}", at), seen_ms=0)
    for n in range(3):  # fresh
        ledger.apply(Fact("start", "referral", f"new-{n}", at), seen_ms=1900)
    ledger.changes()
    after: str | None = ""
    expired, steps = 0, 0
    while after is not None:
        count, after = ledger.expire_step(now_ms=2000, after=after, limit=2)
        expired += count
        steps += 1
    assert expired == 7
    assert steps == 5  # ten pairs, two a step: the fifth step reaches the end
    assert sorted(ident for _, ident in ledger.open) == ["new-0", "new-1", "new-2"]
    assert ledger.open_counts()["waiting"] == 3
