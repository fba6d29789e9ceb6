"""``hub policy test CASES.yaml``: a privacy officer's cases for the routing/privacy table.

Each case names events and what must come of the last one: which partners receive it,
which fields each recipient gets and must not get, which recipients are withheld and
why, or that it is rejected. The events run through the live pipeline's per-event step
(``hub.pipeline.process``, as ``hub preview`` does) with a fresh in-memory state per case,
under the table of ``--privacy`` (default: the configured one) and the registry of
``--partners``. Exit 0 when every case holds, 1 when one does not, 2 when the file or the
configuration cannot be used. The output names cases, partner ids, paths and codes: never
a value of an event.

The file (docs/privacy.md, "Testing a change to the table")::

    cases:
      - name: the GP hears the status, not the note, with status consent only
        given: [../examples/referrals.submitted/valid/poh-ggz-referral.json]
        event: ../examples/referrals.status-changed/valid/intake-scheduled.json
        expect:
          recipients: [gp-de-linde]            # exactly these receive a delivery
          fields:
            gp-de-linde:
              present: [status, status_on]     # a path or an ancestor of one in the delivery
              absent: [note]
          withheld: {}                          # exactly these are withheld, with the reason
      - name: ...
        event: {...}                            # an event may be written inline
        expect:
          rejected: [UNKNOWN_REFERENCE]          # the event is dead-lettered with these codes

Paths are the disclosure log's generic paths (``goals[].description``). Files named in a
case are relative to the cases file. Where a row delivers per assignment (a plan to each
provider with a live assignment), a case may name ``provider-id@assignment-number``
instead of the partner; once one name in a case does, every per-assignment outcome of
that case is named so.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from hub.routing import Decision, RoutingContext

__all__ = ["configure", "run"]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    present: list[str] = Field(default_factory=list)
    absent: list[str] = Field(default_factory=list)


class _Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[str] | None = None
    fields: dict[str, _Fields] = Field(default_factory=dict)
    withheld: dict[str, str] | None = None
    rejected: list[str] | None = None


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    given: list[str | dict[str, Any]] = Field(default_factory=list)
    event: str | dict[str, Any]
    expect: _Expect


_CLASS_NAMED = re.compile(r" or instance of _?[A-Za-z]+")


class _CasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: list[_Case] = Field(min_length=1)


@dataclass
class _Result:
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    from hub.cli.preview import add_deployment_options

    commands = parser.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    test = commands.add_parser(
        "test",
        help="run a privacy officer's cases against the routing/privacy table",
        description="Run the cases of CASES.yaml through the live pipeline under the "
        "routing/privacy table (--privacy, else the configured one): events in; expected "
        "recipients, fields present and absent, withholdings and rejections out. Exit 0 "
        "when all hold, 1 on a mismatch, 2 when the file or configuration is unusable. "
        "See docs/privacy.md, 'Testing a change to the table'.",
    )
    test.add_argument("cases", type=Path, metavar="CASES.yaml", help="the cases file")
    test.add_argument("--json", action="store_true", help="one JSON object per case")
    add_deployment_options(test)


def run(args: argparse.Namespace) -> int:
    """Run every case; 0 all hold, 1 a mismatch, 2 unusable input or configuration."""
    import yaml

    from hub.cli.preview import load_deployment
    from hub.errors import ConfigurationError

    try:
        document = yaml.safe_load(args.cases.read_text(encoding="utf-8"))
        cases = _CasesFile.model_validate(document).cases
        _, ctx = load_deployment(args)
        base = args.cases.resolve().parent
        results = [_run_case(case, base, ctx) for case in cases]
    except OSError as exc:
        print(
            f"hub policy: cannot read {exc.filename or args.cases} ({exc.strerror})",
            file=sys.stderr,
        )
        return 2
    except yaml.YAMLError:
        print(f"hub policy: {args.cases} is not YAML", file=sys.stderr)
        return 2
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(the file)"
            # Pydantic names the model's class ("or instance of _Case"): not the reader's word.
            message = _CLASS_NAMED.sub("", error["msg"])
            print(f"hub policy: {args.cases}: {where}: {message}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"hub policy: {exc}", file=sys.stderr)
        return 2
    for result in results:
        if args.json:
            line = {"case": result.name, "ok": result.ok, "problems": result.problems}
            print(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        else:
            print(f"{'ok  ' if result.ok else 'FAIL'} {result.name}")
            for problem in result.problems:
                print(f"     {problem}")
    failed = sum(not r.ok for r in results)
    print(f"hub policy: {len(results) - failed} of {len(results)} case(s) hold", file=sys.stderr)
    return 1 if failed else 0


def _event(item: str | dict[str, Any], base: Path) -> bytes:
    if isinstance(item, str):
        return (base / item).read_bytes()
    return json.dumps(item).encode("utf-8")


def _run_case(case: _Case, base: Path, ctx: RoutingContext) -> _Result:
    """The case's events through the live per-event step; what of the last one differs."""
    from hub.envelope import parse_structured
    from hub.errors import InvalidEvent
    from hub.pipeline import process_in_memory
    from hub.routing import OutcomeKind
    from hub.state import StateStore

    result = _Result(case.name)
    state, held = StateStore(), StateStore()
    bodies = [_event(item, base) for item in (*case.given, case.event)]
    for index, body in enumerate(bodies):
        last = index == len(bodies) - 1
        where = "event" if last else f"given[{index}]"
        try:
            raw = parse_structured(body)
        except InvalidEvent as exc:
            codes = [e.code.value for e in exc.errors]
            if last:
                _check_rejected(result, case.expect, codes)
            else:
                result.problems.append(f"{where} is not a CloudEvent ({', '.join(codes)})")
            return result
        source = raw.get("source")
        sender = ctx.registry.by_source(source) if isinstance(source, str) else None
        outcome = process_in_memory(raw, sender, ctx, state, held)
        if not last:
            if outcome.kind is OutcomeKind.DEAD_LETTERED:
                codes = [e.code.value for e in outcome.errors]
                result.problems.append(f"{where} was rejected ({', '.join(codes)})")
                return result
            continue
        if outcome.kind is OutcomeKind.DEAD_LETTERED:
            _check_rejected(result, case.expect, [e.code.value for e in outcome.errors])
        elif outcome.kind is OutcomeKind.DUPLICATE:
            result.problems.append("event is a duplicate of a given event (same source and id)")
        elif outcome.decision is not None:
            _check_decision(result, case.expect, outcome.decision)
    return result


