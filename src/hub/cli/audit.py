"""``hub audit subject --bsn BSN``: every disclosure about one resident (AVG art. 15).

The BSN is turned into its keyed pseudonym with the configured secret
(``HUB_PRIVACY__PSEUDONYM_SECRET``) and only the pseudonym is looked up; the BSN itself
is never printed, logged or put in an error. Lists when, to whom, which fields, on what
legal basis and with what outcome, oldest first.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.audit import DisclosureRecord

__all__ = ["configure", "run"]


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
    subject.add_argument(
        "--store", default=None, help="store URL (default: HUB_AUDIT__STORE_URL, else sqlite)"
    )
    subject.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace) -> int:
    """Run the query; 0 on success (also when nothing is found), 2 on unusable input or store."""
    from hub.audit import AuditStoreError, open_store
    from hub.envelope import is_bsn
    from hub.errors import ConfigurationError
    from hub.privacy import Pseudonymiser
    from hub.settings import HubSettings

    bsn = str(args.bsn).strip()
    if not is_bsn(bsn):
        print("hub audit: --bsn is not a valid BSN (9 digits, 11-proof)", file=sys.stderr)
        return 2
    try:
        settings = HubSettings()
        pseudonymise = Pseudonymiser(settings.privacy.pseudonym_secret.get_secret_value().encode())
        if pseudonymise.is_demo:
            print(
                "hub audit: warning: using the DEMO-ONLY pseudonym secret; "
                "set HUB_PRIVACY__PSEUDONYM_SECRET to the hub's secret",
                file=sys.stderr,
            )
        url = args.store or settings.audit.store_url
        with open_store(url, read_only=True) as store:
            records = store.concerning(pseudonymise(bsn))
    except (ConfigurationError, AuditStoreError) as exc:
        print(f"hub audit: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for record in records:
            print(json.dumps(_summary(record), ensure_ascii=False, separators=(",", ":")))
        return 0
    print(f"{len(records)} disclosure(s) concerning this resident")
    for record in records:
        _print_human(record)
    return 0


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


def _print_human(record: DisclosureRecord) -> None:
    outcome = record.outcome.value + (f" ({record.reason})" if record.reason else "")
    print()
    print(f"{record.decided_at.isoformat()}  {outcome}  to {record.recipient}")
    print(f"  event:      {record.event_type} {record.event_id} from {record.source}")
    print(f"  disclosed:  {', '.join(record.fields_disclosed) or '(nothing)'}")
    print(f"  withheld:   {', '.join(record.fields_withheld) or '(nothing)'}")
    print(f"  basis:      {record.legal_basis}")
    print(f"  activity:   {record.processing_activity}")
