"""Creating the hub's topics and waiting until every broker leads them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.protocol.metadata import MetadataRequest

from hub.kafka.clients import admin_client
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings
from hub.topics import TopicSpec

__all__ = ["create_topics"]

_log = get_logger()


async def create_topics(
    settings: KafkaSettings, specs: Sequence[TopicSpec], *, append_time: Sequence[str] = ()
) -> None:
    """Create every topic of ``specs`` that does not exist yet; existing ones are left alone.

    Topics named in ``append_time`` that exist with the sender's timestamps (not
    LogAppendTime) are named in a warning.
    """
    admin = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                spec.name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=spec.config,
            )
            for spec in specs
            if spec.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance won the race
                response = await admin.create_topics(missing)
                for _topic, code, *_ in response.topic_errors:
                    if code not in (0, TopicAlreadyExistsError.errno):
                        # e.g. TopicAuthorizationFailed: classified (and not retried) by callers.
                        raise for_code(code)()
            await _wait_for_leaders(admin, [t.name for t in missing])
            _log.info("topics_created", topics=[t.name for t in missing])
        if append_time:
            try:
                await _warn_of_create_time(admin, list(append_time))
            except Exception as exc:  # advisory only: never what stops the hub from starting
                _log.warning("inbound_topics_create_time_unknown", exc_type=type(exc).__name__)
    finally:
        await admin.close()


async def _warn_of_create_time(admin: AIOKafkaAdminClient, inbound: list[str]) -> None:
    """Name inbound topics whose records carry the sender's time, not the broker's.

    The hub creates them with LogAppendTime, but leaves existing topics alone (an
    operator's own settings; Kafka has no safe single-key change over this client). On
    those, receipt falls back to the hub's clock when the router handles a record.
    """
    described = await admin.describe_configs(
        [
            ConfigResource(ConfigResourceType.TOPIC, topic, {"message.timestamp.type": None})
            for topic in inbound
        ]
    )
    create_time = [
        name
        for response in described
        for _code, _message, _type, name, entries in response.resources
        for key, value, *_ in entries
        if key == "message.timestamp.type" and value != "LogAppendTime"
    ]
    if create_time:
        _log.warning("inbound_topics_create_time", topics=create_time, count=len(create_time))


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    """Wait until every broker lists new topics with a leader for each partition.

    A client that asks a broker which does not list a topic yet (right after it was
    created, metadata travels to each broker on its own) does not ask again for
    ``metadata.max.age.ms``, five minutes: a consumer group would leave that topic
    unread until then. So every broker is asked, not one. aiokafka 0.14 has no public
    per-node metadata call; the admin client's node request is used.
    """
    deadline = time.monotonic() + 30
    request = MetadataRequest(topics)
    while time.monotonic() < deadline:
        nodes = [broker.nodeId for broker in admin._client.cluster.brokers()]
        listed = [
            (await admin._send_request_to_node(node, request)).to_object()["topics"]
            for node in nodes
        ]
        if nodes and all(_led(described) for described in listed):
            return
        await asyncio.sleep(0.1)
    raise KafkaError("new topics have no partition leaders yet")


def _led(described: list[dict[str, Any]]) -> bool:
    """Every topic in one broker's metadata answer is known and each partition has a leader."""
    return all(
        t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
        for t in described
    )
