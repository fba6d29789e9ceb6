"""``hub dlq list | show | replay``: the dead letters, one of them, and replaying them.

A dead letter's id is its place on the dead-letter topic (``dl-<partition>-<offset>``).
`list` and `show` print codes, paths, ids and the origin, never event data; `show
--with-personal-data` prints the original record too, after writing a disclosure record
naming the operator to the disclosure log. `replay` puts dead letters back through the
router's pipeline under its current configuration (docs/operations.md, "Dead letters").
"""

from __future__ import annotations

import argparse
import base64
import sys
from typing import TYPE_CHECKING, Any

from hub.cli._operator import Progress, add_json, parse_since, print_json, run_kafka

if TYPE_CHECKING:
    from hub.operations import ListedDeadLetter, OperationRecord, ReplayItem
    from hub.records import RecordCopy
    from hub.settings import HubSettings

__all__ = ["configure", "run"]

_EPILOG = """\
exit codes: 0 done; 1 some dead letters were not replayed (or the id is not held);
2 unusable input; 69 Kafka did not answer.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `hub dlq`."""
    commands = parser.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = commands.add_parser(
        "list",
        help="list the dead letters (codes and ids, no event data)",
        description="List the dead letters the dead-letter topic holds, oldest first: id, "
        "when, partner, codes and paths, event id, origin, replays. No event data.",
        epilog=_EPILOG,
    )
    _filters(listing)
    add_json(listing)

    show = commands.add_parser(
        "show",
        help="show one dead letter: reason, origin, metadata",
        description="Show one dead letter: its reason (codes, paths, sentences), origin, "
        "digest, replays and the operators' acts on it. The original record (personal "
        "data) only with --with-personal-data, which first writes a disclosure record "
        "naming the operator to the disclosure log.",
        epilog=_EPILOG,
    )
    show.add_argument("id", help="the dead letter's id, e.g. dl-0-42 (from `hub dlq list`)")
    show.add_argument(
        "--with-personal-data",
        action="store_true",
        help="also print the original record's key, headers and value; logged as a disclosure "
        "to the operator",
    )
    _operator(show)
    add_json(show)

    replay = commands.add_parser(
        "replay",
        help="send dead letters through the pipeline again (current configuration)",
        description="Replay dead letters: each is validated and routed again under the "
        "configuration the router runs with now (after a configuration fix, or once the "
        "event it referred to has arrived). An event already delivered is a duplicate and "
        "is never delivered twice. Each replay is logged naming the operator. Give ids, or "
        "--partner and --code (which skips dead letters replayed before).",
        epilog=_EPILOG,
    )
    replay.add_argument("ids", nargs="*", metavar="ID", help="dead-letter ids, e.g. dl-0-42")
    _filters(replay)
    replay.add_argument(
        "--dry-run", action="store_true", help="say what would be replayed; write nothing"
    )
    replay.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="then wait up to this long for what the router made of each: routed, "
        "dead-lettered again, or nothing (a duplicate of an event already routed)",
    )
    _operator(replay)
    add_json(replay)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partner", help="only the dead letters of this sending partner (id)")
    parser.add_argument("--code", help="only those with this error code, e.g. UNKNOWN_REFERENCE")
    parser.add_argument(
        "--since", help="only those written since: a duration back (2h, 3d) or an ISO date-time"
    )


