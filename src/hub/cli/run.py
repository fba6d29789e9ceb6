"""`hub run`: run the hub (router, audit-store feed, webhook delivery) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.settings import HubSettings

__all__ = ["EX_CONFIG", "configure", "kafka_start_checks", "load_settings", "run"]

EX_CONFIG = 78  # a bad setting or file stops the process before it consumes anything


def configure(parser: argparse.ArgumentParser) -> None:
    """`hub run` takes its configuration from HUB_* settings only."""


def load_settings() -> HubSettings | None:
    """HubSettings from the environment; None (after logging which variables) when invalid."""
    from hub.errors import ConfigurationError
    from hub.observability.logging import configure_logging, get_logger
    from hub.settings import read_settings

    try:
        return read_settings()
    except ConfigurationError as exc:
        configure_logging()
        # The variables' names and what is wrong with each, never the value
        # (``read_settings``): a mistyped value may be a secret.
        get_logger().error("configuration_invalid", paths=exc.paths, exc_info=exc)
        return None


def kafka_start_checks(settings: HubSettings) -> int | None:
    """Check Kafka's TLS and SASL settings and the TLS handshake; EX_CONFIG (logged) when bad.

    A TLS failure (certificate, hostname, client certificate) is logged as
    ``kafka_tls_failed`` with the TLS exception's class, not left to look like a
    broker that is down; a broker that does not answer at all is not checked here.
    """
    from hub.errors import ConfigurationError
    from hub.kafka.clients import check_security, sasl_failure, tls_failure
    from hub.observability.logging import get_logger

    log = get_logger()
    try:
        check_security(settings.kafka)
    except ConfigurationError as exc:
        log.error("configuration_invalid", paths=exc.paths, exc_info=exc)
        return EX_CONFIG
    failure = asyncio.run(tls_failure(settings.kafka))
    if failure is not None:
        log.error(
            "kafka_tls_failed",
            code=failure.code,
            bootstrap_servers=failure.server,
            exc_info=failure,
        )
        return EX_CONFIG
    refused = asyncio.run(sasl_failure(settings.kafka))
    if refused is not None:
        log.error("kafka_login_refused", exc_type=type(refused).__name__, path="HUB_KAFKA__SASL_*")
        return EX_CONFIG
    return None


def run(args: argparse.Namespace) -> int:
    """Start the hub; returns 0 after a clean stop, 78 on a configuration error."""
    from hub.app import (
        build_hub,
        configure_process,
        freeze_start_up,
        refuse_demo_defaults,
        run_until_signalled,
    )
    from hub.errors import ConfigurationError
    from hub.observability.logging import get_logger

    settings = load_settings()
    if settings is None:
        return EX_CONFIG
    configure_process(settings)
    refused = kafka_start_checks(settings)
    if refused is not None:
        return refused
    try:
        refuse_demo_defaults(settings)
        hub = build_hub(settings)
    except ConfigurationError as exc:
        get_logger().error("configuration_invalid", paths=exc.paths, exc_info=exc)
        return EX_CONFIG  # a bad file stops the hub before it consumes anything
    services = hub.services()
    freeze_start_up()
    try:
        asyncio.run(run_until_signalled(services))
    except ConfigurationError as exc:
        # Found only once running, e.g. Kafka refuses the hub's credentials or ACLs.
        get_logger().error("configuration_invalid", paths=exc.paths, exc_info=exc)
        return EX_CONFIG
    return 0
