"""``hub status``: the broker, the hub's topics, lag, dead letters, parked deliveries, breakers, oldest undelivered."""

from __future__ import annotations

import argparse
from typing import Any

from hub.cli._operator import (
    EXIT_CONFIG,
    Progress,
    add_json,
    load_deployment,
    print_json,
    run_kafka,
)

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `hub status`."""
    parser.description = (
        "One look at a running hub, from what Kafka holds: the brokers and any missing "
        "topic; the router's and the audit feed's lag; dead letters (all, not replayed, per "
        "partner and code); per webhook partner the deliveries not yet sent, the oldest of "
        "them and the parked ones. Circuit breakers live in `hub run`'s memory: its metrics "
        "show them. Exit 0; 69 when Kafka does not answer."
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Gather and print the status."""
    deployment = load_deployment("hub status")
    if deployment is None:
        return EXIT_CONFIG
    settings, registry, layout = deployment.settings, deployment.registry, deployment.layout
    progress = Progress("reading dead letters", enabled=not args.json)

    async def gather() -> dict[str, Any]:
        from hub.operations import read_dead_letters, read_operations, replayed
        from hub.operations.health import (
            BREAKERS_NOTE,
            audit_feed_group,
            cluster_summary,
            dead_letter_counts,
            delivery_health,
            group_lag,
            inbound_lag_by_partner,
            router_topics,
        )

        cluster = await cluster_summary(settings.kafka, layout, registry)
        missing = set(cluster["missing_topics"])
        existing = {s.name for s in layout.all_topics(registry, settings.kafka)} - missing
        routed = [t for t in router_topics(layout, registry) if t in existing]
        lag = await group_lag(settings.kafka, settings.kafka.group_id, routed)
        audit = await group_lag(
            settings.kafka,
            audit_feed_group(settings.kafka),
            [layout.disclosures] if layout.disclosures in existing else [],
        )
        letters = (
            await read_dead_letters(settings.kafka, layout, progress=progress)
            if layout.deadletter in existing
            else []
        )
        operations = (
            await read_operations(settings.kafka, layout) if layout.operations in existing else []
        )
        deliveries = [
            (await delivery_health(settings.kafka, layout, p, existing)).summary() for p in registry
        ]
        return {
            "broker": cluster,
            "router": {
                "group": settings.kafka.group_id,
                "lag": sum(lag.values()),
                "lag_by_partner": inbound_lag_by_partner(layout, registry, lag),
            },
            "audit_feed": {"group": audit_feed_group(settings.kafka), "lag": sum(audit.values())},
            "dead_letters": dead_letter_counts(letters, replayed(operations)),
            "parked": {d["partner"]: d["parked"] for d in deliveries if d["parked"] is not None},
            "breakers": BREAKERS_NOTE,
            "deliveries": deliveries,
        }

    status = run_kafka("hub status", gather)
    progress.done()
    if args.json:
        print_json(status)
        return 0
    _print(status)
    return 0


def _print(status: dict[str, Any]) -> None:
    broker, router, dead = status["broker"], status["router"], status["dead_letters"]
    print(f"broker:       {broker['bootstrap_servers']} ({len(broker['brokers'])} broker(s))")
    missing = broker["missing_topics"]
    print(
        f"topics:       {broker['topics'] - len(missing)} of {broker['topics']}"
        + (f"; missing: {', '.join(missing)}" if missing else "")
    )
    print(f"router lag:   {router['lag']} offsets (group {router['group']})")
    for partner, lag in sorted(router["lag_by_partner"].items()):
        if lag:
            print(f"  {partner}: {lag}")
    print(f"audit feed:   lag {status['audit_feed']['lag']} offsets")
    print(f"dead letters: {dead['total']} ({dead['not_replayed']} not replayed)")
    for row in dead["by_partner_and_code"]:
        print(f"  {row['partner']} {row['code']}: {row['count']}")
    print(f"breakers:     {status['breakers']}")
    webhooks = [row for row in status["deliveries"] if row["pending"] is not None]
    print("undelivered:  " + ("(webhook partners)" if webhooks else "no webhook partners"))
    for row in webhooks:
        oldest = row["oldest_pending_at"] or "-"
        print(
            f"  {row['partner']}: {row['pending']} pending (oldest {oldest}), "
            f"{row['parked'] or 0} parked (oldest {row['oldest_parked_at'] or '-'})"
        )
