"""``hub flows --window 1h``: events in per partner and type, deliveries out per recipient and type."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hub.cli._operator import (
    EXIT_CONFIG,
    Progress,
    add_json,
    load_deployment,
    parse_duration,
    print_json,
    run_kafka,
)

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `hub flows`."""
    parser.description = (
        "Rates over a recent window, from what Kafka holds: events in per sending partner, "
        "type and outcome (routed or dead-lettered; duplicates are not counted), and "
        "deliveries out per recipient and type. Exit 0; 2 on a bad window; 69 when Kafka "
        "does not answer."
    )
    parser.add_argument("--window", default="1h", help="how far back: 15m, 1h (default), 1d, ...")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Count and print the flows."""
    try:
        window = parse_duration(args.window)
    except ValueError as exc:
        print(f"hub flows: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    deployment = load_deployment("hub flows")
    if deployment is None:
        return EXIT_CONFIG
    settings, registry, layout = deployment.settings, deployment.registry, deployment.layout
    progress = Progress("reading the window's records", enabled=not args.json)

    async def gather() -> dict[str, Any]:
        from hub.kafka.inspection import describe_cluster
        from hub.operations.health import flows

        existing = set((await describe_cluster(settings.kafka)).topics)
        return await flows(settings.kafka, layout, registry, window, existing, progress=progress)

    counted = run_kafka("hub flows", gather)
    progress.done()
    if args.json:
        print_json(counted)
        return 0
    print(f"since {counted['since']} ({args.window})")
    print("in (sender, type, outcome):")
    for row in counted["in"]:
        print(
            f"  {row['partner']:<26} {row['type']:<34} {row['status']:<14} "
            f"{row['count']:>7}  {row['per_minute']}/min"
        )
    print("out (recipient, type):")
    for row in counted["out"]:
        print(
            f"  {row['recipient']:<26} {row['type']:<34} {row['count']:>7}  {row['per_minute']}/min"
        )
    return 0
