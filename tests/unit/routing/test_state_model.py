"""The held plan reads the held topic's JSON of today and writes it back unchanged."""

from __future__ import annotations

from hub.families.state import HeldPlan
from hub.routing.ids import TraceContext

TODAY = {
    "event_id": "plan-event-1",
    "source": "urn:nld:oin:00000001234567890000:swt",
    "type": "nl.sociaaldomein.cases.plan-updated.v1",
    "time": "2025-03-20T10:00:00+01:00",
    "subject": "ZWZ-2025-0042",
    "dataschema": None,
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "parent_span_id": None,
    "trace_flags": "01",
    "plan_version": 2,
    "data": {"plan_version": 2, "goals": [{"goal_id": "G1", "result_area": "wonen"}]},
    "omitted": ["goals[].life_domain"],
}


def test_a_held_plan_round_trips_todays_value() -> None:
    """A held value as the rules have written it reads into a HeldPlan and writes back equal."""
    plan = HeldPlan.from_value(TODAY)
    assert plan.trace == TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", None, "01")
    assert plan.plan_version == 2
    assert plan.omitted == ("goals[].life_domain",)
    assert plan.to_value() == TODAY


def test_a_held_plan_without_trace_flags_reads_as_unsampled() -> None:
    """Plans kept before trace flags were stored read with flags ``00``."""
    value = {k: v for k, v in TODAY.items() if k != "trace_flags"}
    assert HeldPlan.from_value(value).trace.flags == "00"
