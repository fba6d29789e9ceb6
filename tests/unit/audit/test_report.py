"""A resident's report in words: shared in part, withheld, and released but not arrived."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from hub.audit.record import (
    AttemptResult,
    DeliveryAttempt,
    DisclosureOutcome,
    DisclosureRecord,
)
from hub.audit.report import ResidentReport, build_report, render_html, transmission
from tests.unit.audit.store_cases import record

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONSENT = "explicit consent of the client (AVG art. 6(1)(a), 9(2)(a))"


def _page(report: ResidentReport) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """The HTML page's headings, (label, text) lines and paragraphs, unescaped."""
    page = render_html(report)
    lines = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page)
    return (
        [html.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", page)],
        [(html.unescape(a), html.unescape(b)) for a, b in lines],
        [html.unescape(p) for p in re.findall(r"<p>(.*?)</p>", page)],
    )


def _record(n: int, **changes: object) -> DisclosureRecord:
    return record(n).model_copy(update=changes)


def _attempt(n: int, result: AttemptResult) -> DeliveryAttempt:
    return DeliveryAttempt.model_validate(
        {
            "attempt_id": f"00000000-0000-5000-8000-0000000000{n:02d}",
            "disclosure_id": record(0).disclosure_id,
            "attempt": n,
            "attempted_at": (NOW + timedelta(minutes=n)).isoformat(),
            "result": result.value,
            "status": 410 if result is not AttemptResult.SUCCEEDED else 200,
        }
    )


def test_a_list_shared_in_part_says_which_part_each_line_is() -> None:
    shared = _record(
        0,
        outcome=DisclosureOutcome.DELIVERED,
        fields_disclosed=("goals[].description",),
        fields_withheld=("goals[].description",),
        reason="NO_GOALS_FOR_ASSIGNMENT",
        legal_basis="Wmo 2015 art. 5.1.1",
    )
    _, pairs, _ = _page(build_report([shared], {}, NOW))
    lines = dict(pairs)
    assert lines["Ontvangen gegevens"] == "een deel van de doelen in uw plan"
    assert lines["Niet gedeeld"] == "de rest van de doelen in uw plan"
    assert lines["Waarom niet"].startswith("geen van de doelen")  # also for a partial one
    assert lines["Grondslag"] == "Wet maatschappelijke ondersteuning 2015, artikel 5.1.1"


def test_a_withholding_names_no_legal_basis() -> None:
    """Nothing was shared, so no basis is named (it would read as the basis for not sharing)."""
    withheld = _record(
        1,
        outcome=DisclosureOutcome.WITHHELD,
        reason="NO_STATUS_FEEDBACK_CONSENT",
        legal_basis=CONSENT,
    )
    _, pairs, _ = _page(build_report([withheld], {}, NOW))
    labels = [label for label, _ in pairs]
    assert labels == ["Niet gedeeld", "Waarom niet", "Doel"]


def test_a_webhook_delivery_that_did_not_arrive_is_not_reported_as_received() -> None:
    parked = _record(0, outcome=DisclosureOutcome.DELIVERED, recipient="gp-het-anker")
    assert transmission([_attempt(1, AttemptResult.FAILED), _attempt(2, AttemptResult.PARKED)]) == (
        "parked"
    )
    assert transmission([_attempt(1, AttemptResult.FAILED)]) == "retrying"
    assert (
        transmission([_attempt(1, AttemptResult.FAILED), _attempt(2, AttemptResult.SUCCEEDED)])
        is None
    )
    assert transmission([]) == "pending"  # a webhook delivery before its first attempt
    assert transmission([], webhook=False) is None  # a stream partner's: there when released

    report = build_report(
        [parked], {"gp-het-anker": "Huisartsenpraktijk Het Anker"}, NOW,
        not_arrived={parked.disclosure_id: "parked"},
    )  # fmt: skip
    [heading], pairs, paragraphs = _page(report)
    assert heading.endswith("aan Huisartsenpraktijk Het Anker verstuurd, niet aangekomen")
    lines = dict(pairs)
    assert "Ontvangen gegevens" not in lines
    assert lines["Aangekomen"].startswith("nee")
    assert report.organisations == ()
    assert "Aantal keer gegevens gedeeld: 0." in paragraphs[-1]
    assert "verstuurd maar niet aangekomen: 1." in paragraphs[-1]
