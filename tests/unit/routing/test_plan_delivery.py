"""cases.plan-updated: one delivery per live assignment, its goals only, and replay on going live."""

from __future__ import annotations

from typing import Any

from hub.families.state import plan_key
from hub.pipeline import process
from hub.routing import OutcomeKind
from hub.routing.ids import delivery_id
from hub.testing import make_event

from .routing_helpers import FIXED_NOW, InMemoryHub, disclosures, example, variant

SECOND_PLAN = "cases.plan-updated/valid/second-plan.json"


def plan_deliveries(outcome: Any) -> dict[str, dict[str, Any]]:
    """The plan deliveries of an outcome, by subject (the assignment number)."""
    assert outcome.decision is not None
    return {
        d.event.subject: {"recipient": d.recipient, "id": d.event.id, "data": dict(d.event.data)}
        for d in outcome.decision.deliveries
        if d.event.type.endswith("cases.plan-updated.v1")
    }


def test_each_live_assignment_gets_the_goals_of_its_result_areas(hub: InMemoryHub) -> None:
    """The second plan reaches each live assignment with only its goals, keyed by its number."""
    outcome = hub.upto(SECOND_PLAN)[-1]
    plan = example(SECOND_PLAN)
    goals = {g["goal_id"]: g for g in plan["data"]["goals"]}

    def view(*ids: str) -> list[dict[str, Any]]:
        return [
            {
                k: v
                for k, v in goals[i].items()
                if k in ("goal_id", "result_area", "description", "target_date")
            }
            for i in ids
        ]

    assert plan_deliveries(outcome) == {
        "25000107": {
            "recipient": "provider-thuiszorg-zwolle",
            "id": delivery_id(plan["source"], plan["id"], "provider-thuiszorg-zwolle", "25000107"),
            "data": {
                "assignment_number": "25000107",
                "plan_version": 2,
                "updated_on": plan["data"]["updated_on"],
                "goals": view("G1", "G3"),
            },
        },
        "25000108": {
            "recipient": "provider-jeugdhulp-ijssel",
            "id": delivery_id(plan["source"], plan["id"], "provider-jeugdhulp-ijssel", "25000108"),
            "data": {
                "assignment_number": "25000108",
                "plan_version": 2,
                "updated_on": plan["data"]["updated_on"],
                "goals": view("G2"),
            },
        },
    }


def test_an_assignment_without_matching_goals_is_withheld(hub: InMemoryHub) -> None:
    """A live assignment none of whose result areas has a goal gets nothing; that is recorded."""
    outcome = hub.upto(SECOND_PLAN)[-1]
    assert outcome.decision is not None
    [withheld] = [r for r in disclosures(outcome) if r["outcome"] == "withheld"]
    assert withheld["assignment_number"] == "25000109"
    assert withheld["reason"] == "NO_GOALS_FOR_ASSIGNMENT"
    assert withheld["fields_disclosed"] == []
    assert withheld["delivery_id"] is None
    assert withheld["fields_withheld"] == [
        "case_id",
        "goals[].description",
        "goals[].goal_id",
        "goals[].life_domain",
        "goals[].result_area",
        "goals[].target_date",
        "plan_version",
        "updated_on",
    ]


def test_a_plan_without_goals_reaches_no_provider(hub: InMemoryHub) -> None:
    """A plan with an empty goal list leaves no goal for any assignment: each one is withheld."""
    hub.upto("care.started/valid/jeugdhulp-start-corrected.json")
    empty = variant(example(SECOND_PLAN), "plan-without-goals", goals=[])
    outcome = hub.send(empty)
    assert outcome.decision is not None
    assert plan_deliveries(outcome) == {}
    records = disclosures(outcome)
    assert {r["assignment_number"] for r in records} == {"25000107", "25000108", "25000109"}
    for record in records:
        assert (record["outcome"], record["reason"]) == ("withheld", "NO_GOALS_FOR_ASSIGNMENT")
        assert record["delivery_id"] is None
        assert record["fields_disclosed"] == []
        assert record["fields_withheld"] == ["case_id", "plan_version", "updated_on"]


def test_a_held_plan_without_goals_is_not_replayed(hub: InMemoryHub) -> None:
    """An assignment that goes live after a plan without goals gets no plan; that is recorded."""
    hub.upto("provisions.decided/valid/vervoer-denied.json")
    first = example("cases.plan-updated/valid/first-plan.json")
    hub.send(variant(first, "first-plan-without-goals", plan_version=2, goals=[]))
    outcome = hub.send(example("assignments.issued/valid/new-outputgericht.json"))
    assert outcome.decision is not None
    assert plan_deliveries(outcome) == {}
    [replayed] = [r for r in disclosures(outcome) if r["event_id"] == "first-plan-without-goals"]
    assert (replayed["outcome"], replayed["reason"]) == ("withheld", "NO_GOALS_FOR_ASSIGNMENT")
    assert replayed["assignment_number"] == "25000107"


