"""Disclosure records: every field privacy.md lists, legal basis per law, subjects through state."""

from __future__ import annotations

import copy
from typing import Any

from hub.privacy import Pseudonymiser
from hub.privacy.policy import policy_version
from hub.routing import OutcomeKind
from hub.routing.ids import delivery_id, disclosure_id, span_id
from hub.testing import OMIT, make_event

from .routing_helpers import GENERATED_TRACE_ID, SECRET, InMemoryHub, disclosures, example

pseudonym = Pseudonymiser(SECRET)
CLIENT, SON, DAUGHTER = "999900018", "999900031", "999900043"  # the referral's household


def records(hub: InMemoryHub, file: str) -> list[dict[str, Any]]:
    """The disclosure records of the last event sent after running the chain up to ``file``."""
    outcome = hub.upto(file)[-1]
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.decision is not None
    return disclosures(outcome)


def test_a_referral_to_the_team_is_recorded_with_every_field(hub: InMemoryHub) -> None:
    """The record of a referral's release to swt holds exactly the fields of privacy.md."""
    raw = example("referrals.submitted/valid/poh-ggz-referral.json")
    [record] = records(hub, "referrals.submitted/valid/poh-ggz-referral.json")
    record_id = disclosure_id(raw["source"], raw["id"], "swt-zwolle")
    assert record == {
        "disclosure_id": record_id,
        "event_id": raw["id"],
        "event_type": "nl.sociaaldomein.referrals.submitted.v1",
        "source": "gp-de-linde",
        "recipient": "swt-zwolle",
        "assignment_number": None,
        "delivery_id": delivery_id(raw["source"], raw["id"], "swt-zwolle"),
        "decided_at": "2026-01-05T09:30:00Z",
        "outcome": "delivered",
        "reason": None,
        "fields_disclosed": [
            "client.address.city",
            "client.address.house_letter",
            "client.address.house_number",
            "client.address.postcode",
            "client.address.street",
            "client.birth_date",
            "client.bsn",
            "client.family_name",
            "client.family_name_prefix",
            "client.given_name",
            "client.initials",
            "client.phone",
            "consent.content_feedback",
            "consent.recorded_on",
            "consent.status_feedback",
            "household_members[].birth_date",
            "household_members[].bsn",
            "household_members[].family_name",
            "household_members[].family_name_prefix",
            "household_members[].given_name",
            "household_members[].initials",
            "referral_id",
            "referrer.agb",
            "referrer.contact.email",
            "referrer.contact.name",
            "referrer.contact.phone",
            "referrer.practice_name",
            "referrer.role",
            "request.life_domains",
            "request.summary",
            "request.urgency",
        ],
        "fields_withheld": [],
        "legal_basis": "explicit consent of the client (AVG art. 6(1)(a), 9(2)(a))",
        "processing_activity": "referral-intake",
        "data_subjects": sorted(pseudonym(b) for b in (CLIENT, SON, DAUGHTER)),
        "data_subject_id_type": "BSN",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": span_id(record_id),
        "parent_span_id": "00f067aa0ba902b7",
        "policy_version": hub.ctx.policy.version,
        "pseudonym_key": "k1",
        "chain": None,  # linked into its chain by the pipeline, when written
        "seq": None,
        "prev_hash": None,
    }


def test_ids_are_stable_uuid5s_of_source_event_recipient_and_assignment() -> None:
    """The id derivation is fixed: changing it would make redeliveries look new."""
    source = "urn:nld:agb:01234567"
    assert disclosure_id(source, "event-1", "swt-zwolle") == "4b5f38fd-4523-5397-80c6-555ec426b4af"
    assert delivery_id(source, "event-1", "swt-zwolle") == "2601be2c-6464-5b79-b929-10eb3efa2189"
    assert (
        delivery_id(source, "event-1", "provider-x", "25000107")
        == "0ef95727-46b3-5549-b4cb-b7ce44a3fdbd"
    )


