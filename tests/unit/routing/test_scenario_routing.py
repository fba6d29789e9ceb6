"""The example chain end to end: who receives what, deterministic ids, duplicates."""

from __future__ import annotations

import pytest

from hub.connectors.registry import PartnerRegistry
from hub.routing import OutcomeKind, RoutingContext

from .routing_helpers import (
    InMemoryHub,
    disclosures,
    example,
    make_context,
    scenario_files,
    variant,
)

# (example, outcome, [(type of the released data, recipient, delivered or reason, assignment)])
EXPECTED_ROUTING: list[tuple[str, str, list[tuple[str, str, str, str | None]]]] = [
    (
        "referrals.submitted/valid/poh-ggz-referral.json",
        "accepted",
        [("referrals.submitted", "swt-zwolle", "delivered", None)],
    ),
    (
        "referrals.status-changed/valid/received.json",
        "accepted",
        [("referrals.status-changed", "gp-de-linde", "delivered", None)],
    ),
    (
        "referrals.status-changed/valid/intake-scheduled.json",
        "accepted",
        [("referrals.status-changed", "gp-de-linde", "delivered", None)],
    ),
    ("cases.opened/valid/after-referral.json", "accepted", []),
    (
        "referrals.status-changed/valid/in-progress.json",
        "accepted",
        [("referrals.status-changed", "gp-de-linde", "delivered", None)],
    ),
    ("cases.plan-updated/valid/first-plan.json", "accepted", []),
    (
        "provisions.requested/valid/begeleiding-outputgericht.json",
        "accepted",
        [("provisions.requested", "backoffice-zwolle", "delivered", None)],
    ),
    (
        "provisions.requested/valid/jeugdhulp-inspanningsgericht.json",
        "accepted",
        [("provisions.requested", "backoffice-zwolle", "delivered", None)],
    ),
    (
        "provisions.requested/valid/huishouden-taakgericht.json",
        "accepted",
        [("provisions.requested", "backoffice-zwolle", "delivered", None)],
    ),
    (
        "provisions.requested/valid/vervoer-per-rit.json",
        "accepted",
        [("provisions.requested", "backoffice-zwolle", "delivered", None)],
    ),
    (
        "provisions.decided/valid/begeleiding-granted.json",
        "accepted",
        [("provisions.decided", "swt-zwolle", "delivered", None)],
    ),
    (
        "provisions.decided/valid/jeugdhulp-partially-granted.json",
        "accepted",
        [("provisions.decided", "swt-zwolle", "delivered", None)],
    ),
    (
        "provisions.decided/valid/huishouden-granted.json",
        "accepted",
        [("provisions.decided", "swt-zwolle", "delivered", None)],
    ),
    (
        "provisions.decided/valid/vervoer-denied.json",
        "accepted",
        [("provisions.decided", "swt-zwolle", "delivered", None)],
    ),
    (
        "assignments.issued/valid/new-outputgericht.json",
        "accepted",
        [
            ("assignments.issued", "provider-thuiszorg-zwolle", "delivered", None),
            ("assignments.issued", "swt-zwolle", "delivered", None),
            ("cases.plan-updated", "provider-thuiszorg-zwolle", "delivered", "25000107"),
        ],
    ),
    (
        "assignments.issued/valid/new-inspanningsgericht-jeugdwet.json",
        "accepted",
        [
            ("assignments.issued", "provider-jeugdhulp-ijssel", "delivered", None),
            ("assignments.issued", "swt-zwolle", "delivered", None),
            ("cases.plan-updated", "provider-jeugdhulp-ijssel", "delivered", "25000108"),
        ],
    ),
    (
        "assignments.issued/valid/new-taakgericht-budget.json",
        "accepted",
        [
            ("assignments.issued", "provider-thuiszorg-zwolle", "delivered", None),
            ("assignments.issued", "swt-zwolle", "delivered", None),
            (
                "cases.plan-updated",
                "provider-thuiszorg-zwolle",
                "NO_GOALS_FOR_ASSIGNMENT",
                "25000109",
            ),
        ],
    ),
    (
        "budgets.status-reported/valid/march.json",
        "accepted",
        [("budgets.status-reported", "swt-zwolle", "delivered", None)],
    ),
    (
        "care.started/valid/begeleiding-started.json",
        "accepted",
        [
            ("care.started", "backoffice-zwolle", "delivered", None),
            ("care.started", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "care.started/valid/jeugdhulp-started-wrong-date.json",
        "accepted",
        [
            ("care.started", "backoffice-zwolle", "delivered", None),
            ("care.started", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "care.started/valid/jeugdhulp-start-deleted.json",
        "accepted",
        [
            ("care.started", "backoffice-zwolle", "delivered", None),
            ("care.started", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "care.started/valid/jeugdhulp-start-corrected.json",
        "accepted",
        [
            ("care.started", "backoffice-zwolle", "delivered", None),
            ("care.started", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "cases.plan-updated/valid/second-plan.json",
        "accepted",
        [
            ("cases.plan-updated", "provider-thuiszorg-zwolle", "delivered", "25000107"),
            ("cases.plan-updated", "provider-jeugdhulp-ijssel", "delivered", "25000108"),
            (
                "cases.plan-updated",
                "provider-thuiszorg-zwolle",
                "NO_GOALS_FOR_ASSIGNMENT",
                "25000109",
            ),
        ],
    ),
    (
        "referrals.submitted/valid/youth-care-direct.json",
        "accepted",
        [("referrals.submitted", "swt-zwolle", "delivered", None)],
    ),
    (
        "assignment-requests.submitted/valid/after-gp-referral.json",
        "accepted",
        [
            ("assignment-requests.submitted", "backoffice-zwolle", "delivered", None),
            ("assignment-requests.submitted", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "referrals.status-changed/valid/referred-on.json",
        "accepted",
        [("referrals.status-changed", "gp-het-anker", "delivered", None)],
    ),
    (
        "assignments.issued/valid/withdrawn.json",
        "accepted",
        [
            ("assignments.issued", "provider-thuiszorg-zwolle", "delivered", None),
            ("assignments.issued", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "assignments.issued/valid/new-without-case.json",
        "accepted",
        [
            ("assignments.issued", "provider-jeugdhulp-ijssel", "delivered", None),
            ("assignments.issued", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "safety-reports.submitted/valid/structural-unsafety.json",
        "accepted",
        [("safety-reports.submitted", "veilig-thuis-ijsselland", "delivered", None)],
    ),
    (
        "care.started/valid/youth-care-started.json",
        "accepted",
        [
            ("care.started", "backoffice-zwolle", "delivered", None),
            ("care.started", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "safety-reports.feedback/valid/received.json",
        "accepted",
        [("safety-reports.feedback", "swt-zwolle", "delivered", None)],
    ),
    (
        "safety-reports.feedback/valid/safety-assessed.json",
        "accepted",
        [("safety-reports.feedback", "swt-zwolle", "delivered", None)],
    ),
    (
        "outcomes.reported/valid/april.json",
        "accepted",
        [
            ("outcomes.reported", "swt-zwolle", "delivered", None),
            ("outcomes.reported", "backoffice-zwolle", "delivered", None),
        ],
    ),
    (
        "assignments.issued/valid/changed-volume.json",
        "accepted",
        [
            ("assignments.issued", "provider-thuiszorg-zwolle", "delivered", None),
            ("assignments.issued", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "safety-cases.handed-over/valid/to-wijkteam.json",
        "accepted",
        [("safety-cases.handed-over", "swt-zwolle", "delivered", None)],
    ),
    ("cases.opened/valid/after-safety-handover.json", "accepted", []),
    (
        "safety-reports.submitted/valid/acute-danger.json",
        "accepted",
        [("safety-reports.submitted", "veilig-thuis-ijsselland", "delivered", None)],
    ),
    (
        "care.stopped/valid/jeugdhulp-stopped.json",
        "accepted",
        [
            ("care.stopped", "backoffice-zwolle", "delivered", None),
            ("care.stopped", "swt-zwolle", "delivered", None),
        ],
    ),
    (
        "cases.closed/valid/goals-achieved.json",
        "accepted",
        [("cases.closed", "backoffice-zwolle", "delivered", None)],
    ),
    (
        "referrals.status-changed/valid/closed.json",
        "accepted",
        [("referrals.status-changed", "gp-de-linde", "delivered", None)],
    ),
]


def _summary(hub: InMemoryHub) -> list[tuple[str, str, list[tuple[str, str, str, str | None]]]]:
    out = []
    for file, outcome in zip(scenario_files(), hub.outcomes, strict=True):
        rows = []
        for record in disclosures(outcome):
            short = ".".join(str(record["event_type"]).split(".")[2:4])
            result = "delivered" if record["outcome"] == "delivered" else record["reason"]
            rows.append((short, record["recipient"], result, record["assignment_number"]))
        out.append((file, outcome.kind.value, rows))
    return out


def test_every_example_of_the_chain_is_routed_as_the_table_says(scenario: InMemoryHub) -> None:
    """Each example of the chain reaches exactly the recipients of privacy.md's table."""
    assert _summary(scenario) == EXPECTED_ROUTING


def test_deliveries_and_records_pair_up(scenario: InMemoryHub) -> None:
    """Every delivery names its disclosure record, which says delivered; withheld records have none."""
    for outcome in scenario.outcomes:
        assert outcome.decision is not None
        records = {r["disclosure_id"]: r for r in disclosures(outcome)}
        for delivery in outcome.decision.deliveries:
            record = records[delivery.disclosure_id]
            assert record["outcome"] == "delivered"
            assert record["delivery_id"] == delivery.event.id
            assert record["recipient"] == delivery.recipient
        delivered = {d.disclosure_id for d in outcome.decision.deliveries}
        for record in disclosures(outcome):
            assert (record["outcome"] == "delivered") == (record["disclosure_id"] in delivered)


def test_a_redelivered_event_gets_the_same_ids(registry: PartnerRegistry) -> None:
    """Deciding the chain twice, in two fresh hubs, yields identical delivery and disclosure ids."""
    first, second = (InMemoryHub(make_context(registry)) for _ in range(2))
    first.send_examples(scenario_files())
    second.send_examples(scenario_files())

    def ids(hub: InMemoryHub) -> list[tuple[str, str | None]]:
        return [
            (str(d.event.id), d.disclosure_id)
            for o in hub.outcomes
            if o.decision
            for d in o.decision.deliveries
        ]

    assert ids(first) == ids(second)
    assert len(set(ids(first))) == len(ids(first))


def test_a_repeated_source_and_id_is_a_duplicate(hub: InMemoryHub) -> None:
    """The second event with the same (source, id) is acknowledged as a duplicate and changes nothing."""
    raw = example("referrals.submitted/valid/poh-ggz-referral.json")
    assert hub.send(raw).kind is OutcomeKind.ACCEPTED
    size = len(hub.state)
    again = hub.send(raw)
    assert again.kind is OutcomeKind.DUPLICATE
    assert again.decision is None
    assert again.event_id == raw["id"]
    assert len(hub.state) == size


def test_a_stateful_rejection_is_remembered_as_seen(hub: InMemoryHub) -> None:
    """An event rejected by a stateful rule is a duplicate when it comes again."""
    raw = example("referrals.status-changed/valid/received.json")
    first = hub.send(raw)
    assert first.kind is OutcomeKind.DEAD_LETTERED
    assert first.unroutable is True
    assert hub.send(raw).kind is OutcomeKind.DUPLICATE


def test_a_stateless_rejection_is_not_remembered(hub: InMemoryHub) -> None:
    """An event that fails the stateless contract records nothing, so a fixed resend is processed."""
    raw = example("referrals.submitted/valid/poh-ggz-referral.json")
    broken = variant(raw, raw["id"], urgency_typo="soon")
    assert hub.send(broken).kind is OutcomeKind.DEAD_LETTERED
    assert len(hub.state) == 0
    assert hub.send(raw).kind is OutcomeKind.ACCEPTED


def test_an_unregistered_source_is_rejected_without_a_sender(ctx: RoutingContext) -> None:
    """Without an authenticated sender, an event whose source no partner has is SOURCE_MISMATCH."""
    hub = InMemoryHub(ctx)
    raw = example("referrals.submitted/valid/poh-ggz-referral.json")
    raw["source"] = "urn:nld:agb:09999999"
    outcome = hub.send(raw)
    assert outcome.kind is OutcomeKind.DEAD_LETTERED
    assert [e.as_dict() for e in outcome.errors] == [
        {
            "path": "source",
            "code": "SOURCE_MISMATCH",
            "message": "No registered partner sends as this source.",
        }
    ]


@pytest.mark.parametrize("file", scenario_files())
def test_every_example_is_decided_without_rejection(file: str, scenario: InMemoryHub) -> None:
    """No valid example of the chain is rejected by a stateful rule."""
    outcome = scenario.outcomes[scenario_files().index(file)]
    assert outcome.kind is OutcomeKind.ACCEPTED, [e.as_dict() for e in outcome.errors]
