"""``hub iwmo inbound|outbound``: the iWmo 3.2 translator in memory, without Kafka or HTTP.

Both run the ``--after`` files first, in order, as ``hub preview`` does: each CloudEvent
through the live pipeline's per-event step (``hub.pipeline.process``: validation, the
stateful rules, release) with an in-memory routing state, every provider counting as
``iwmo: true``: release renders an accepted ``assignments.issued`` as the 301 each
provider receiving it gets instead of its JSON view, and keeps what the live hub keeps. An ``--after`` file that starts with ``<``
is an iWmo document, posted as ``inbound`` posts FILE (its sender from the document).

- ``inbound FILE.xml`` posts FILE as PARTNER and prints one JSON object: ``accepted``,
  ``events``, ``retour``, ``retourcodes``, ``errors`` and, for a 302, ``retour_of``.
  Exit 0 if accepted, else 1.
- ``outbound EVENT.json`` runs EVENT and prints ``{"wmo301", "reason"}``; exit 1 with
  ``errors`` when the hub rejects the event.

Exit 2 when a file cannot be read, ``--sender`` names no partner, or the configuration is
bad. Output never holds a BSN, a name, a birth date or XML content, except the retour and
the 301 themselves (the sender's own document, and the provider's view).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.cli.preview import add_deployment_options, load_deployment

if TYPE_CHECKING:
    from hub.connectors.registry import Partner
    from hub.iwmo import CareMessage, IwmoSettings
    from hub.iwmo.memory import MemoryIwmoState
    from hub.routing import Decision, Outcome, RoutingContext
    from hub.state import StateStore

__all__ = ["IwmoSession", "configure", "run"]

IWMO = "iwmo"
"""The partner format `hub iwmo` speaks: partners of a role that offers it count as iwmo: true."""
"""The role whose partners may use iWmo (here: every one of them, as if ``iwmo: true``)."""

ASSIGNMENTS_ISSUED = "nl.sociaaldomein.assignments.issued.v1"
"""The type a 301 is rendered from."""

XML = "application/xml"
"""The ``datacontenttype`` of a delivery rendered as a 301."""

_USAGE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-commands ``inbound`` and ``outbound`` and their arguments."""
    commands = parser.add_subparsers(dest="iwmo_command", required=True, metavar="DIRECTION")
    inbound = commands.add_parser(
        "inbound",
        help="answer an iWmo 302/305/307 as the hub would (retour, events, codes)",
        description="Run the --after events, then post FILE.xml as PARTNER; print the answer.",
    )
    inbound.add_argument(
        "--sender",
        metavar="PARTNER",
        default=None,
        help="the posting provider's partner id (default: the provider whose AGB is the "
        "Afzender; for a 302 the Ontvanger)",
    )
    _common(inbound)
    inbound.add_argument("file", type=Path, nargs="?", metavar="FILE.xml", help="the iWmo document")
    outbound = commands.add_parser(
        "outbound",
        help="show the 301 a provider would get for an assignments.issued event",
        description="Run the --after events, then EVENT.json; print its 301 or the reason.",
    )
    _common(outbound)
    outbound.add_argument("file", type=Path, nargs="?", metavar="EVENT.json", help="a CloudEvent")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--after",
        action="extend",
        nargs="+",
        type=Path,
        default=[],
        metavar="EVENT.json",
        help="CloudEvents (or iWmo documents) to run first, in order; repeatable",
    )
    add_deployment_options(parser)