def test_an_assignment_that_goes_live_later_gets_the_latest_plan_then(hub: InMemoryHub) -> None:
    """The first plan precedes every assignment; each new assignment gets it with the plan's ids."""
    outcomes = hub.upto("assignments.issued/valid/new-outputgericht.json")
    plan = example("cases.plan-updated/valid/first-plan.json")
    deliveries = plan_deliveries(outcomes[-1])
    assert list(deliveries) == ["25000107"]
    assert deliveries["25000107"]["id"] == delivery_id(
        plan["source"], plan["id"], "provider-thuiszorg-zwolle", "25000107"
    )
    assert [g["goal_id"] for g in deliveries["25000107"]["data"]["goals"]] == ["G1", "G3"]
    assert outcomes[-1].decision is not None
    [replayed] = [r for r in disclosures(outcomes[-1]) if r["event_id"] == plan["id"]]
    assert replayed["event_type"] == "nl.sociaaldomein.cases.plan-updated.v1"
    assert replayed["source"] == "swt-zwolle"
    # What the held copy never kept is still reported as withheld.
    assert "goals[].life_domain" in replayed["fields_withheld"]
    assert "case_id" in replayed["fields_withheld"]


def test_a_stopped_assignment_gets_no_plan_until_the_stop_is_deleted(hub: InMemoryHub) -> None:
    """Care stopped: no plan; the stop deleted: live again, and the latest plan is delivered once."""
    hub.upto("care.started/valid/jeugdhulp-start-corrected.json")
    stop = example("care.stopped/valid/jeugdhulp-stopped.json")
    assert hub.send(stop).kind is OutcomeKind.ACCEPTED
    assert list(plan_deliveries(hub.send(example(SECOND_PLAN)))) == ["25000107"]

    undo = variant(stop, "stop-deleted", delivery_status="deleted")
    deliveries = plan_deliveries(hub.send(undo))
    assert list(deliveries) == ["25000108"]
    assert [g["goal_id"] for g in deliveries["25000108"]["data"]["goals"]] == ["G2"]
    # Live again with the latest plan already delivered: a new start replays nothing.
    again = variant(stop, "stop-again")
    assert plan_deliveries(hub.send(again)) == {}


def test_a_withdrawn_assignment_gets_no_plan(hub: InMemoryHub) -> None:
    """After withdrawn, plans no longer reach that assignment."""
    hub.upto("assignments.issued/valid/new-taakgericht-budget.json")
    hub.send(example("assignments.issued/valid/withdrawn.json"))
    outcome = hub.send(example(SECOND_PLAN))
    assert outcome.decision is not None
    assert {r["assignment_number"] for r in disclosures(outcome)} == {
        "25000107",
        "25000108",
    }


def test_closing_the_case_drops_its_held_plan(hub: InMemoryHub) -> None:
    """cases.closed removes the case's plan from the held-content store."""
    hub.upto("cases.plan-updated/valid/first-plan.json")
    assert hub.held.get(plan_key("ZWZ-2025-0042")) is not None
    closed = example("cases.closed/valid/goals-achieved.json")
    assert hub.send(closed).kind is OutcomeKind.ACCEPTED
    assert hub.held.get(plan_key("ZWZ-2025-0042")) is None


def test_a_plan_after_the_closing_goes_to_live_assignments_and_is_not_held(
    hub: InMemoryHub,
) -> None:
    """After cases.closed nothing is held for later assignments, also not a plan sent after it."""
    hub.upto("cases.plan-updated/valid/first-plan.json")
    assert hub.send(example("cases.closed/valid/goals-achieved.json")).kind is OutcomeKind.ACCEPTED
    later = make_event("cases.plan-updated", plan_version=5)
    assert hub.send(later).kind is OutcomeKind.ACCEPTED
    assert hub.held.get(plan_key("ZWZ-2025-0042")) is None


def test_a_held_plan_carries_its_receipt_date(hub: InMemoryHub) -> None:
    """Held content goes after the personal-data retention, counted from receipt (docs/state.md)."""
    hub.upto("cases.plan-updated/valid/first-plan.json")
    held = hub.held.get(plan_key("ZWZ-2025-0042"))
    assert held is not None
    assert held["received_on"] == FIXED_NOW.date().isoformat()  # 09:30 UTC: the same day here


