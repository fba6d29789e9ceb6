"""`hub gateway`: serve the inbound HTTP API (docs/http-api.md) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.settings import HubSettings

__all__ = ["configure", "run"]

_EX_CONFIG = 78  # a bad setting or file stops the gateway before it listens


def configure(parser: argparse.ArgumentParser) -> None:
    """Options override the HUB_GATEWAY__* settings; everything else comes from HUB_* settings."""
    parser.add_argument("--host", help="address to bind (default from settings: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default from settings: 8080)")
    parser.add_argument("--tls-cert", type=Path, help="server certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="private key of the server certificate")
    parser.add_argument("--tls-client-ca", type=Path, help="CA bundle for client certificates")


def run(args: argparse.Namespace) -> int:
    """Start the gateway; 0 after a clean stop, 78 on a configuration error."""
    from pydantic import ValidationError

    from hub.app import (
        configure_process,
        freeze_start_up,
        http_adapters,
        http_endpoints,
        refuse_demo_defaults,
        run_until_signalled,
    )
    from hub.cli.run import kafka_start_checks, load_settings
    from hub.connectors.registry import load_registry
    from hub.errors import ConfigurationError
    from hub.gateway import GatewayServer, GatewaySettings, build_gateway_app
    from hub.gateway.server import check_transport
    from hub.observability.logging import get_logger
    from hub.privacy.policy import DEFAULT_POLICY_PATH, load_policy
    from hub.settings import setting_names, setting_reasons

    settings = load_settings()
    if settings is None:
        return _EX_CONFIG
    configure_process(settings)
    log = get_logger(command="gateway")
    base = settings.gateway
    overrides = {
        "host": args.host,
        "port": args.port,
        "tls_certfile": args.tls_cert,
        "tls_keyfile": args.tls_key,
        "tls_client_ca": args.tls_client_ca,
    }
    try:
        gateway = GatewaySettings.model_validate(
            {**base.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        )
        if not settings.kafka.bootstrap_servers:
            raise ConfigurationError(
                "settings", "kafka.bootstrap_servers", "not set (HUB_KAFKA__BOOTSTRAP_SERVERS)"
            )
        refuse_demo_defaults(settings)
        registry = load_registry(settings.partners_file)
        # The table and every connector's rows: the gateway refuses to start on what
        # `hub run` refuses (docs/connectors.md), though it routes nothing itself.
        load_policy(settings.privacy.policy_file or DEFAULT_POLICY_PATH, registry=registry)
    except ValidationError as exc:
        # The variables, cut where the settings' fields end, and what is wrong with each:
        # never a value or a map's key.
        names = ", ".join(setting_names(exc, GatewaySettings, "HUB_GATEWAY__"))
        reasons = setting_reasons(exc, GatewaySettings, "HUB_GATEWAY__")
        # A value given as an option is named as the option, not as its variable.
        for field, option in _OPTIONS.items():
            if overrides.get(field) is not None:
                variable = f"HUB_GATEWAY__{field.upper()}"
                names, reasons = names.replace(variable, option), reasons.replace(variable, option)
        invalid = ConfigurationError(
            "settings", names, f"not a valid value (the value is not shown): {reasons}"
        )
        log.error("configuration_invalid", paths=invalid.paths, exc_info=invalid)
        return _EX_CONFIG
    except ConfigurationError as exc:
        log.error("configuration_invalid", paths=exc.paths, exc_info=exc)
        return _EX_CONFIG
    try:
        check_transport(gateway)  # plain HTTP on a non-loopback host only when allowed
    except ConfigurationError as exc:
        log.error("configuration_invalid", paths=exc.paths, exc_info=exc)
        return _EX_CONFIG
    refused = kafka_start_checks(settings)
    if refused is not None:
        return refused
    areas = settings.privacy.result_areas
    app = build_gateway_app(
        gateway,
        settings.kafka,
        registry,
        result_areas=frozenset(areas) if areas is not None else None,
        role_adapters=http_adapters(),
        endpoints=http_endpoints(),
        deployment=settings,
    )
    log.info("gateway_starting", port=gateway.port)
    try:
        services = [GatewayServer(app, gateway).run, _stop_on_refusal(app), _ops(settings, app)]
        freeze_start_up()
        asyncio.run(run_until_signalled(services))
    except ConfigurationError as exc:
        # Kafka refused the gateway's credentials or ACLs once running: retrying cannot help.
        log.error("configuration_invalid", paths=exc.paths, exc_info=exc)
        return _EX_CONFIG
    return 0


_OPTIONS = {
    "host": "--host",
    "port": "--port",
    "tls_certfile": "--tls-cert",
    "tls_keyfile": "--tls-key",
    "tls_client_ca": "--tls-client-ca",
}
"""The command's options, by the setting each one overrides."""


def _ops(settings: HubSettings, app: Any) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """The gateway's ops server: its metrics (hub_gateway_*) on HUB_GATEWAY__OPS_PORT."""
    from hub.observability.ops import OpsServer

    ops = settings.ops.model_copy(update={"port": settings.gateway.ops_port})
    return OpsServer(ops, {"kafka": app.state.gateway.sink.probe}).run


def _stop_on_refusal(app: Any) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A service that raises the sink's refusal (exit 78) when Kafka refuses the gateway."""
    sink = app.state.gateway.sink

    async def watch(stop: asyncio.Event) -> None:
        refused: asyncio.Event | None = getattr(sink, "refused", None)
        waits = [asyncio.create_task(stop.wait())]
        if refused is not None:
            waits.append(asyncio.create_task(refused.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        if refused is not None and refused.is_set() and sink.refusal is not None:
            raise sink.refusal

    return watch
