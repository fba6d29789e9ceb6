"""What an inbound event means for the KPIs: ids, time and team only, and only from its sender."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

from hub.kpi.facts import KPI_TYPES, Budget, Fact, fact_of
from hub.testing import demo_registry, make_event, personal_values, scenario, sender_of

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
STATUS = "nl.sociaaldomein.referrals.status-changed.v1"
ISSUED = "nl.sociaaldomein.assignments.issued.v1"
CARE = "nl.sociaaldomein.care.started.v1"
BUDGET = "nl.sociaaldomein.budgets.status-reported.v1"


def test_a_referral_starts_and_its_intake_scheduled_completes_with_the_team() -> None:
    """referrals.submitted opens the waiting time; status intake-scheduled closes it, naming the team."""
    submitted = make_event(REFERRAL, referral_id="R-1")
    scheduled = make_event(STATUS, referral_id="R-1", status="intake-scheduled")
    assert fact_of(submitted, sender_of(submitted)) == Fact(
        "start", "referral", "R-1", datetime.fromisoformat(submitted["time"])
    )
    assert fact_of(scheduled, sender_of(scheduled)) == Fact(
        "complete",
        "referral",
        "R-1",
        datetime.fromisoformat(scheduled["time"]),
        team="Wijkteam Zwolle-Zuid",
    )
    other = make_event(STATUS, referral_id="R-1", status="in-progress")
    assert fact_of(other, sender_of(other)) is None


def test_an_event_from_another_partner_than_its_role_counts_nothing() -> None:
    """A type sent on another role's inbound topic, or with another source, has no fact."""
    submitted = make_event(REFERRAL)
    swt = demo_registry().get("swt-zwolle")
    assert swt is not None
    assert fact_of(submitted, swt) is None
    forged = make_event(REFERRAL, envelope={"source": "urn:nld:agb:01765432"})
    assert fact_of(forged, sender_of(make_event(REFERRAL))) is None


def test_an_assignment_new_starts_withdrawn_drops_and_a_deleted_start_is_no_start() -> None:
    """assignments.issued new opens time-to-start with its case and provider; withdrawn drops it; care.started deleted is ignored."""
    issued = make_event(ISSUED, assignment_number="123", case_id="C-1")
    fact = fact_of(issued, sender_of(issued))
    assert fact is not None
    assert (fact.kind, fact.pair, fact.id, fact.case_id) == ("start", "assignment", "123", "C-1")
    assert fact.provider == issued["data"]["provider_agb"]
    withdrawn = next(
        e for e in scenario() if e["type"] == ISSUED and e["data"]["status"] == "withdrawn"
    )
    assert fact_of(withdrawn, sender_of(withdrawn)) is not None
    assert fact_of(withdrawn, sender_of(withdrawn)).kind == "drop"  # type: ignore[union-attr]
    deleted = make_event(CARE, delivery_status="deleted")
    assert fact_of(deleted, sender_of(deleted)) is None


def test_a_budget_report_is_the_teams_position_for_its_period() -> None:
    """budgets.status-reported gives team, period and the three figures."""
    event = make_event(BUDGET)
    fact = fact_of(event, sender_of(event))
    assert fact is not None
    assert fact.team == "Wijkteam Zwolle-Zuid"
    assert fact.budget == Budget("2025-03", 18500000, 12950000, 11730250)


def test_no_fact_of_any_scenario_event_holds_a_personal_value() -> None:
    """A fact keeps ids, times, team names and AGB codes: no value that is personal data in its event."""
    facts = 0
    for event in scenario():
        fact = fact_of(event, sender_of(event))
        if fact is None:
            assert event["type"] not in KPI_TYPES or event["type"] in (STATUS, CARE, ISSUED)
            continue
        facts += 1
        kept = {str(getattr(fact, f.name)) for f in fields(fact)}
        assert not kept & set(personal_values(event["data"])), event["type"]
    assert facts == 20