def _operator(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--operator",
        help="who is acting, for the log (default: HUB_OPERATOR, else the login name)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the action; see the exit codes in --help."""
    from hub.errors import ConfigurationError
    from hub.settings import read_settings

    try:
        settings = read_settings()
        since = None if getattr(args, "since", None) is None else parse_since(args.since)
    except (ConfigurationError, ValueError) as exc:
        print(f"hub dlq: {exc}", file=sys.stderr)
        return 2
    if args.dlq_command == "list":
        return _list(settings, args, since)
    if args.dlq_command == "show":
        return _show(settings, args)
    return _replay(settings, args, since)


# ------------------------------------------------------------------ list


def _list(settings: HubSettings, args: argparse.Namespace, since: Any) -> int:
    from hub.operations import read_dead_letters, read_operations, replayed, select
    from hub.topics import TopicLayout

    layout = TopicLayout(settings.kafka.topic_prefix)
    progress = Progress("reading dead letters", enabled=not args.json)

    async def work() -> tuple[list[ListedDeadLetter], dict[str, OperationRecord]]:
        letters = await read_dead_letters(settings.kafka, layout, progress=progress)
        return letters, replayed(await read_operations(settings.kafka, layout))

    letters, done = run_kafka("hub dlq", work)
    progress.done()
    chosen = select(letters, partner=args.partner, code=args.code, since=since)
    rows = [{**d.summary(), "replayed_by": _replayed_by(done.get(d.id))} for d in chosen]
    if args.json:
        print_json(rows)
        return 0
    print(f"{len(rows)} dead letter(s)")
    for row in rows:
        origin = row["origin"]
        place = f"{origin['topic']}:{origin['partition']}:{origin['offset']}"
        replays = f" replays={row['replays']}" if row["replays"] else ""
        taken = " (replayed)" if row["replayed_by"] else ""
        print(
            f"{row['id']:<14} {row['written_at'][:19]}  {row['partner']:<24} "
            f"{','.join(row['codes']) or row['code']:<28} event={row['event_id'] or '-'} "
            f"from={place}{replays}{taken}"
        )
    return 0


def _replayed_by(record: OperationRecord | None) -> dict[str, str] | None:
    return None if record is None else {"by": record.operator, "at": record.at.isoformat()}


# ------------------------------------------------------------------ show


def _show(settings: HubSettings, args: argparse.Namespace) -> int:
    from hub.errors import ErrorCode
    from hub.operations import find_dead_letter, operator_name, parse_deadletter_id
    from hub.operations.log import read_operations
    from hub.topics import TopicLayout

    if parse_deadletter_id(args.id) is None:
        print("hub dlq: not a dead-letter id (dl-<partition>-<offset>)", file=sys.stderr)
        return 2
    operator = operator_name(args.operator)
    if args.with_personal_data and operator is None:
        print(
            "hub dlq: name the operator with --operator or HUB_OPERATOR "
            "(letters, digits, . _ @ + -)",
            file=sys.stderr,
        )
        return 2
    if args.with_personal_data and _demo_secret_outside_development(settings):
        print(
            "hub dlq: set HUB_PRIVACY__PSEUDONYM_SECRET to the hub's secret: the disclosure "
            "record of this viewing names the residents by their pseudonyms",
            file=sys.stderr,
        )
        return 2
    layout = TopicLayout(settings.kafka.topic_prefix)

    async def find() -> tuple[ListedDeadLetter | None, list[OperationRecord]]:
        found = await find_dead_letter(settings.kafka, layout, args.id)
        acts = [] if found is None else await read_operations(settings.kafka, layout)
        return found, [a for a in acts if a.deadletter_id == args.id]

    found, acts = run_kafka("hub dlq", find)
    if found is None:
        print(f"hub dlq: the dead-letter topic holds no {args.id}", file=sys.stderr)
        return 1
    shown: dict[str, Any] = {
        **found.summary(),
        "errors": ([] if found.letter is None else [e.as_dict() for e in found.letter.errors]),
        "digest": (
            None
            if found.letter is None
            else {"sha256": found.letter.sha256, "bytes": found.letter.size}
        ),
        "operations": [
            {"action": a.action.value, "operator": a.operator, "at": a.at.isoformat()} for a in acts
        ],
    }
    if args.with_personal_data and found.code == ErrorCode.RECORD_UNREADABLE.value:
        # Its origin cannot be unpacked by the client either: nothing to show, nothing viewed.
        print(
            "hub dlq: the record could not be unpacked by the Kafka client (RECORD_UNREADABLE); "
            "there is nothing to show: the partner must send it again",
            file=sys.stderr,
        )
        return 1
    if args.with_personal_data:
        assert operator is not None
        copy = run_kafka("hub dlq", lambda: _disclose(settings, layout, found, operator))
        if copy is None:
            print(
                "hub dlq: no copy of the record was kept and the inbound topic no longer "
                "holds its origin",
                file=sys.stderr,
            )
            return 1
        shown["record"] = _record(copy)
    if args.json:
        print_json(shown)
        return 0
    _print_show(shown)
    return 0


def _demo_secret_outside_development(settings: HubSettings) -> bool:
    from hub.privacy import Pseudonymiser

    return (
        settings.environment != "development"
        and Pseudonymiser.from_settings(settings.privacy).is_demo
    )


async def _disclose(
    settings: HubSettings, layout: Any, found: ListedDeadLetter, operator: str
) -> RecordCopy | None:
    """The record's copy, once the disclosure record of this viewing has been written (acks=all)."""
    from hub.kafka.inspection import Outgoing, read_one, send_all
    from hub.operations.log import Action, OperationRecord
    from hub.operations.viewing import viewing_record
    from hub.privacy import Pseudonymiser
    from hub.records import RecordCopy

    letter = found.letter
    if letter is None:
        return None
    copy = letter.record
    if copy is None:
        origin = await read_one(settings.kafka, letter.topic, letter.partition, letter.offset)
        if origin is None:
            return None
        copy = RecordCopy(origin.key, tuple(origin.headers), origin.value)
    pseudonymise = Pseudonymiser.from_settings(settings.privacy)
    disclosure = viewing_record(
        found,
        copy,
        operator=operator,
        pseudonymise=pseudonymise,
        settings=settings.deadletters,
    )
    log = OperationRecord(
        action=Action.VIEWED,
        operator=operator,
        at=disclosure.decided_at,
        deadletter_id=found.id,
        partner=found.partner,
        code=found.code,
        event_id=found.event_id,
        disclosure_id=disclosure.disclosure_id,
    )
    await send_all(
        settings.kafka,
        [
            Outgoing(layout.disclosures, disclosure.disclosure_id.encode(), disclosure.to_json()),
            log.record(layout),
        ],
    )
    return copy


def _record(copy: RecordCopy) -> dict[str, Any]:
    def text(value: bytes | None) -> str | None:
        if value is None:
            return None
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value).decode()

    return {
        "key": text(copy.key),
        "headers": [[name, text(value)] for name, value in copy.headers],
        "value": text(copy.value),
    }


