"""`hub replay PARTNER`: send a webhook partner's parked deliveries again, in order."""

from __future__ import annotations

import argparse
import asyncio

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `hub replay`."""
    parser.add_argument("partner", help="partner id of a webhook recipient, e.g. swt-zwolle")


def run(args: argparse.Namespace) -> int:
    """Replay and print what happened; 0 when all were delivered, 1 when some parked again, 2 on bad input."""
    from hub.app import configure_process
    from hub.connectors.registry import WebhookDelivery, load_registry
    from hub.delivery.parking import replay
    from hub.errors import ConfigurationError
    from hub.settings import read_settings
    from hub.topics import TopicLayout

    try:
        settings = read_settings()
        configure_process(settings)
        registry = load_registry(settings.partners_file)
    except ConfigurationError as exc:
        print(f"hub replay: {exc}")
        return 2
    partner = registry.get(args.partner)
    if partner is None or not isinstance(partner.delivery, WebhookDelivery):
        print(f"hub replay: {args.partner} is not a registered webhook recipient")
        return 2
    try:
        report = asyncio.run(
            replay(
                partner,
                kafka=settings.kafka,
                webhooks=settings.webhooks,
                layout=TopicLayout(settings.kafka.topic_prefix),
            )
        )
    except ConfigurationError as exc:  # the partner's signing secret unset, say: bad input
        print(f"hub replay: {exc}")
        return 2
    print(f"{report.partner}: {report.delivered} delivered, {report.parked_again} parked again")
    return 0 if report.parked_again == 0 else 1
