"""Composition root: settings -> logging -> registries -> pipeline -> router (and the edges).

Only this module knows every concrete class; everything below it receives values.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from hub.asyncapi import asyncapi_document, render_document
from hub.audit.chain import Signer
from hub.audit.feed import AuditFeed, AuditFeedProcess
from hub.connectors.discovery import catalogue
from hub.connectors.protocol import HttpEndpoint
from hub.connectors.registry import Partner, PartnerRegistry, WebhookDelivery, load_registry
from hub.delivery.webhook import WebhookDeliverer
from hub.errors import ConfigurationError
from hub.inbound import HttpAdapter, KafkaAdapter
from hub.kpi.aggregator import KpiAggregator, KpiAggregatorProcess, KpiReport
from hub.monitor import LagMonitor
from hub.observability import metrics
from hub.observability.logging import configure_logging, get_logger
from hub.observability.loop import LoopWatch
from hub.observability.ops import OpsServer
from hub.observability.page import PartnerCard, page_routes
from hub.operations.board import DeadLetterBoard
from hub.pipeline import Pipeline
from hub.router import KafkaRouter
from hub.routing import build_context
from hub.settings import HubSettings, demo_defaults_in_use
from hub.topics import TopicLayout

__all__ = [
    "Hub",
    "after",
    "build_hub",
    "build_kpi_aggregator",
    "build_pipeline",
    "configure_process",
    "http_adapters",
    "http_endpoints",
    "kafka_adapters",
    "refuse_demo_defaults",
    "run_until_signalled",
]


def http_adapters() -> dict[str, tuple[HttpAdapter, ...]]:
    """Each role's own HTTP wire formats (its connector's), read for that role's partners only.

    The gateway tries them before the CloudEvents modes; another role's partners never
    meet them, so one connector's format cannot take over another partner's requests.
    """
    return {c.role.name: c.http_adapters for c in catalogue().connectors if c.http_adapters}


def http_endpoints() -> dict[str, tuple[HttpEndpoint, ...]]:
    """Each role's connector endpoints (``Connector.http_endpoints``), for the gateway to mount."""
    return {c.role.name: c.http_endpoints for c in catalogue().connectors if c.http_endpoints}


def kafka_adapters() -> dict[str, tuple[KafkaAdapter, ...]]:
    """Each role's own Kafka wire formats (its connector's), read for that role's records only."""
    return {c.role.name: c.kafka_adapters for c in catalogue().connectors if c.kafka_adapters}


def build_pipeline(
    settings: HubSettings, registry: PartnerRegistry, layout: TopicLayout
) -> Pipeline:
    """The per-record step (decode -> validate -> dedupe -> rules -> release -> records) of this deployment."""
    audit = settings.audit
    return Pipeline(
        layout,
        registry,
        build_context(settings, registry),
        role_adapters=kafka_adapters(),
        signer=Signer.from_setting(audit.signing_key_id, audit.signing_key.get_secret_value()),
        checkpoint_every=audit.checkpoint_every,
    )


Service = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
# Longest the readers of the hub's topics wait for the router to have created them.
_TOPICS_WAIT_SECONDS = 60.0


@dataclass
class Hub:
    """A configured hub: what `hub run` and the tests start."""

    settings: HubSettings
    registry: PartnerRegistry
    layout: TopicLayout
    pipeline: Pipeline
    router: KafkaRouter
    audit_feed: AuditFeed
    webhooks: WebhookDeliverer | None

    def services(self) -> list[Service]:
        """Everything `hub run` runs: the router, the audit-store feed, webhook delivery, the ops port.

        The feed runs in a process of its own, so that it does not take the router's GIL.
        The ops server (``HUB_OPS__PORT``) serves /metrics, /healthz and /readyz; /readyz
        names the checks that fail: ``kafka`` (the broker answers the router's producer),
        ``state`` (the routing state is rebuilt), ``router`` (it holds its partitions).
        It also serves the operations page (/, /api/overview, its dead letters read by a
        board in the background) and the AsyncAPI document (/asyncapi.json).
        """
        feed = AuditFeedProcess(
            kafka=self.settings.kafka,
            audit=self.settings.audit,
            layout=self.layout,
            logging=self.settings.logging,
            nice=self.settings.ops.child_nice,
        )
        board = DeadLetterBoard(
            kafka=self.settings.kafka,
            layout=self.layout,
            interval_seconds=self.settings.ops.deadletters_interval_seconds,
        )
        kpis = (
            KpiAggregatorProcess(
                build_kpi_aggregator,
                # The parent's partners, not the file read again: the child starts once
                # the topics exist, maybe hours later, and must follow the topics the
                # router made for the registry it routes by, whatever the file says now.
                (self.settings, self.layout, tuple(self.registry)),
                logging=self.settings.logging,
                nice=self.settings.ops.child_nice,
            )
            if self.settings.ops.kpi
            else None
        )
        cards = [PartnerCard(p.id, p.name, p.role, p.delivery.kind) for p in self.registry]
        ops = OpsServer(
            self.settings.ops,
            {
                "kafka": self.router.broker_answers,
                "state": self.router.state_rebuilt,
                "router": self.router.consuming,
            },
            routes=page_routes(
                cards,
                board.snapshot,
                kpis=kpis.snapshot if kpis is not None else None,
                asyncapi=render_document(asyncapi_document(self.settings, self.registry)),
            ),
        )
        monitor = LagMonitor(
            kafka=self.settings.kafka,
            layout=self.layout,
            registry=self.registry,
            interval_seconds=self.settings.ops.lag_interval_seconds,
            partner_groups=self.settings.ops.partner_groups,
        )

        # The readers of the hub's own topics start once the router created them: on a
        # first start (a new prefix, the demo) they would each log a failed reading first.
        # Not later than a minute, though: a router that cannot create them (a new
        # partner's topics refused) must not hold up delivering what it routed before,
        # nor the lag monitor that the safety-report alert reads.
        def on_topics(service: Service) -> Service:
            return after(self.router.topics_exist, service, at_most=_TOPICS_WAIT_SECONDS)

        services: list[Service] = [
            self.router.run,
            feed.run,
            ops.run,
            on_topics(monitor.run),
            on_topics(board.run),
            LoopWatch().run,
        ]
        if kpis is not None:
            services.append(on_topics(kpis.run))
        if self.webhooks is not None:
            services.append(on_topics(self.webhooks.run))
        return services