def _print_show(shown: dict[str, Any]) -> None:
    origin = shown["origin"]
    print(f"dead letter {shown['id']}, written {shown['written_at']}")
    print(f"  partner:    {shown['partner']}")
    print(f"  event id:   {shown['event_id'] or '-'}")
    print(f"  unroutable: {shown['unroutable']}")
    print(
        f"  origin:     {origin['topic']} partition {origin['partition']} offset {origin['offset']}"
    )
    print(
        f"  replays:    {shown['replays']}"
        + (f" (of {shown['replay_of']})" if shown["replay_of"] else "")
    )
    print(f"  copy kept:  {'yes' if shown['copy'] else 'no (replay reads the origin)'}")
    if shown["digest"]:
        print(f"  digest:     sha256 {shown['digest']['sha256']}, {shown['digest']['bytes']} bytes")
    print("  reason:")
    for error in shown["errors"]:
        print(f"    {error['code']} at {error['path'] or '(event)'}: {error['message']}")
    for act in shown["operations"]:
        print(f"  {act['action']} by {act['operator']} at {act['at']}")
    record = shown.get("record")
    if record is not None:
        print("  record (personal data; this viewing is in the disclosure log):")
        print(f"    key:     {record['key']}")
        for name, value in record["headers"]:
            print(f"    header:  {name}: {value}")
        print(f"    value:   {record['value']}")


# ------------------------------------------------------------------ replay


def _result(result: dict[str, Any]) -> str:
    if result["outcome"] == "routed":
        return f"routed: delivered to {', '.join(result['recipients']) or 'nobody'}"
    if result["outcome"] == "dead-lettered":
        return f"dead-lettered again as {result['deadletter_id']} ({', '.join(result['codes'])})"
    return "no outcome yet: a duplicate of an event already routed writes nothing (or the router is not running)"