def test_the_delivery_continues_the_senders_trace(hub: InMemoryHub) -> None:
    """The released CloudEvent's traceparent is a child span (the record's) of the event's trace."""
    outcome = hub.send(example("referrals.submitted/valid/poh-ggz-referral.json"))
    assert outcome.decision is not None
    [delivery] = outcome.decision.deliveries
    [record] = disclosures(outcome)
    assert (
        delivery.event.traceparent == f"00-4bf92f3577b34da6a3ce929d0e0e4736-{record['span_id']}-01"
    )


def test_care_concerns_the_assignments_client_under_its_law(hub: InMemoryHub) -> None:
    """A Jeugdwet care start names the assignment's client and representative, Jeugdwet's basis."""
    found = records(hub, "care.started/valid/jeugdhulp-started-wrong-date.json")
    assert [(r["recipient"], r["legal_basis"]) for r in found] == [
        ("backoffice-zwolle", "Jeugdwet ch. 7.4"),
        ("swt-zwolle", "Jeugdwet ch. 7.4"),
    ]
    for record in found:
        # The event holds no BSN: the son (client) and his mother (legal representative)
        # are linked through the assignment's state.
        assert record["data_subjects"] == sorted([pseudonym(SON), pseudonym(CLIENT)])
        assert record["trace_id"] == GENERATED_TRACE_ID  # the event carried no traceparent
        assert record["parent_span_id"] is None


def test_a_decision_takes_the_law_of_its_request(hub: InMemoryHub) -> None:
    """provisions.decided has no law of its own; its request's (Jeugdwet) gives the basis."""
    hub.upto("provisions.requested/valid/vervoer-per-rit.json")
    outcome = hub.send(example("provisions.decided/valid/jeugdhulp-partially-granted.json"))
    assert outcome.decision is not None
    [record] = disclosures(outcome)
    assert record["legal_basis"] == "Jeugdwet ch. 7.4"
    request = example("provisions.requested/valid/jeugdhulp-inspanningsgericht.json")
    assert record["data_subjects"] == [pseudonym(request["data"]["client"]["bsn"])]


def test_a_case_closing_concerns_its_requests_and_assignments_clients_under_their_laws(
    hub: InMemoryHub,
) -> None:
    """The scenario's case has Wmo and Jeugdwet provisions: its closing names every client and both bases."""
    found = records(hub, "cases.closed/valid/goals-achieved.json")
    [record] = found
    assert record["legal_basis"] == "Jeugdwet ch. 7.4; Wmo 2015 art. 5.1.1"
    # The household's client, and the son, client of the Jeugdwet request and assignment.
    assert set(record["data_subjects"]) >= {pseudonym(CLIENT), pseudonym(SON)}


def open_case_without_bsns(hub: InMemoryHub, case_id: str) -> None:
    """A case opened for a household whose members have no BSN in the event."""
    household = [
        {"role": "client", "person": {"family_name": "Dalfsen", "birth_date": "1986-02-11"}}
    ]
    opened = make_event(
        "cases.opened",
        case_id=case_id,
        household=household,
        origin=OMIT,
        envelope={"subject": case_id},
    )
    assert hub.send(opened).kind is OutcomeKind.ACCEPTED


def jeugdwet_assignment(number: str, case_id: str) -> dict[str, Any]:
    """The example Jeugdwet assignment (the son; his mother represents him) as another number and case."""
    assignment = example("assignments.issued/valid/new-inspanningsgericht-jeugdwet.json")
    assignment.update(id=f"a{number}", subject=number)
    assignment["data"].update(assignment_number=number, case_id=case_id)
    return assignment