def build_kpi_aggregator(
    settings: HubSettings,
    layout: TopicLayout,
    partners: Sequence[Partner],
    *,
    on_report: Callable[[KpiReport], None],
) -> KpiAggregator:
    """The KPI aggregator of `hub run`'s child process, over the parent's ``partners`` (connectors its own)."""
    return KpiAggregator(
        kafka=settings.kafka,
        layout=layout,
        registry=PartnerRegistry(partners),
        retention_days=settings.privacy.state_retention_days,
        interval_seconds=settings.ops.kpi_interval_seconds,
        adapters=kafka_adapters(),
        state_directory=settings.state.directory,
        on_report=on_report,
        snapshots=True,
    )


def after(ready: asyncio.Event, service: Service, *, at_most: float | None = None) -> Service:
    """The service, started once ``ready`` is set or ``at_most`` seconds have passed (not when stopped before)."""

    async def run(stop: asyncio.Event) -> None:
        waiting = asyncio.create_task(ready.wait())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait(
                {waiting, stopping}, timeout=at_most, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiting.cancel()
            stopping.cancel()
        if not stop.is_set():
            await service(stop)

    return run


def build_hub(settings: HubSettings) -> Hub:
    """Validate configuration and wire the hub; raises ConfigurationError before anything runs."""
    if not settings.kafka.bootstrap_servers:
        raise ConfigurationError(
            "settings", "kafka.bootstrap_servers", "not set (HUB_KAFKA__BOOTSTRAP_SERVERS)"
        )
    registry = load_registry(settings.partners_file)
    layout = TopicLayout(settings.kafka.topic_prefix)
    layout.check_delivery_topics(registry)
    pipeline = build_pipeline(settings, registry, layout)
    router = KafkaRouter(
        kafka=settings.kafka,
        retry=settings.retry,
        layout=layout,
        registry=registry,
        pipeline=pipeline,
        privacy=settings.privacy,
        state=settings.state,
    )
    audit_feed = AuditFeed(kafka=settings.kafka, audit=settings.audit, layout=layout)
    webhook_partners = [p for p in registry if isinstance(p.delivery, WebhookDelivery)]
    webhooks = (
        WebhookDeliverer(
            webhook_partners,
            kafka=settings.kafka,
            webhooks=settings.webhooks,
            layout=layout,
            retry=settings.retry,
        )
        if webhook_partners
        else None
    )
    metrics.start_series(p.id for p in registry)
    metrics.SAFETY_REPORT_DEADLINE.set(settings.ops.safety_report_deadline_seconds)
    return Hub(settings, registry, layout, pipeline, router, audit_feed, webhooks)


def freeze_start_up() -> None:
    """Take everything built so far (modules, schemas, the compiled table) out of the collector's walks.

    It lives as long as the process, and every full collection walked it again: about
    40 ms each, every few seconds at full load, with the router (or the gateway) waiting
    (docs/benchmarks.md, "Seventh pass"). ``gc.freeze`` is the standard library's way;
    call it once the process is built, before it serves.
    """
    gc.collect()
    gc.freeze()


async def run_until_signalled(services: list[Service]) -> None:
    """Run services until SIGINT/SIGTERM, then ask each to stop and wait for them."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(service(stop)) for service in services]
    await asyncio.wait(
        [*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    stop.set()
    get_logger().info("stopping", count=len(tasks))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            get_logger().error("service_failed", exc_info=result)
            raise result
    get_logger().info("stopped", count=len(tasks))


def refuse_demo_defaults(settings: HubSettings) -> None:
    """Raise ConfigurationError when a production process would run on public demo values."""
    names = demo_defaults_in_use(settings)
    if names:
        raise ConfigurationError(
            "settings",
            ", ".join(names),
            "still the demo value, which is public; set your own, or HUB_ENVIRONMENT=development "
            "for local use",
        )


def configure_process(settings: HubSettings) -> None:
    """Process-wide set-up that must happen once, before anything logs."""
    configure_logging(
        format=settings.logging.format,
        level=settings.logging.level,
        library_repeat_seconds=settings.logging.library_repeat_seconds,
    )
