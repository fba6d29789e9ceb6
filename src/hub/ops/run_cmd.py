"""`hub run`: run the hub (router, audit-store feed, webhook delivery) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """`hub run` takes its configuration from HUB_* settings only."""


def run(args: argparse.Namespace) -> int:
    """Start the hub; returns 0 after a clean stop, 78 on a configuration error."""
    from hub.app import build_hub, configure_process, refuse_demo_defaults, run_until_signalled
    from hub.errors import ConfigurationError
    from hub.ops.logging import get_logger
    from hub.settings import HubSettings

    settings = HubSettings()
    configure_process(settings)
    try:
        refuse_demo_defaults(settings)
        hub = build_hub(settings)
    except ConfigurationError as exc:
        get_logger().error("configuration_invalid", error=str(exc))
        print(f"hub: configuration error: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG: a bad file stops the hub before it consumes anything
    try:
        asyncio.run(run_until_signalled(hub.services()))
    except ConfigurationError as exc:
        # Found only once running, e.g. Kafka refuses the hub's credentials or ACLs.
        get_logger().error("configuration_invalid", error=str(exc))
        print(f"hub: configuration error: {exc}", file=sys.stderr)
        return 78
    return 0