def test_a_case_closing_under_one_law_takes_its_basis(hub: InMemoryHub) -> None:
    """A case whose request and assignment are both Jeugdwet, its household without BSNs: Jeugdwet, and their clients."""
    open_case_without_bsns(hub, "C8")
    request = example("provisions.requested/valid/jeugdhulp-inspanningsgericht.json")
    request.update(id="rq8", subject="RQ8")
    request["data"].update(request_id="RQ8", case_id="C8")
    assignment = jeugdwet_assignment("8", "C8")
    assert hub.send(request).kind is OutcomeKind.ACCEPTED
    assert hub.send(assignment).kind is OutcomeKind.ACCEPTED
    outcome = hub.send(make_event("cases.closed", case_id="C8", envelope={"subject": "C8"}))
    [record] = disclosures(outcome)
    assert record["legal_basis"] == "Jeugdwet ch. 7.4"
    # The son (the client of both) and his mother (the assignment's legal representative).
    assert record["data_subjects"] == sorted([pseudonym(SON), pseudonym(CLIENT)])


def test_a_request_received_before_its_case_is_opened_still_concerns_the_closing(
    hub: InMemoryHub,
) -> None:
    """A request and its case's opening travel under different keys: the request first gives the same record."""
    request = example("provisions.requested/valid/jeugdhulp-inspanningsgericht.json")
    request.update(id="rq10", subject="RQ10")
    request["data"].update(request_id="RQ10", case_id="C10")
    assert hub.send(request).kind is OutcomeKind.ACCEPTED  # the case is not known yet
    open_case_without_bsns(hub, "C10")
    outcome = hub.send(make_event("cases.closed", case_id="C10", envelope={"subject": "C10"}))
    [record] = disclosures(outcome)
    assert record["legal_basis"] == "Jeugdwet ch. 7.4"
    assert record["data_subjects"] == [pseudonym(SON)]
    assert not [key for key, _ in hub.state.scan() if key.startswith("case-requests:")]


def test_a_case_closing_leaves_out_an_assignment_moved_to_another_case(hub: InMemoryHub) -> None:
    """An assignment linked to another case since: its client and law no longer concern this closing."""
    open_case_without_bsns(hub, "C9")
    assignment = jeugdwet_assignment("9", "C9")
    assert hub.send(assignment).kind is OutcomeKind.ACCEPTED
    moved = copy.deepcopy(assignment)
    moved["id"] = "a9-moved"
    moved["data"].update(status="changed", change_reason="02", case_id="OTHER")
    assert hub.send(moved).kind is OutcomeKind.ACCEPTED
    [record] = disclosures(
        hub.send(make_event("cases.closed", case_id="C9", envelope={"subject": "C9"}))
    )
    assert record["data_subjects"] == []
    assert record["legal_basis"] == "Wmo 2015 art. 5.1.1"  # no law linked: the row's default


def test_budgets_concern_nobody(hub: InMemoryHub) -> None:
    """A budget status has no data subjects and the no-personal-data basis."""
    outcome = hub.send(example("budgets.status-reported/valid/march.json"))
    assert outcome.decision is not None
    [record] = disclosures(outcome)
    assert record["data_subjects"] == []
    assert record["legal_basis"] == "None needed: the event carries no personal data"
    assert record["processing_activity"] == "budget-monitoring"


def test_cases_opened_goes_to_nobody_and_gets_no_record(hub: InMemoryHub) -> None:
    """An event no row sends anywhere gets neither a delivery nor a disclosure record."""
    outcome = hub.upto("cases.opened/valid/after-referral.json")[-1]
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.decision is not None
    assert outcome.decision.deliveries == ()
    assert outcome.decision.disclosures == ()


def test_each_record_names_the_version_of_the_table_that_decided_it(hub: InMemoryHub) -> None:
    """The table's version is the SHA-256 of what it says: a changed row changes it."""
    [record] = records(hub, "referrals.submitted/valid/poh-ggz-referral.json")
    version = hub.ctx.policy.version
    assert record["policy_version"] == version
    assert len(version) == 64
    assert policy_version([{"routes": [], "version": 1}]) != policy_version(
        [{"routes": [], "version": 2}]
    )
    assert policy_version([{"a": 1, "b": 2}]) == policy_version([{"b": 2, "a": 1}])