def test_the_held_plan_keeps_only_what_a_provider_may_receive(hub: InMemoryHub) -> None:
    """The held copy has no life domains, no case id and no goals without a result area."""
    hub.upto("cases.plan-updated/valid/first-plan.json")
    held = hub.held.get(plan_key("ZWZ-2025-0042"))
    assert held is not None
    assert sorted(held["data"]) == ["goals", "plan_version", "updated_on"]
    assert [sorted(g) for g in held["data"]["goals"]] == [
        ["description", "goal_id", "result_area", "target_date"],
        ["description", "goal_id", "result_area", "target_date"],
        ["description", "goal_id", "result_area"],
    ]


def test_without_a_held_store_plans_are_neither_kept_nor_replayed(hub: InMemoryHub) -> None:
    """process without ``held`` returns no held changes and replays nothing."""
    hub.upto("provisions.decided/valid/vervoer-denied.json")
    raw = example("assignments.issued/valid/new-outputgericht.json")
    decision = process(raw, None, hub.state.overlay(), hub.ctx).decision
    assert decision is not None
    assert decision.held_changes == {}
    assert [d.event.type.split(".")[2] for d in decision.deliveries] == [
        "assignments",
        "assignments",
    ]


def test_an_assignment_linked_to_the_case_later_gets_the_latest_plan_then(
    hub: InMemoryHub,
) -> None:
    """Issued without case_id after the plan, then changed to name the case: it goes live for the case then."""
    hub.upto("provisions.decided/valid/vervoer-denied.json")
    issued = example("assignments.issued/valid/new-outputgericht.json")
    without_case = variant(issued, "issued-without-case", case_id=None)
    assert plan_deliveries(hub.send(without_case)) == {}

    linked = variant(issued, "linked-to-the-case", status="changed", change_reason="02")
    outcome = hub.send(linked)

    plan = example("cases.plan-updated/valid/first-plan.json")
    deliveries = plan_deliveries(outcome)
    assert list(deliveries) == ["25000107"]
    assert deliveries["25000107"]["id"] == delivery_id(
        plan["source"], plan["id"], "provider-thuiszorg-zwolle", "25000107"
    )
    assert [g["goal_id"] for g in deliveries["25000107"]["data"]["goals"]] == ["G1", "G3"]
    # Once: a later change of the same assignment does not deliver the plan again.
    again = variant(issued, "changed-again", status="changed", change_reason="03")
    assert plan_deliveries(hub.send(again)) == {}


def test_an_assignment_unlinked_and_linked_again_does_not_get_the_plan_twice(
    hub: InMemoryHub,
) -> None:
    """Back in the case whose plan it already had: nothing new to deliver (one delivery id, one record)."""
    hub.upto("provisions.decided/valid/vervoer-denied.json")
    issued = example("assignments.issued/valid/new-outputgericht.json")
    assert list(plan_deliveries(hub.send(issued))) == ["25000107"]
    unlinked = variant(issued, "unlinked", status="changed", change_reason="02", case_id=None)
    assert plan_deliveries(hub.send(unlinked)) == {}

    relinked = variant(issued, "relinked", status="changed", change_reason="02")

    assert plan_deliveries(hub.send(relinked)) == {}


def test_a_plan_withheld_then_released_later_is_two_records_of_their_own(
    hub: InMemoryHub,
) -> None:
    """Withheld (no goals for its areas), moved away and back with other areas: the replay is a record with its own id.

    The audit store keeps one record per id: under one id the later delivery was lost and
    the resident told the provider got nothing.
    """
    outcome = hub.upto(SECOND_PLAN)[-1]
    [withheld] = [r for r in disclosures(outcome) if r["assignment_number"] == "25000109"]
    assert withheld["outcome"] == "withheld"
    other_case = variant(example("cases.opened/valid/after-referral.json"), "opened-0099")
    other_case["data"]["case_id"] = other_case["subject"] = "ZWZ-2025-0099"
    hub.send(other_case)
    issued = example("assignments.issued/valid/new-taakgericht-budget.json")
    moved = variant(issued, "moved", status="changed", change_reason="02", case_id="ZWZ-2025-0099")
    hub.send(moved)
    back = variant(
        issued,
        "back",
        status="changed",
        change_reason="02",
        result_areas=["financien-op-orde"],
    )

    replayed = hub.send(back)

    [released] = [r for r in disclosures(replayed) if r["assignment_number"] == "25000109"]
    plan = example(SECOND_PLAN)
    assert released["outcome"] == "delivered"
    assert released["event_id"] == plan["id"]
    assert released["disclosure_id"] != withheld["disclosure_id"]
    assert released["delivery_id"] == delivery_id(
        plan["source"], plan["id"], "provider-thuiszorg-zwolle", "25000109"
    )