def _check_rejected(result: _Result, expect: _Expect, codes: list[str]) -> None:
    if expect.rejected is None:
        result.problems.append(f"event was rejected ({', '.join(codes)}), not released")
    elif sorted(set(expect.rejected)) != sorted(set(codes)):
        result.problems.append(
            f"rejected with {', '.join(sorted(set(codes)))}, expected "
            f"{', '.join(sorted(set(expect.rejected))) or 'none'}"
        )


def _check_decision(result: _Result, expect: _Expect, decision: Decision) -> None:
    problems = result.problems
    if expect.rejected is not None:
        problems.append(f"event was released, expected rejected ({', '.join(expect.rejected)})")
        return
    # Per recipient, and per recipient@assignment for per-assignment rows (a provider may
    # get a plan for one of its assignments and have it withheld for another).
    per_assignment = any("@" in name for name in _named(expect))
    received: dict[str, set[str]] = {}
    deliveries = {d.disclosure_id: d for d in decision.deliveries}
    withheld: dict[str, str] = {}
    for record in decision.disclosures:
        name = record.recipient
        if per_assignment and record.assignment_number is not None:
            name = f"{record.recipient}@{record.assignment_number}"
        delivery = deliveries.get(record.disclosure_id)
        if delivery is None:
            withheld[name] = record.reason or ""
            continue
        data = delivery.event.data
        # A delivery rendered in a partner format (text) is checked by its record's paths.
        paths = set(_paths(data)) if isinstance(data, Mapping) else set(record.fields_disclosed)
        received.setdefault(name, set()).update(paths)
    if expect.recipients is not None and set(expect.recipients) != set(received):
        problems.append(f"recipients {sorted(received)}, expected {sorted(set(expect.recipients))}")
    if expect.withheld is not None and expect.withheld != withheld:
        problems.append(
            f"withheld {dict(sorted(withheld.items()))}, expected {dict(sorted(expect.withheld.items()))}"
        )
    for partner, fields in expect.fields.items():
        got = received.get(partner)
        if got is None:
            problems.append(f"{partner} received nothing; its fields cannot be checked")
            continue
        for path in fields.present:
            if not any(_within(have, path) for have in got):
                problems.append(f"{partner} did not receive {path}")
        for path in fields.absent:
            if any(_within(have, path) for have in got):
                problems.append(f"{partner} received {path}")


def _named(expect: _Expect) -> set[str]:
    """Every recipient name the expectations use."""
    return {*(expect.recipients or ()), *expect.fields, *(expect.withheld or {})}


def _within(have: str, path: str) -> bool:
    """True when ``path`` is ``have`` or one of its ancestors (``client`` of ``client.bsn``)."""
    return have == path or have.startswith(path + ".") or have.startswith(path + "[]")


def _paths(value: Any, prefix: str = "") -> Iterator[str]:
    """The generic leaf paths of a delivery's data (``goals[].goal_id``)."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _paths(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            yield prefix
        for item in value:
            yield from _paths(item, prefix + "[]")
    else:
        yield prefix
