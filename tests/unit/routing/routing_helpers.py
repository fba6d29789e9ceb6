"""Helpers for routing tests: the shared examples, a fixed context, an in-memory hub."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import yaml

from hub.connectors.registry import Partner, PartnerRegistry
from hub.pipeline import process
from hub.privacy import Pseudonymiser, load_policy
from hub.routing import Outcome, RoutingContext
from hub.state import StateStore
from hub.testing import EXAMPLES_DIR, load_example

EXAMPLES = EXAMPLES_DIR
FIXED_NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
GENERATED_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SECRET = b"unit-test-pseudonym-secret-0123456789"


def example(relative: str) -> dict[str, Any]:
    """A fresh copy of one shared example event (``<type>/<valid|invalid>/<name>.json``)."""
    return load_example(relative)


def scenario_files() -> list[str]:
    """The valid examples in the order the pipeline receives them (examples/scenario.yaml)."""
    files: list[str] = yaml.safe_load((EXAMPLES / "scenario.yaml").read_text())["events"]
    return files


def variant(raw: Mapping[str, Any], new_id: str, **data_changes: Any) -> dict[str, Any]:
    """A copy of an event with a new id and some top-level data fields replaced (None removes)."""
    event = copy.deepcopy(dict(raw))
    event["id"] = new_id
    for key, value in data_changes.items():
        if value is None:
            event["data"].pop(key, None)
        else:
            event["data"][key] = value
    return event


def make_context(registry: PartnerRegistry, **changes: Any) -> RoutingContext:
    """The demo registry and default table, with a fixed clock and trace id."""
    values: dict[str, Any] = {
        "registry": registry,
        "policy": load_policy(registry=registry),
        "pseudonymise": Pseudonymiser(SECRET),
        "now": lambda: FIXED_NOW,
        "new_trace_id": lambda: GENERATED_TRACE_ID,
    }
    values.update(changes)
    return RoutingContext(**values)


class InMemoryHub:
    """Runs events through ``process`` with in-memory state, one committed batch per event."""

    def __init__(self, ctx: RoutingContext) -> None:
        self.ctx = ctx
        self.state = StateStore()
        self.held = StateStore()
        self.outcomes: list[Outcome] = []

    def send(self, raw: Mapping[str, Any], sender: Partner | None = None) -> Outcome:
        """Process one event as sent by ``sender`` (default: the partner of its source)."""
        if sender is None:
            sender = self.ctx.registry.by_source(str(raw.get("source")))
        batch, held = self.state.overlay(), self.held.overlay()
        outcome = process(raw, sender, batch, self.ctx, held=held)
        batch.commit()
        held.commit()
        self.outcomes.append(outcome)
        return outcome

    def send_examples(self, files: list[str]) -> list[Outcome]:
        """Process shared examples in order."""
        return [self.send(example(f)) for f in files]

    def upto(self, last: str) -> list[Outcome]:
        """Process the scenario up to and including the example ``last``."""
        files = scenario_files()
        return self.send_examples(files[: files.index(last) + 1])


def disclosures(outcome: Outcome) -> list[dict[str, Any]]:
    """The outcome's disclosure records as written to the disclosure topic (parsed JSON)."""
    if outcome.decision is None:
        return []
    return [json.loads(r.to_json()) for r in outcome.decision.disclosures]
