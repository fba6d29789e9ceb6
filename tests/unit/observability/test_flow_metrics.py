"""The flow counters carry the sending partner and the event's type, never a made-up one."""

from __future__ import annotations

from prometheus_client import REGISTRY

from hub.testing import InMemoryPipeline, load_example

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_events_in_dead_letters_and_duplicates_are_counted_by_partner_and_type() -> None:
    """A referral, its resend and an invalid one count under their type; a made-up type under unknown."""
    hub = InMemoryPipeline()
    event = load_example("referrals.submitted/valid/poh-ggz-referral.json")
    invalid = load_example("referrals.submitted/valid/poh-ggz-referral.json")
    invalid["id"] = "another-id"
    invalid["data"]["client"]["bsn"] = "999999991"
    made_up = load_example("referrals.submitted/valid/poh-ggz-referral.json")
    made_up["id"] = "made-up-type"
    made_up["type"] = "nl.sociaaldomein.anything-a-partner-likes.v1"
    labels = {"partner": "gp-de-linde", "type": REFERRAL}
    before = {
        "in": _value("hub_events_in_total", **labels),
        "dup": _value("hub_duplicates_total", **labels),
        "dead": _value("hub_dead_lettered_total", **labels, code="BSN_INVALID"),
        "unknown": _value("hub_events_in_total", partner="gp-de-linde", type="unknown"),
    }
    for each in (event, event, invalid, made_up):
        hub.feed(each)
    assert _value("hub_events_in_total", **labels) - before["in"] == 3
    assert _value("hub_duplicates_total", **labels) - before["dup"] == 1
    assert _value("hub_dead_lettered_total", **labels, code="BSN_INVALID") - before["dead"] == 1
    unknown = _value("hub_events_in_total", partner="gp-de-linde", type="unknown")
    assert unknown - before["unknown"] == 1
    exposed = {s.labels.get("type") for m in REGISTRY.collect() for s in m.samples}
    assert made_up["type"] not in exposed