def run(args: argparse.Namespace) -> int:
    """Run the sub-command; 0 accepted, 1 not, 2 when the arguments or configuration are unusable."""
    from hub.errors import ConfigurationError

    name = f"hub iwmo {args.iwmo_command}"
    after: list[Path] = list(args.after)
    # `--after A B FILE` reads FILE as one more --after value: the last one is FILE then.
    file: Path | None = args.file if args.file is not None else (after.pop() if after else None)
    if file is None:
        print(f"{name}: the file to translate is missing", file=sys.stderr)
        return _USAGE
    bodies: list[tuple[Path, bytes]] = []
    for path in [*after, file]:
        try:
            bodies.append((path, path.read_bytes()))
        except OSError as exc:
            print(f"{name}: cannot read {path} ({exc.strerror})", file=sys.stderr)
            return _USAGE
    try:
        settings, ctx = load_deployment(args)
    except ConfigurationError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return _USAGE
    sender = getattr(args, "sender", None)
    if sender is not None and ctx.registry.get(sender) is None:
        print(f"{name}: --sender {sender} is not a registered partner", file=sys.stderr)
        return _USAGE
    session = IwmoSession(ctx, settings.iwmo)
    *before, (_, body) = bodies
    for path, each in before:
        note = session.after(each)
        if note is not None:
            print(f"{name}: --after {path}: {note}", file=sys.stderr)
    if args.iwmo_command == "inbound":
        result = session.inbound(body, sender)
        code = 0 if result["accepted"] else 1
    else:
        result = session.outbound(body)
        code = 1 if "errors" in result else 0
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
    return code


def _is_document(body: bytes) -> bool:
    return body.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def _error(code: str, path: str) -> dict[str, str | None]:
    return {"code": code, "path": path, "retourcode": None}


