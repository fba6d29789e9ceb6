"""``hub validate FILE...``: check CloudEvent files against the stateless v1 contract.

Each file holds one structured-mode CloudEvent. The sender is the registered partner
whose ``source`` the event carries (``--partners``, default the demo registry). Output,
one block per file::

    OK examples/referrals.submitted/valid/poh-ggz-referral.json
    INVALID bad.json
      data.client.bsn BSN_INVALID The BSN fails the 11-proof.

An event over 256 KiB (its compact JSON) is INVALID with EVENT_TOO_LARGE alone, as it is
over HTTP and Kafka.

Result areas are the municipality's (``HUB_PRIVACY__RESULT_AREAS``), as the gateway and
the router take them.

Exit status: 0 all valid, 1 any invalid, 2 unusable input (a file missing, not JSON, not
a JSON object; or, before any file, a bad registry or an invalid ``HUB_`` setting);
unusable files are named on stderr. Rules that need earlier events are not checked here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.connectors.registry import DEMO_REGISTRY_PATH

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_UNUSABLE", "configure", "run"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments: the files and ``--partners``."""
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="structured-mode CloudEvent JSON files"
    )
    parser.add_argument(
        "--partners",
        type=Path,
        default=DEMO_REGISTRY_PATH,
        metavar="PATH",
        help="partner registry YAML (default: the demo registry)",
    )


def run(args: argparse.Namespace) -> int:
    """Validate each file, print OK or INVALID with the reasons; return the exit status."""
    from hub.connectors.registry import load_registry
    from hub.envelope import parse_structured
    from hub.errors import ConfigurationError, InvalidEvent
    from hub.schemas import validate_with_registry
    from hub.settings import read_settings

    try:
        registry = load_registry(args.partners)
        # The municipality's result areas, as the gateway and the router take them.
        areas = read_settings().privacy.result_areas
    except ConfigurationError as exc:
        print(f"ERROR {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    result_areas = frozenset(areas) if areas is not None else None

    status = EXIT_OK
    for path in args.files:
        try:
            body = path.read_bytes()
        except OSError as exc:
            print(f"ERROR {path}: cannot read ({exc.strerror})", file=sys.stderr)
            status = EXIT_UNUSABLE
            continue
        try:
            raw = parse_structured(body)
        except InvalidEvent as exc:
            print(f"ERROR {path}: {exc.errors[0].message}", file=sys.stderr)
            status = EXIT_UNUSABLE
            continue
        try:
            validate_with_registry(raw, registry, result_areas=result_areas)
        except InvalidEvent as exc:
            print(f"INVALID {path}")
            for error in exc.errors:
                print(f"  {error.path or '-'} {error.code.value} {error.message}")
            status = max(status, EXIT_INVALID)
        else:
            print(f"OK {path}")
    return status
