"""The broker the hub provisions behaves like Kafka where the hub depends on it.

Round trips, transactions (exactly-once consume-transform-produce) and, on the
SCRAM broker, per-partner authorization.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.dev.localkafka import DEFAULT_SCRAM_USERS, LocalKafka

HUB = ("hub", DEFAULT_SCRAM_USERS["hub"])
PARTNER_A = ("partner-a", "partner-a-test-secret")
TopicFactory = Callable[..., Awaitable[str]]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def _started(client: Any) -> Any:
    await client.start()
    return client


async def _high_watermark(bootstrap: str, partition: TopicPartition) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        end: int = (await consumer.end_offsets([partition]))[partition]
        return end
    finally:
        await consumer.stop()


async def _read_to_end(bootstrap: str, topic: str, *, isolation_level: str) -> list[bytes]:
    """Every value in partition 0 of ``topic`` up to its high watermark.

    A read_committed consumer gets there only once the transaction markers are written,
    which happens shortly after commit/abort returns; so it waits rather than stopping
    at a last stable offset that has not caught up yet.
    """
    partition = TopicPartition(topic, 0)
    end = await _high_watermark(bootstrap, partition)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level=isolation_level, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        values: list[bytes] = []
        async with asyncio.timeout(20):
            while await consumer.position(partition) < end:
                batches = await consumer.getmany(partition, timeout_ms=500)
                values += [record.value for record in batches.get(partition, [])]
        return values
    finally:
        await consumer.stop()


async def test_produce_consume_round_trip(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """A record produced to a fresh topic is consumed back with its key, value and headers."""
    topic = await topic_factory()
    producer = await _started(AIOKafkaProducer(bootstrap_servers=kafka_bootstrap))
    try:
        await producer.send_and_wait(topic, b"value-1", key=b"key-1", headers=[("ce_id", b"1")])
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=_unique("round-trip"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            record = await consumer.getone()
    finally:
        await consumer.stop()

    assert (record.offset, record.key, record.value, list(record.headers)) == (
        0,
        b"key-1",
        b"value-1",
        [("ce_id", b"1")],
    )


async def test_transaction_commits_output_and_input_offsets(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """A consume-transform-produce transaction commits its output records and its input offsets."""
    source = await topic_factory(prefix="txn-in")
    sink = await topic_factory(prefix="txn-out")
    group = _unique("txn-group")
    plain = await _started(AIOKafkaProducer(bootstrap_servers=kafka_bootstrap))
    try:
        for value in (b"a", b"b", b"c"):
            await plain.send_and_wait(source, value)
    finally:
        await plain.stop()

    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=_unique("txn-transform")
    )
    await consumer.start()
    try:
        await producer.start()
        try:
            records = []
            async with asyncio.timeout(30):
                while len(records) < 3:
                    records.append(await consumer.getone())
            async with producer.transaction():
                for record in records:
                    await producer.send_and_wait(sink, record.value.upper())
                await producer.send_offsets_to_transaction(
                    {TopicPartition(source, 0): records[-1].offset + 1}, group
                )
        finally:
            await producer.stop()
        # Like the output, the offsets become visible once the commit markers are written.
        committed = None
        async with asyncio.timeout(15):
            while committed is None:
                committed = await consumer.committed(TopicPartition(source, 0))
                await asyncio.sleep(0 if committed is not None else 0.1)
    finally:
        await consumer.stop()

    output = await _read_to_end(kafka_bootstrap, sink, isolation_level="read_committed")
    assert (committed, output) == (3, [b"A", b"B", b"C"])


async def test_aborted_transaction_is_invisible_to_read_committed(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """An aborted transaction's records are skipped by read_committed, seen by read_uncommitted."""
    topic = await topic_factory(prefix="txn-abort")
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=_unique("txn-abort")
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-2")
    finally:
        await producer.stop()

    committed_view = await _read_to_end(kafka_bootstrap, topic, isolation_level="read_committed")
    everything = await _read_to_end(kafka_bootstrap, topic, isolation_level="read_uncommitted")
    assert committed_view == [b"committed-1", b"committed-2"]
    assert everything == [b"committed-1", b"aborted", b"committed-2"]


# -- SCRAM broker: per-partner authorization -----------------------------------------


def _scram(user: tuple[str, str]) -> dict[str, str]:
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": user[0],
        "sasl_plain_password": user[1],
    }


@pytest.fixture(scope="module")
def scram_kafka() -> LocalKafka:
    """The local SCRAM broker (left running for the next session, like the plain one).

    Never skipped: without java and mvn, ensure_running fails with a sentence saying so.
    """
    kafka = LocalKafka(scram=True, scram_users=dict([HUB, PARTNER_A]))
    kafka.ensure_running()
    return kafka


@pytest.fixture
async def hub_admin(scram_kafka: LocalKafka) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client logged in as the hub's super user over SASL/SCRAM."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=scram_kafka.sasl_bootstrap_servers,
        request_timeout_ms=15000,
        **_scram(HUB),
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def test_partner_reads_only_the_topic_granted_to_it(
    scram_kafka: LocalKafka, hub_admin: AIOKafkaAdminClient
) -> None:
    """The hub creates topics and grants ACLs; a partner reads its granted topic, not another."""
    topic_a, topic_b, group = _unique("partner-a-in"), _unique("partner-b-in"), _unique("partner-a")
    sasl = scram_kafka.sasl_bootstrap_servers
    response = await hub_admin.create_topics([NewTopic(topic_a, 1, 1), NewTopic(topic_b, 1, 1)])
    assert sorted(error[:2] for error in response.topic_errors) == [(topic_a, 0), (topic_b, 0)]
    try:
        producer = await _started(AIOKafkaProducer(bootstrap_servers=sasl, **_scram(HUB)))
        try:
            await producer.send_and_wait(topic_a, b"for partner a")
            await producer.send_and_wait(topic_b, b"for partner b")
        finally:
            await producer.stop()
        # aiokafka has no create_acls; Kafka's own AclCommand writes them, logged in as `hub`.
        await asyncio.to_thread(
            scram_kafka.run_tool,
            "kafka.admin.AclCommand",
            "--bootstrap-server",
            sasl,
            "--command-config",
            str(scram_kafka.client_properties(HUB[0])),
            "--add",
            "--allow-principal",
            f"User:{PARTNER_A[0]}",
            "--operation",
            "Read",
            "--topic",
            topic_a,
            "--group",
            group,
        )

        granted = AIOKafkaConsumer(
            topic_a,
            bootstrap_servers=sasl,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **_scram(PARTNER_A),
        )
        await granted.start()
        try:
            async with asyncio.timeout(30):
                record = await granted.getone()
        finally:
            await granted.stop()

        # Reading starts with a metadata request; for a topic the partner may not even
        # describe, the broker answers TOPIC_AUTHORIZATION_FAILED (aiokafka's consumer then
        # only logs it and waits, so the client is asked directly).
        client = AIOKafkaClient(bootstrap_servers=sasl, **_scram(PARTNER_A))
        await client.bootstrap()
        try:
            client.set_topics([topic_a, topic_b])
            assert await client.force_metadata_update()
            visible = (
                client.cluster.partitions_for_topic(topic_a),
                client.cluster.unauthorized_topics,
            )
        finally:
            await client.close()
    finally:
        await hub_admin.delete_topics([topic_a, topic_b])

    assert (record.value, visible) == (b"for partner a", ({0}, {topic_b}))