def _replay(settings: HubSettings, args: argparse.Namespace, since: Any) -> int:
    import time

    from hub.connectors.registry import load_registry
    from hub.errors import ConfigurationError
    from hub.operations import (
        find_dead_letter,
        operator_name,
        parse_deadletter_id,
        plan_replays,
        read_dead_letters,
        read_operations,
        replay,
        replayed,
        select,
    )
    from hub.operations.replay import follow
    from hub.topics import TopicLayout

    by_id = bool(args.ids)
    if by_id == bool(args.partner or args.code):
        print("hub dlq: give dead-letter ids, or --partner and --code (not both)", file=sys.stderr)
        return 2
    if not by_id and not (args.partner and args.code):
        print("hub dlq: a replay by filter needs both --partner and --code", file=sys.stderr)
        return 2
    bad = [i for i in args.ids if parse_deadletter_id(i) is None]
    if bad:
        print(f"hub dlq: not dead-letter ids: {' '.join(bad)}", file=sys.stderr)
        return 2
    operator = operator_name(args.operator)
    if operator is None:
        print(
            "hub dlq: name the operator with --operator or HUB_OPERATOR "
            "(letters, digits, . _ @ + -)",
            file=sys.stderr,
        )
        return 2
    layout = TopicLayout(settings.kafka.topic_prefix)
    reading = Progress("reading dead letters", enabled=not args.json)
    sending = Progress("replaying", enabled=not args.json)

    async def work() -> tuple[list[ReplayItem], list[str], dict[str, dict[str, Any]]]:
        missing: list[str] = []
        started_ms = int(time.time() * 1000)
        if by_id:
            letters = []
            for ident in dict.fromkeys(args.ids):
                found = await find_dead_letter(settings.kafka, layout, ident)
                if found is None:
                    missing.append(ident)
                else:
                    letters.append(found)
        else:
            every = await read_dead_letters(settings.kafka, layout, progress=reading)
            letters = select(every, partner=args.partner, code=args.code, since=since)
        reading.done()
        items = plan_replays(
            letters,
            max_replays=settings.deadletters.max_replays,
            replayed=replayed(await read_operations(settings.kafka, layout)),
            skip_replayed=not by_id,
        )
        done = await replay(
            settings.kafka,
            layout,
            items,
            operator=operator,
            dry_run=args.dry_run,
            progress=sending,
        )
        sending.done()
        outcomes: dict[str, dict[str, Any]] = {}
        if args.wait > 0 and not args.dry_run:
            outcomes = await follow(
                settings.kafka,
                layout,
                done,
                sources,
                since_ms=started_ms,
                wait_seconds=args.wait,
            )
        return done, missing, outcomes

    try:
        sources = {p.id: p.source for p in load_registry(settings.partners_file)}
    except ConfigurationError as exc:
        print(f"hub dlq: {exc}", file=sys.stderr)
        return 2
    done, missing, outcomes = run_kafka(
        "hub dlq", work, timeout_seconds=300.0 + max(args.wait, 0.0)
    )
    rows = [
        {
            **item.summary(),
            **({"result": outcomes[item.letter.id]} if item.letter.id in outcomes else {}),
        }
        for item in done
    ]
    refused = [row for row in rows if not row["replayed"]]
    if args.json:
        print_json(
            {"dry_run": args.dry_run, "operator": operator, "replays": rows, "missing": missing}
        )
    else:
        verb = "would replay" if args.dry_run else "replayed"
        for row in rows:
            if row["replayed"]:
                before = row["replayed_before"]
                note = f" (replayed before by {before['by']} at {before['at']})" if before else ""
                print(f"{verb} {row['id']} as replay {row['replay_count']}{note}")
                if "result" in row:
                    print(f"  {_result(row['result'])}")
            else:
                print(f"not replayed {row['id']}: {row['refused']}")
        for ident in missing:
            print(f"not replayed {ident}: the dead-letter topic does not hold it")
        taken = len(rows) - len(refused)
        print(f"{taken} {verb}, {len(refused) + len(missing)} not")
        if taken and not args.dry_run and args.wait <= 0:
            print(
                "the router routes them as it reads them: see `hub dlq list` and the "
                "senders' GET /events/{id}"
            )
    return 1 if refused or missing else 0