def test_an_id_or_team_name_with_a_bsn_is_not_kept() -> None:
    """A referral id with a BSN part has no fact; a team name holding a BSN is no team."""
    submitted = make_event(REFERRAL, referral_id="REF-999900018")
    assert fact_of(submitted, sender_of(submitted)) is None
    scheduled = make_event(
        STATUS,
        referral_id="R-1",
        status="intake-scheduled",
        team={"name": "Team 999900018", "contact": {"name": "X Y"}},
    )
    fact = fact_of(scheduled, sender_of(scheduled))
    assert fact is not None
    assert fact.team is None


def test_a_team_name_with_a_bsn_in_groups_or_control_characters_is_no_team() -> None:
    """A BSN written as people type it, another shape of personal data, control characters: no team."""
    for name in (
        "Team 999 900 018",
        "999.900.018",
        "999-900-018",
        "Team\x1b[31m Noord",
        "A\u200bB",
        "zqteam@leak.example",  # other shapes of personal data: e-mail, date, phone, number
        "Team 1979-04-23",
        "Team 23-04-1979",
        "Wijkteam 06 97 88 13 57",
        "Wijkteam 038-421 55 60",
        "Wijkteam 12345678",
        "Wijkteam +31 (0)6 12345678",
        "Wijkteam 0031 (0)6 12345678",
        "Wijkteam (038) 498 76 54",
        "Wijkteam 06 \u2013 12 34 56 78",
        "Team 999 - 900 - 018",
        "Team 999  900  018",
        "Team 1979/04/23",
        "Team 23-4-79",
        "Team 23 april 1979",
        "Postcode 8011AB 12",
    ):
        scheduled = make_event(
            STATUS,
            referral_id="R-1",
            status="intake-scheduled",
            team={"name": name, "contact": {"name": "X Y"}},
        )
        fact = fact_of(scheduled, sender_of(scheduled))
        assert fact is not None
        assert fact.team is None, name
    kept = make_event(STATUS, referral_id="R-1", status="intake-scheduled")
    assert fact_of(kept, sender_of(kept)).team == "Wijkteam Zwolle-Zuid"  # type: ignore[union-attr]
    for name in ("Wijkteam Assendorp 2023 - 2026", "Wijkteam 2023-2024", "Wijkteam 8011 AB",
                 "Team Zuid@Diezerpoort", "Wijkteam 1 (2024) - 2", "Jeugdteam 2024-2025",
                 "Team Kampen 8261 & 8262", "Zorgteam 24/7"):  # fmt: skip
        named = make_event(
            STATUS,
            referral_id="R-1",
            status="intake-scheduled",
            team={"name": name, "contact": {"name": "X Y"}},
        )
        assert fact_of(named, sender_of(named)).team == name  # type: ignore[union-attr]


def test_only_the_provider_itself_starts_its_care() -> None:
    """A care.started naming another provider's AGB than its sender's counts nothing."""
    started = make_event(CARE, delivery_status="new")
    sender = sender_of(started)
    assert fact_of(started, sender) is not None
    other = [p.agb for p in demo_registry() if p.role == "provider" and p.agb != sender.agb]
    started["data"]["provider_agb"] = other[0]
    assert fact_of(started, sender) is None


def test_an_event_time_is_read_as_validation_reads_it() -> None:
    """Lower-case ``t``/``z`` are RFC 3339 (counted); an offset past 23:59 is not (not counted)."""
    submitted = make_event(REFERRAL, referral_id="R-1")
    submitted["time"] = "2025-03-03t09:15:00z"
    assert fact_of(submitted, sender_of(submitted)) is not None
    submitted["time"] = "2025-03-03T09:15:00+01:60"
    assert fact_of(submitted, sender_of(submitted)) is None


def test_an_event_time_no_kpi_can_believe_counts_nothing() -> None:
    """Before 2000 or more than a day ahead of now: a partner's clock or data is wrong."""
    for at in ("0001-01-02T09:00:00+01:00", "1999-12-31T09:00:00+01:00", "9999-12-30T09:00:00Z"):
        submitted = make_event(REFERRAL, referral_id="R-1")
        submitted["time"] = at
        assert fact_of(submitted, sender_of(submitted)) is None, at
