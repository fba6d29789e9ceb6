"""GroupProgress: commits offsets for consumer groups no member runs (a pull partner's cursor).

A pull partner's position is the cursor it holds; the gateway hands the positions of each
cursor a partner comes back with (everything before them it has taken) to ``note``, and
they are committed as the offsets of that partner's group, so that how far it has read is
on Kafka, where `hub run`'s lag monitor reads every group's. Commits are gathered and
sent once a second in the background (the latest positions of each group win), never on
a request's path; a failed commit is logged (``pull_progress_failed``) and tried again
with the next.

Written here, not taken from a library, because Kafka's only way to set a group's offsets
from a client is a consumer of that group: one per group, assigned and paused (it fetches
nothing), used for its ``commit`` alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from aiokafka.structs import OffsetAndMetadata

from hub.kafka.clients import started_consumer, stop_consumer
from hub.kafka.errors import is_kafka_failure
from hub.kafka.types import Consumer, TopicPartition
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings

__all__ = ["GroupProgress"]

_log = get_logger()
# How long stop waits for a commit under way, then for the last one.
_STOP_WAIT_SECONDS = 2.0


class GroupProgress:
    """Commits noted positions of groups once a second; a gateway Service (``start``, ``stop``)."""

    def __init__(self, kafka: KafkaSettings, *, interval_seconds: float = 1.0) -> None:
        self._kafka = kafka
        self._interval = interval_seconds
        self._pending: dict[str, dict[TopicPartition, int]] = {}
        self._consumers: dict[str, Consumer] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def note(self, group: str, topic: str, positions: Mapping[int, int]) -> None:
        """Remember that ``group`` has taken everything before ``positions`` (partition -> offset)."""
        pending = self._pending.setdefault(group, {})
        for partition, offset in positions.items():
            pending[TopicPartition(topic, partition)] = offset

    async def start(self) -> None:
        """Begin committing in the background."""
        self._task = asyncio.create_task(self._run(), name="group-progress")

    async def stop(self) -> None:
        """Let a commit under way end, commit what is pending (briefly), then close every consumer.

        The background commit is asked to stop, not cancelled: a consumer cancelled while
        it connects can leave a connection aiokafka no longer tracks, which nothing closes.
        Only a commit that does not end within the wait (Kafka not answering) is cancelled.
        """
        if self._task is not None:
            self._stopping.set()
            try:
                async with asyncio.timeout(_STOP_WAIT_SECONDS):
                    await asyncio.shield(self._task)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_STOP_WAIT_SECONDS):
                await self.flush()
        for group in list(self._consumers):
            await self._close(group)

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._interval):
                    await self._stopping.wait()
                return  # stopping: stop() sends what is left
            except TimeoutError:
                await self.flush()

    async def flush(self) -> None:
        """Commit every group's noted positions now."""
        for group in list(self._pending):
            offsets = self._pending.pop(group)
            try:
                await self._commit(group, offsets)
            except asyncio.CancelledError:
                self._keep(group, offsets)  # stopping: the last flush of ``stop`` sends them
                raise
            except Exception as exc:
                if not (is_kafka_failure(exc) or isinstance(exc, OSError | TimeoutError)):
                    raise
                _log.warning("pull_progress_failed", exc_type=type(exc).__name__)
                await self._close(group)
                self._keep(group, offsets)

    def _keep(self, group: str, offsets: dict[TopicPartition, int]) -> None:
        """Put back positions not committed; newer ones noted meanwhile win, these fill the gaps."""
        self._pending[group] = {**offsets, **self._pending.get(group, {})}

    async def _commit(self, group: str, offsets: dict[TopicPartition, int]) -> None:
        member = self._consumers.get(group)
        if member is None:
            member = await started_consumer(self._kafka, group_id=group, enable_auto_commit=False)
            self._consumers[group] = member
        if not set(offsets) <= member.assignment():
            member.assign([*member.assignment(), *offsets])
            member.pause(*member.assignment())  # commits only: it must fetch nothing
        await member.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()})

    async def _close(self, group: str) -> None:
        member = self._consumers.pop(group, None)
        if member is not None:
            with contextlib.suppress(Exception):  # closing after a failure may fail again
                await stop_consumer(member)