class IwmoSession:
    """The hub in memory, as the translator meets it: routing state, held content, iWmo records.

    Every provider of the registry counts as ``iwmo: true``. The clock is the routing
    context's (``ctx.now``): it stamps receipts, events and the processing date.
    """

    def __init__(self, ctx: RoutingContext, settings: IwmoSettings) -> None:
        import dataclasses

        from hub.connectors.registry import PartnerRegistry
        from hub.families.state import assignment_key, care_starts
        from hub.iwmo.memory import MemoryIwmoState
        from hub.state import StateStore

        # Every provider as if its registry entry said ``iwmo: true``: release renders the
        # 301s (the context's renderers are bound to the settings ``settings`` belongs to).
        registry = PartnerRegistry(
            [
                p.model_copy(update={"iwmo": True})
                if IWMO in ctx.registry.roles[p.role].formats
                else p
                for p in ctx.registry
            ],
            ctx.registry.roles,
        )
        self.ctx = dataclasses.replace(ctx, registry=registry)
        self.settings = settings
        self.state: StateStore = StateStore()
        self.held: StateStore = StateStore()
        self.iwmo: MemoryIwmoState = MemoryIwmoState(self.state, assignment_key, care_starts)

    # ------------------------------------------------------------------ CloudEvents

    def after(self, body: bytes) -> str | None:
        """Run one ``--after`` file; a short note (codes only) when it was not accepted."""
        if _is_document(body):
            result = self.inbound(body, None)
            if result["accepted"]:
                return None
            return "not accepted (" + ", ".join(str(e["code"]) for e in result["errors"]) + ")"
        outcome, errors = self.send_event(body)
        if errors:
            return "rejected (" + ", ".join(str(e["code"]) for e in errors) + ")"
        if outcome is not None and outcome.decision is None:
            return "duplicate"
        return None

    def send_event(self, body: bytes) -> tuple[Outcome | None, list[dict[str, str]]]:
        """Run a structured-mode CloudEvent as ``hub preview`` does, then send its 301s.

        Returns the outcome (None when the envelope is unreadable) and the errors of a
        rejection (``{path, code, message}``, as ``hub preview`` prints them).
        """
        from hub.envelope import parse_structured
        from hub.errors import InvalidEvent
        from hub.routing import OutcomeKind

        try:
            raw = parse_structured(body)
        except InvalidEvent as exc:
            return None, [e.as_dict() for e in exc.errors]
        source = raw.get("source")
        sender = self.ctx.registry.by_source(source) if isinstance(source, str) else None
        outcome = self._process(raw, sender)
        if outcome.kind is OutcomeKind.DEAD_LETTERED:
            return outcome, [e.as_dict() for e in outcome.errors]
        return outcome, []

    def _process(
        self,
        raw: Mapping[str, Any],
        sender: Partner | None,
        received_at: datetime | None = None,
    ) -> Outcome:
        from hub.pipeline import process_in_memory

        outcome = process_in_memory(
            raw, sender, self.ctx, self.state, self.held, received_at=received_at
        )
        if outcome.decision is not None:
            self._keep_301s(outcome.decision)
        return outcome

    def _keep_301s(self, decision: Decision) -> None:
        """Read the 301s release sent, with their records, into the translator's view."""
        from hub.iwmo import AssignmentRecord
        from hub.iwmo.kept import SENT_301_PREFIX, Sent301, assignment_record_key
        from hub.iwmo.memory import SentWmo301

        changes = decision.state_changes
        for key, value in changes.items():
            if value is None or not key.startswith(f"{SENT_301_PREFIX}:"):
                continue
            sent = Sent301.from_json(value)
            record = changes.get(assignment_record_key(sent.numbers[0]))
            if record is not None:
                self.iwmo.keep_301(
                    SentWmo301(sent.gemeentecode, sent.provider_agb, sent.identificatie),
                    AssignmentRecord.from_json(record),
                )

    def _renderings(self, decision: Decision) -> list[dict[str, Any]]:
        """Per provider that receives this ``assignments.issued``: its 301 or the reason it has none."""
        from hub.families.iwmo import NOT_RENDERABLE

        deliveries = {d.disclosure_id: d for d in decision.deliveries}
        renderings: list[dict[str, Any]] = []
        for record in decision.disclosures:
            partner = self.ctx.registry.get(record.recipient)
            if partner is None or IWMO not in partner.formats:
                continue
            delivery = deliveries.get(record.disclosure_id)
            if delivery is None:
                if record.reason == NOT_RENDERABLE:
                    renderings.append({"wmo301": None, "reason": "not-renderable"})
                continue
            data = delivery.event.data
            if delivery.event.datacontenttype == XML and isinstance(data, str):
                renderings.append({"wmo301": data, "reason": None})
            elif isinstance(data, Mapping) and "provider_agb" in data:
                # Stays JSON: the law is not the Wmo, or a taakgericht assignment.
                reason = "not-wmo" if data.get("law") != "wmo" else "taakgericht"
                renderings.append({"wmo301": None, "reason": reason})
        return renderings

    def outbound(self, body: bytes) -> dict[str, Any]:
        """``{"wmo301", "reason"}`` for one CloudEvent; with ``errors`` when the hub rejects it."""
        from hub.envelope import parse_structured
        from hub.errors import InvalidEvent
        from hub.routing import OutcomeKind

        try:
            raw = parse_structured(body)
        except InvalidEvent as exc:
            return {"wmo301": None, "reason": None, "errors": [e.as_dict() for e in exc.errors]}
        source = raw.get("source")
        sender = self.ctx.registry.by_source(source) if isinstance(source, str) else None
        outcome = self._process(raw, sender)
        if outcome.kind is OutcomeKind.DEAD_LETTERED:
            return {
                "wmo301": None,
                "reason": None,
                "errors": [e.as_dict() for e in outcome.errors],
            }
        if outcome.decision is None:  # a duplicate: delivered the first time, not again
            return {"wmo301": None, "reason": None, "duplicate": True}
        if raw.get("type") != ASSIGNMENTS_ISSUED:
            return {"wmo301": None, "reason": "not-wmo"}  # stays JSON: not an assignment
        renderings = self._renderings(outcome.decision)
        if not renderings:
            return {"wmo301": None, "reason": "not-renderable"}  # no provider receives it
        return renderings[0]

    # ------------------------------------------------------------------ iWmo documents

    def inbound(self, body: bytes, sender_id: str | None) -> dict[str, Any]:
        """The answer to an iWmo document posted by ``sender_id`` (default: from the document)."""
        from hub.iwmo import AssignmentRetour, MessageRefused, claimed_sender, read_inbound

        result: dict[str, Any] = {
            "accepted": False,
            "events": [],
            "retour": None,
            "retourcodes": {},
            "errors": [],
        }
        max_bytes = self.settings.max_bytes
        registry = self.ctx.registry
        if sender_id is not None:
            # Before the document is read, as the gateway's 403 comes before its body.
            sender = registry.get(sender_id)
            if sender is None or IWMO not in sender.formats or sender.agb is None:
                result["errors"] = [_error("TYPE_NOT_ALLOWED", "/")]
                return result
        else:
            try:
                agb, agb_path = claimed_sender(body, max_bytes=max_bytes)
            except MessageRefused as refused:
                result["errors"] = [refused.problem.as_error()]
                return result
            sender = registry.by_agb(agb)
            if sender is None or IWMO not in sender.formats or sender.agb is None:
                result["errors"] = [_error("AGB_NOT_SENDER", agb_path)]
                return result
        try:
            message = read_inbound(body, sender_agb=sender.agb, max_bytes=max_bytes)
        except MessageRefused as refused:
            result["errors"] = [refused.problem.as_error()]
            return result
        if isinstance(message, AssignmentRetour):
            result["retour_of"] = message.as_dict()
            if self.iwmo.match_302(message) is None:
                result["errors"] = [
                    _error("RETOUR_UNMATCHED", "/Bericht/Header/BerichtIdentificatie/Identificatie")
                ]
            else:
                result["accepted"] = True
            return result
        result.update(self._answer(message, sender))
        return result

    def _answer(self, message: CareMessage, sender: Partner) -> dict[str, Any]:
        """A 305/307 past level 1: the translator's answer, then its events through the pipeline."""
        from hub.envelope import AMSTERDAM
        from hub.iwmo import ReceiptContext, answer_care_message

        received_at = self.ctx.now().astimezone(AMSTERDAM).replace(microsecond=0)
        answer = answer_care_message(
            message,
            self.iwmo,
            ReceiptContext(
                received_at=received_at,
                source=sender.source,
                gemeentecode=self.settings.gemeentecode,
                pseudonymise=self.ctx.pseudonymise,
                xsd_versie_retour=self.settings.xsd_versie_retour,
            ),
        )
        retour = answer.retour.decode("utf-8")
        if answer.replayed:
            header = message.header
            kept = self.iwmo.kept_answer(
                header.afzender, header.kind.bericht_code, header.identificatie
            )
            return {
                "accepted": answer.accepted,
                "retour": retour,
                "retourcodes": {} if kept is None else _lists(kept.retourcodes),
                "errors": [] if kept is None else [f.as_dict() for f in kept.findings],
            }
        dead_lettered: list[dict[str, str | None]] = []
        if answer.accepted:
            dead_lettered = self._publish(message, answer.events, sender, received_at)
        self.iwmo.keep_answer(answer)
        result: dict[str, Any] = {
            "accepted": answer.accepted,
            "events": [dict(event) for event in answer.events],
            "retour": retour,
            "retourcodes": _lists(answer.retourcodes),
            "errors": [f.as_dict() for f in answer.findings],
        }
        if dead_lettered:
            # Approved by the iWmo tables (spec section 5), refused by the hub's own rules
            # afterwards: as in the live hub, the approval and the published events stand,
            # and the router dead-letters what its rules refuse (operators are alerted).
            result["dead_lettered"] = dead_lettered
        return result

    def _publish(
        self,
        message: CareMessage,
        events: tuple[dict[str, Any], ...],
        sender: Partner,
        received_at: datetime,
    ) -> list[dict[str, str | None]]:
        """Publish the approved events: each through the pipeline as the router would take it.

        All of them are published (the gateway writes them in one transaction); the router
        then decides each on its own, so one its rules refuse is dead-lettered and the
        others are routed. Returns the dead-lettered ones' codes at their item's path.
        """
        from hub.pipeline import process_in_memory
        from hub.routing import OutcomeKind

        dead: list[dict[str, str | None]] = []
        for item, event in zip(message.items, events, strict=True):
            outcome = process_in_memory(
                event, sender, self.ctx, self.state, self.held, received_at=received_at
            )
            if outcome.kind is OutcomeKind.DEAD_LETTERED:
                dead += [_error(e.code.value, item.path) for e in outcome.errors]
        return dead


def _lists(codes: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {name: list(values) for name, values in codes.items()}
