"""``hub audit``: query the disclosure log, export it, and serve it to privacy officers.

- ``hub audit subject --bsn BSN``: every disclosure about one resident (AVG art. 15). The
  BSN is turned into its keyed pseudonyms under every configured key (the current
  ``HUB_PRIVACY__PSEUDONYM_SECRET`` and ``HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS``) and only
  those pseudonyms are looked up; the BSN itself
  is never printed, logged or put in an error. Lists when, to whom, which fields, on what
  legal basis and with what outcome, oldest first.
- ``hub audit report --bsn BSN --format html|pdf``: the same in words a resident reads
  (Dutch): who received which kinds of data, when, why and on what basis, and what was
  withheld and why (``hub.audit.report``).
- ``hub audit keys``: the stored records per pseudonym key id (for a key rotation: which
  earlier key is still named by retained records; never a secret).
- ``hub audit export``: the log as Logboek Dataverwerkingen records in OTLP JSON lines.
- ``hub audit serve``: the Logboek read extension (POST /processing-activities) for the
  configured privacy officers (``hub.audit.api``).
- ``hub audit verify``: check the log's hash chains and signed checkpoints, in the store
  and on the topic (``hub.audit.chain``); ``hub audit purge --before DATE``: delete what
  is past retention, leaving a signed purge record, so ``verify`` still passes.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from hub.audit import DisclosureRecord
    from hub.privacy import Pseudonymiser
    from hub.settings import HubSettings

__all__ = ["configure", "run"]

_EX_CONFIG: Final = 78


def _add_store(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--store", default=None, help="store URL (default: HUB_AUDIT__STORE_URL, else sqlite)"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    commands = parser.add_subparsers(dest="audit_command", required=True, metavar="QUERY")
    subject = commands.add_parser(
        "subject",
        help="list every disclosure concerning one resident",
        description="List every disclosure concerning one resident, oldest first.",
    )
    # No type= here: argparse would echo a rejected BSN in its error message.
    subject.add_argument("--bsn", required=True, help="the resident's BSN (never printed)")
    _add_store(subject)
    subject.add_argument("--json", action="store_true", help="one JSON object per line")
    report = commands.add_parser(
        "report",
        help="write a resident's report (Dutch, HTML or PDF)",
        description="Write, in Dutch and in words a resident understands, which organisations "
        "received which kinds of data about one resident, when, for which purpose and on "
        "which legal basis, and what was withheld and why (AVG art. 15). Organisation names "
        "come from the partner registry's `name`. The BSN is never printed.",
    )
    # No type= here: argparse would echo a rejected BSN in its error message.
    report.add_argument("--bsn", required=True, help="the resident's BSN (never printed)")
    report.add_argument("--format", choices=("html", "pdf"), default="pdf", help="default: pdf")
    report.add_argument("--output", type=Path, help="file to write (default: standard output)")
    _add_store(report)
    report.add_argument(
        "--partners", type=Path, help="partner registry (default: HUB_PARTNERS_FILE)"
    )
    report.add_argument(
        "--leave-out-protected",
        action="store_true",
        help="the officer's decision to leave a Veilig Thuis matter out (AVG art. 23); "
        "without it, a resident with such records gets no report",
    )
    export = commands.add_parser(
        "export",
        help="write the log as Logboek Dataverwerkingen records (OTLP JSON lines)",
        description="Write every disclosure and withholding in a window as Logboek "
        "Dataverwerkingen records, one per data subject, in OTLP JSON lines (one "
        "ExportTraceServiceRequest per line, as OpenTelemetry's file exporter writes). "
        "Dates are in UTC; --until is exclusive.",
    )
    export.add_argument("--since", type=_moment, help="from (YYYY-MM-DD or RFC 3339)")
    export.add_argument("--until", type=_moment, help="until, exclusive (YYYY-MM-DD or RFC 3339)")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    _add_store(export)
    verify = commands.add_parser(
        "verify",
        help="check the disclosure log's hash chains and signed checkpoints",
        description="Check every chain of the disclosure log, in the audit store and (with "
        "--topic) on the disclosure topic: a changed, removed, inserted or reordered record "
        "and a checkpoint or purge record with a bad signature are named with the chain and "
        "the seq where it breaks; stored columns that differ from their record too. With "
        "--topic the store is also held to the topic: a record the audit feed stored and the "
        "store no longer holds, one stored otherwise, or one never logged is named. Exit 0 "
        "intact, 1 broken, 2 unusable store or broker.",
    )
    _add_store(verify)
    verify.add_argument("--no-store", action="store_true", help="do not check the store")
    verify.add_argument(
        "--topic", action="store_true", help="check the disclosure topic, and the store against it"
    )
    verify.add_argument("--json", action="store_true", help="one JSON object per break")
    purge = commands.add_parser(
        "purge",
        help="delete audit records past retention, leaving a signed purge record",
        description="Delete from the audit store every record decided before DATE (per chain "
        "its unbroken beginning; records with no chain when older), their subjects and "
        "delivery attempts, and store one purge record per chain, signed with "
        "HUB_AUDIT__SIGNING_KEY and naming the operator. `hub audit verify` then starts each "
        "chain after its purge. Privileged and explicit: it needs --yes; the topic's records "
        "go by its own retention.",
    )
    purge.add_argument("--before", required=True, type=_moment, help="YYYY-MM-DD or RFC 3339")
    purge.add_argument("--operator", required=True, help="who runs the purge (an id)")
    purge.add_argument("--yes", action="store_true", help="really delete (else: what would go)")
    _add_store(purge)
    keys = commands.add_parser(
        "keys",
        help="count the stored records per pseudonym key",
        description="Per pseudonym key id, how many records in the audit store were written "
        "with it and when the first and last were decided (records written before records "
        "named their key show as the first key). The configured keys are named too. For a "
        "key rotation: see docs/privacy.md, 'Rotating the pseudonym key'. No secret is shown.",
    )
    _add_store(keys)
    keys.add_argument("--json", action="store_true", help="one JSON object per key")
    serve = commands.add_parser(
        "serve",
        help="serve POST /processing-activities to privacy officers",
        description="Serve the Logboek read extension (POST /processing-activities) over the "
        "audit store, to the privacy officers in HUB_AUDIT__OFFICERS only. Listens on "
        "HUB_AUDIT__API_HOST:HUB_AUDIT__API_PORT (loopback:8083); a host other than "
        "loopback needs --tls-cert and --tls-key. See docs/privacy.md.",
    )
    serve.add_argument("--host", help="address to listen on (default: HUB_AUDIT__API_HOST)")
    serve.add_argument("--port", type=int, help="port (default: HUB_AUDIT__API_PORT)")
    serve.add_argument("--tls-cert", type=Path, help="server certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="private key of the certificate (PEM)")
    _add_store(serve)


def _moment(text: str) -> datetime:
    """A date (midnight UTC) or an RFC 3339 date-time with offset."""
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use YYYY-MM-DD or an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("a date-time needs an offset (Z or +01:00)")
    return moment


def run(args: argparse.Namespace) -> int:
    """Run the sub-command: 0 on success, 2 on unusable input or store, 78 on configuration."""
    if args.audit_command == "export":
        return _export(args)
    if args.audit_command == "serve":
        return _serve(args)
    if args.audit_command == "report":
        return _report(args)
    if args.audit_command == "verify":
        return _verify(args)
    if args.audit_command == "purge":
        return _purge(args)
    if args.audit_command == "keys":
        return _keys(args)
    return _subject(args)


def _keys(args: argparse.Namespace) -> int:
    """Print the stored records per pseudonym key; 0, or 2 for an unusable store."""
    from hub.audit import AuditStoreError, open_store
    from hub.errors import ConfigurationError
    from hub.privacy.pseudonym import DEFAULT_KEY_ID
    from hub.settings import read_settings

    try:
        settings = read_settings()
        with open_store(args.store or settings.audit.store_url, read_only=True) as store:
            uses = store.pseudonym_keys()
    except (ConfigurationError, AuditStoreError) as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return 2
    privacy = settings.privacy
    configured = {privacy.pseudonym_key_id: "current"} | dict.fromkeys(
        privacy.previous_pseudonym_secrets, "earlier"
    )
    for use in uses:
        line = {
            "key": use.key,
            "configured": configured.get(use.key or DEFAULT_KEY_ID, "no"),
            "records": use.records,
            "first": use.first.isoformat(),
            "last": use.last.isoformat(),
        }
        if args.json:
            print(json.dumps(line, separators=(",", ":")))
        else:
            name = use.key or f"(none: the first key, {DEFAULT_KEY_ID})"
            print(
                f"{name}: {use.records} record(s), {line['first']} .. {line['last']}, "
                f"configured: {line['configured']}"
            )
    unused = [key for key in configured if key not in {u.key or DEFAULT_KEY_ID for u in uses}]
    if unused and not args.json:
        print(f"configured, no stored record names it: {', '.join(unused)}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    import asyncio

    from hub.audit import AuditStoreError, open_store
    from hub.audit.verify import (
        compare_store,
        feed_positions,
        public_keys,
        verify_store,
        verify_topic,
    )
    from hub.errors import ConfigurationError, HubError
    from hub.kafka import is_kafka_failure
    from hub.settings import read_settings

    try:
        settings = read_settings()
        keys = public_keys(settings.audit, development=settings.environment == "development")
    except (ConfigurationError, ValueError) as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return 2
    reports = []
    try:
        # Where the audit feed has stored to, read before the store: the store then holds
        # at least every record below it (compare_store).
        copy = asyncio.run(feed_positions(settings.kafka)) if args.topic else None
        if not args.no_store:
            with open_store(args.store or settings.audit.store_url, read_only=True) as store:
                # The store as it is now, read once, before the topic: compare_store's order.
                stored, purges = store.stored_rows(), store.purges()
                reports.append(verify_store(store, keys, stored))
            if copy is not None:
                reports.append(asyncio.run(verify_topic(settings.kafka, keys, copy=copy)))
                reports.append(compare_store(stored, purges, copy))
        elif args.topic:
            reports.append(asyncio.run(verify_topic(settings.kafka, keys)))
    except (AuditStoreError, HubError, TimeoutError) as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not is_kafka_failure(exc):
            raise
        print(f"hub audit: Kafka did not answer ({type(exc).__name__})", file=sys.stderr)
        return 2
    broken = False
    for report in reports:
        broken |= bool(report.breaks)
        if args.json:
            for each in report.breaks:
                print(json.dumps({"where": report.where, **each.as_dict()}, separators=(",", ":")))
            continue
        verdict = "BROKEN" if report.breaks else "intact"
        line = report.line or (
            f"{report.where}: {report.records} record(s) in {report.chains} chain(s), "
            f"{report.checkpoints} checkpoint(s), {report.purges} purge(s)"
        )
        print(f"{line}: {verdict}")
        for each in report.breaks:
            where = f" ({each.disclosure_id})" if each.disclosure_id else ""
            print(f"  {each.kind}: chain {each.chain} at seq {each.seq}{where}: {each.detail}")
    return 1 if broken else 0


def _purge(args: argparse.Namespace) -> int:
    from hub.audit import AuditStoreError, open_store
    from hub.audit.chain import Signer
    from hub.audit.verify import public_keys, verify_store
    from hub.errors import ConfigurationError
    from hub.observability.logging import get_logger
    from hub.settings import DEMO_SIGNING_KEY, read_settings

    try:
        settings = read_settings()
    except ConfigurationError as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return 2
    audit = settings.audit
    development = settings.environment == "development"
    secret = audit.signing_key.get_secret_value()
    if secret == DEMO_SIGNING_KEY and not development:
        print("hub audit: purge signs with HUB_AUDIT__SIGNING_KEY; the demo key is refused",
              file=sys.stderr)  # fmt: skip
        return _EX_CONFIG
    now = datetime.now(UTC)
    kept_for = timedelta(milliseconds=settings.kafka.disclosure_retention_ms)
    if args.before > now - kept_for:
        print(
            f"hub audit: --before is within the log's retention ({kept_for.days} days, "
            "HUB_KAFKA__DISCLOSURE_RETENTION_MS): nothing may be purged that recent",
            file=sys.stderr,
        )
        return 2
    signer = Signer.from_setting(audit.signing_key_id, secret)
    try:
        with open_store(args.store or audit.store_url, read_only=not args.yes) as store:
            # A purge signs through what it deletes: never over a chain that is broken already.
            report = verify_store(store, public_keys(audit, development=development))
            if report.breaks:
                first = report.breaks[0]
                print(
                    f"hub audit: the log is broken ({first.kind}: chain {first.chain} at seq "
                    f"{first.seq}); run hub audit verify. Nothing was purged.",
                    file=sys.stderr,
                )
                return 1
            purges = store.purge(
                args.before, signer, operator=args.operator, at=now, dry_run=not args.yes
            )
    except (ConfigurationError, AuditStoreError, ValueError) as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return 2
    count = sum(p.count for p in purges)
    if not args.yes:
        print(
            f"hub audit: {count} chained record(s) of {len(purges)} chain(s) decided before "
            f"{args.before.isoformat()} would be deleted; run again with --yes"
        )
        return 0
    get_logger().warning("audit_purged", operator=args.operator, chains=len(purges), count=count)
    print(f"hub audit: purged {count} chained record(s) from {len(purges)} chain(s)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from hub.audit.report import build_report, render_html, render_pdf
    from hub.connectors.discovery import catalogue
    from hub.connectors.registry import load_registry
    from hub.errors import ConfigurationError

    found = _residents_records(args)
    if found is None:
        return 2
    settings, records, not_arrived = found
    try:
        registry = load_registry(args.partners or settings.partners_file)
    except ConfigurationError as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return 2
    names = {p.id: p.name for p in registry if p.name is not None}
    types = catalogue().types
    report = build_report(
        records,
        names,
        made_at=datetime.now(UTC),
        protected=lambda t: t in types and types[t].protection is not None,
        not_arrived=not_arrived,
    )
    if report.for_review and not args.leave_out_protected:
        # For the privacy officer, not the resident: counted, never described. A report
        # without them would tell the resident nothing was shared where something was.
        print(
            f"hub audit: {report.for_review} disclosure(s) of a Veilig Thuis matter concern "
            "this resident; decide on them first (docs/privacy.md), and run again with "
            "--leave-out-protected to write the report without them",
            file=sys.stderr,
        )
        return 3
    body = render_pdf(report) if args.format == "pdf" else render_html(report).encode("utf-8")
    if args.output:
        try:
            args.output.write_bytes(body)
        except OSError as exc:
            return _unwritable(exc)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    print(f"hub audit: a report of {len(report.entries)} disclosure(s)", file=sys.stderr)
    if report.for_review:
        print(
            f"hub audit: {report.for_review} disclosure(s) of a Veilig Thuis matter are not in "
            "the report, as decided (--leave-out-protected)",
            file=sys.stderr,
        )
    return 0


def _unwritable(exc: OSError) -> int:
    """The one line for an --output that cannot be written (the path is the caller's own)."""
    print(f"hub audit: cannot write the --output file ({exc.strerror or exc})", file=sys.stderr)
    return 2


def _export(args: argparse.Namespace) -> int:
    from hub import __version__
    from hub.audit import AuditStoreError, open_store
    from hub.audit.logboek import logboek_records, otlp_lines
    from hub.errors import ConfigurationError
    from hub.settings import read_settings

    try:
        settings = read_settings()
        url = args.store or settings.audit.store_url
        with open_store(url, read_only=True) as store:
            records = store.search(since=args.since, until=args.until)
    except (ConfigurationError, AuditStoreError) as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return 2
    base = settings.audit.register_base_uri
    logboek = [each for record in records for each in logboek_records(record, base)]
    resource = {"service.name": "sociaal-domein-hub", "service.version": __version__}
    try:
        output = args.output.open("wb") if args.output else sys.stdout.buffer
    except OSError as exc:
        return _unwritable(exc)
    try:
        for line in otlp_lines(logboek, resource):
            output.write(line)
    except OSError as exc:
        return _unwritable(exc)
    finally:
        if args.output:
            output.close()
        else:
            output.flush()
    print(
        f"hub audit: {len(logboek)} Logboek record(s) of {len(records)} disclosure(s)",
        file=sys.stderr,
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import configure_process
    from hub.audit import open_store
    from hub.audit.api import create_audit_app
    from hub.envelope import is_bsn
    from hub.errors import ConfigurationError
    from hub.observability.logging import get_logger
    from hub.settings import read_settings

    try:
        settings = read_settings()
    except ConfigurationError as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return _EX_CONFIG
    configure_process(settings)
    audit = settings.audit
    host = args.host or audit.api_host
    port = args.port or audit.api_port
    if not audit.officers:
        print("hub audit: no privacy officer is configured (HUB_AUDIT__OFFICERS)", file=sys.stderr)
        return _EX_CONFIG
    tls = args.tls_cert is not None and args.tls_key is not None
    if not tls and not _is_loopback(host):
        print(f"hub audit: {host} is not loopback: give --tls-cert and --tls-key", file=sys.stderr)
        return _EX_CONFIG
    url = args.store or audit.store_url
    pseudonymise = _pseudonymiser(settings)
    if pseudonymise is None:
        return _EX_CONFIG
    app = create_audit_app(
        audit,
        open_store=lambda: open_store(url, read_only=True),
        pseudonyms_of=pseudonymise.every,
        is_bsn=is_bsn,
    )
    get_logger().info("audit_api_starting", port=port, officers=len(audit.officers))
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(args.tls_cert) if tls else None,
        ssl_keyfile=str(args.tls_key) if tls else None,
        log_config=None,
        access_log=False,
    )
    return 0


def _pseudonymiser(settings: HubSettings) -> Pseudonymiser | None:
    """The hub's pseudonymiser; None (said on stderr) for a demo secret outside development.

    Lookups use every configured key (``every``): a resident's records from before a key
    rotation hold the pseudonyms of an earlier key.

    With the demo secret a lookup finds nothing the hub wrote with its own: a resident
    would be told that nothing was disclosed about them.
    """
    from hub.privacy import Pseudonymiser

    pseudonymise = Pseudonymiser.from_settings(settings.privacy)
    if pseudonymise.is_demo and settings.environment != "development":
        print(
            "hub audit: a pseudonym key (HUB_PRIVACY__PSEUDONYM_SECRET or "
            "HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS) is the demo secret; set the hub's own "
            "(a lookup with the demo secret finds nothing the hub wrote)",
            file=sys.stderr,
        )
        return None
    if pseudonymise.is_demo:
        print("hub audit: warning: using the DEMO-ONLY pseudonym secret", file=sys.stderr)
    return pseudonymise


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return bool(ipaddress.ip_address(host).is_loopback)
    except ValueError:
        return False


def _subject(args: argparse.Namespace) -> int:
    """Run the query; 0 on success (also when nothing is found), 2 on unusable input or store."""
    found = _residents_records(args)
    if found is None:
        return 2
    _, records, not_arrived = found
    if args.json:
        for record in records:
            summary = _summary(record) | {"arrived": not_arrived.get(record.disclosure_id)}
            print(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
        return 0
    print(f"{len(records)} disclosure(s) concerning this resident")
    for record in records:
        _print_human(record, not_arrived.get(record.disclosure_id))
    return 0


def _residents_records(
    args: argparse.Namespace,
) -> tuple[HubSettings, list[DisclosureRecord], dict[str, str]] | None:
    """The settings, every record about ``--bsn``, and those of them that did not arrive.

    The third part maps disclosure ids of webhook deliveries no attempt delivered to
    ``parked`` or ``retrying`` (``hub.audit.report.transmission``). None (said on stderr)
    when unusable. The BSN is checked and pseudonymised; it is never printed, logged or
    put in an error.
    """
    from hub.audit import AuditStoreError, open_store
    from hub.audit.record import DisclosureOutcome
    from hub.audit.report import transmission
    from hub.connectors.registry import load_registry
    from hub.envelope import is_bsn
    from hub.errors import ConfigurationError
    from hub.settings import read_settings

    bsn = str(args.bsn).strip()
    if not is_bsn(bsn):
        print("hub audit: --bsn is not a valid BSN (9 digits, 11-proof)", file=sys.stderr)
        return None
    try:
        settings = read_settings()
        pseudonymise = _pseudonymiser(settings)
        if pseudonymise is None:
            return None
        registry = load_registry(getattr(args, "partners", None) or settings.partners_file)
        webhooks = {p.id for p in registry if p.delivery.kind == "webhook"}
        with open_store(args.store or settings.audit.store_url, read_only=True) as store:
            records = store.concerning(*pseudonymise.every(bsn))
            not_arrived = {
                record.disclosure_id: word
                for record in records
                if record.outcome is DisclosureOutcome.DELIVERED
                and (
                    word := transmission(
                        store.attempts(record.disclosure_id),
                        webhook=record.recipient in webhooks,
                    )
                )
                is not None
            }
            return settings, records, not_arrived
    except (ConfigurationError, AuditStoreError) as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return None


def _summary(record: DisclosureRecord) -> dict[str, Any]:
    """What a resident is told about one disclosure (not the other subjects' pseudonyms)."""
    return {
        "decided_at": record.decided_at.isoformat(),
        "recipient": record.recipient,
        "outcome": record.outcome.value,
        "reason": record.reason,
        "event_type": record.event_type,
        "event_id": record.event_id,
        "source": record.source,
        "fields_disclosed": list(record.fields_disclosed),
        "fields_withheld": list(record.fields_withheld),
        "legal_basis": record.legal_basis,
        "processing_activity": record.processing_activity,
    }


def _print_human(record: DisclosureRecord, not_arrived: str | None) -> None:
    outcome = record.outcome.value + (f" ({record.reason})" if record.reason else "")
    if not_arrived is not None:  # a webhook delivery no attempt delivered
        outcome += f", not arrived ({not_arrived})"
    print()
    print(f"{record.decided_at.isoformat()}  {outcome}  to {record.recipient}")
    print(f"  event:      {record.event_type} {record.event_id} from {record.source}")
    print(f"  disclosed:  {', '.join(record.fields_disclosed) or '(nothing)'}")
    print(f"  withheld:   {', '.join(record.fields_withheld) or '(nothing)'}")
    print(f"  basis:      {record.legal_basis}")
    print(f"  activity:   {record.processing_activity}")
