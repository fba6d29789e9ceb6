"""``hub preview FILE...``: what each recipient would receive, without Kafka.

Runs the given structured-mode CloudEvent files, in order, through the live pipeline's
per-event step (``hub.pipeline.process``: validate -> dedupe -> rules -> release) with an
in-memory state, and prints one JSON object per line:

- ``{"event": ID, "recipient": PARTNER, "data": {...}}`` per delivery;
- ``{"event": ID, "recipient": PARTNER, "withheld": REASON}`` per withheld delivery;
- ``{"event": ID, "rejected": [{"path", "code", "message"}]}`` per rejected event;
- ``{"event": ID, "duplicate": true}`` per repeated (source, id).

The sender of each event is the registered partner whose source it carries. Exit 0
whatever the events hold; 2 when a file cannot be read or the configuration is bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.routing import Decision, RoutingContext
    from hub.settings import HubSettings

__all__ = ["add_deployment_options", "configure", "load_deployment", "preview_lines", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="CloudEvent JSON files")
    add_deployment_options(parser)


def add_deployment_options(parser: argparse.ArgumentParser) -> None:
    """``--partners`` and ``--privacy``: the registry and table an in-memory run uses."""
    parser.add_argument(
        "--partners",
        type=Path,
        default=None,
        help="partner registry (default: HUB_PARTNERS_FILE, else the demo registry)",
    )
    parser.add_argument(
        "--privacy",
        type=Path,
        default=None,
        help="routing/privacy table (default: HUB_PRIVACY__POLICY_FILE, else the defaults)",
    )


def load_deployment(args: argparse.Namespace) -> tuple[HubSettings, RoutingContext]:
    """The settings and routing context of ``--partners``/``--privacy`` over the environment.

    Raises ConfigurationError for a registry or table that cannot be used.
    """
    from hub.connectors.registry import load_registry
    from hub.routing import build_context
    from hub.settings import read_settings

    settings = read_settings()
    if args.privacy is not None:
        privacy = settings.privacy.model_copy(update={"policy_file": args.privacy})
        settings = settings.model_copy(update={"privacy": privacy})
    registry = load_registry(args.partners or settings.partners_file)
    return settings, build_context(settings, registry)


def run(args: argparse.Namespace) -> int:
    """Preview the files; 0 on success, 2 when the arguments or configuration are unusable."""
    from hub.errors import ConfigurationError

    bodies: list[bytes] = []
    for path in args.files:
        try:
            bodies.append(path.read_bytes())
        except OSError as exc:
            print(f"hub preview: cannot read {path} ({exc.strerror})", file=sys.stderr)
            return 2
    try:
        _, ctx = load_deployment(args)
    except ConfigurationError as exc:
        print(f"hub preview: {exc}", file=sys.stderr)
        return 2
    for line in preview_lines(bodies, ctx):
        print(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
    return 0


def preview_lines(bodies: Sequence[bytes], ctx: RoutingContext) -> Iterator[dict[str, Any]]:
    """The output lines for these event bodies, processed in order with a fresh in-memory state."""
    from hub.envelope import parse_structured
    from hub.errors import InvalidEvent
    from hub.pipeline import process_in_memory
    from hub.routing import OutcomeKind
    from hub.state import StateStore

    state, held = StateStore(), StateStore()
    for body in bodies:
        try:
            raw = parse_structured(body)
        except InvalidEvent as exc:
            yield {"event": None, "rejected": [e.as_dict() for e in exc.errors]}
            continue
        source = raw.get("source")
        sender = ctx.registry.by_source(source) if isinstance(source, str) else None
        outcome = process_in_memory(raw, sender, ctx, state, held)
        if outcome.kind is OutcomeKind.DUPLICATE:
            yield {"event": outcome.event_id, "duplicate": True}
        elif outcome.kind is OutcomeKind.DEAD_LETTERED:
            yield {"event": outcome.event_id, "rejected": [e.as_dict() for e in outcome.errors]}
        elif outcome.decision is not None:
            yield from _released(outcome.decision)


def _released(decision: Decision) -> Iterator[dict[str, Any]]:
    deliveries = {d.disclosure_id: d for d in decision.deliveries}
    for record in decision.disclosures:
        line: dict[str, Any] = {"event": record.event_id, "recipient": record.recipient}
        delivery = deliveries.get(record.disclosure_id)
        if delivery is not None:
            line["data"] = _plain(delivery.event.data)
        else:
            line["withheld"] = record.reason
        yield line


def _plain(data: Mapping[str, Any] | str) -> Any:
    # A document rendered in a partner format (text) is shown as the string it is.
    return json.loads(json.dumps(data))
