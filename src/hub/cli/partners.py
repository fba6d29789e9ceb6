"""``hub partners``: the partner registry, and how delivery to each partner stands."""

from __future__ import annotations

import argparse
from typing import Any

from hub.cli._operator import EXIT_CONFIG, add_json, load_deployment, print_json, run_kafka

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `hub partners`."""
    parser.description = (
        "The registered partners (id, role, source, AGB, delivery) with their health from "
        "Kafka: the router's lag on their inbound topic, their dead letters, and for "
        "webhook partners the deliveries not yet sent, the oldest of them, and the parked "
        "ones. Kafka-topic and pull partners read on their own: what they have not read "
        "yet is not the hub's to know. Exit 0; 2 on a bad registry; 69 when Kafka does "
        "not answer."
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Gather and print the partners."""
    deployment = load_deployment("hub partners")
    if deployment is None:
        return EXIT_CONFIG
    settings, registry, layout = deployment.settings, deployment.registry, deployment.layout

    async def gather() -> list[dict[str, Any]]:
        from hub.kafka.inspection import describe_cluster
        from hub.operations import read_dead_letters
        from hub.operations.health import delivery_health, group_lag

        existing = set((await describe_cluster(settings.kafka)).topics)
        inbound = [layout.inbound(p.id) for p in registry if layout.inbound(p.id) in existing]
        lag = await group_lag(settings.kafka, settings.kafka.group_id, inbound)
        letters = (
            await read_dead_letters(settings.kafka, layout) if layout.deadletter in existing else []
        )
        rows = []
        for partner in registry:
            health = (await delivery_health(settings.kafka, layout, partner, existing)).summary()
            rows.append(
                {
                    "id": partner.id,
                    "role": partner.role,
                    "source": partner.source,
                    "agb": partner.agb,
                    "iwmo": "iwmo" in partner.formats,
                    "formats": sorted(partner.formats),
                    **health,
                    "inbound_lag": lag.get(layout.inbound(partner.id)),
                    "dead_letters": sum(1 for d in letters if d.partner == partner.id),
                    "breaker": "see hub_webhook_breaker_open on hub run's metrics"
                    if health["delivery"] == "webhook"
                    else None,
                }
            )
        return rows

    rows = run_kafka("hub partners", gather)
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        print(
            f"{row['id']:<28} {row['role']:<13} {row['delivery']:<8} "
            f"agb={row['agb'] or '-':<9} lag={row['inbound_lag'] if row['inbound_lag'] is not None else '-'} "
            f"dead={row['dead_letters']}",
            end="",
        )
        if row["formats"]:
            print(f" formats={','.join(row['formats'])}", end="")
        if row["pending"] is not None:
            print(
                f" pending={row['pending']} (oldest {row['oldest_pending_at'] or '-'}) "
                f"parked={row['parked'] or 0}",
                end="",
            )
        print()
    return 0
