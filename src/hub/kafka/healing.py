"""A producer that connects in the background, rebuilds itself when broken, and stops on refusal.

The gateway's event sink (idempotent) and its iWmo writer (transactional) each hold one
``HealingProducer``. It starts connecting at ``start`` and retries with backoff while
Kafka is away, so its owner runs (and answers 503) meanwhile; ``current`` is None until
a producer is connected. Its owner asks for a rebuild when the producer's state, not
the cluster, is why sends fail: the old producer is retired (stopped in the background,
within a bound) and a new one connects; a new producer starts new sequences, and with a
transactional id it fences the old one and aborts what that left open. When Kafka
refuses the hub for good (authorisation, SASL, TLS: ``KafkaFailure.MISCONFIGURED``) it
stops trying and sets ``refused``, with the reason in ``refusal``.

Log events, with ``events`` as their prefix: ``<events>_kafka_unavailable`` (each wait
to connect again), ``<events>_kafka_connected``, ``<events>_kafka_refused``,
``<events>_connect_failed`` (connecting failed on something neither Kafka nor the
network: tried again after ``retry.max_seconds``), and ``<events>_producer_rebuilt``
(``heal`` found the producer broken); the connected, waiting and failed lines name the
transactional id when there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from hub.background import BackgroundTask
from hub.errors import ConfigurationError
from hub.kafka.clients import producer
from hub.kafka.errors import KafkaFailure, KafkaMisconfigured, classify
from hub.kafka.retry import kafka_retrying
from hub.kafka.types import KafkaError
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, RetrySettings

__all__ = ["HealingProducer"]

_RETIRE_TIMEOUT = 10.0


class HealingProducer:
    """One aiokafka producer built from ``options``, connected in the background and rebuilt on demand.

    ``name`` names the connecting task (``<name>-retired`` the stopping of an old
    producer); ``events`` prefixes the log events (see the module docstring).
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        name: str,
        events: str,
        retry: RetrySettings,
        **options: Any,
    ) -> None:
        self._kafka = kafka
        self._name = name
        self._events = events
        self._retry = retry
        self._options = options
        tid = options.get("transactional_id")
        self._log_context: dict[str, Any] = {"transactional_id": tid} if tid else {}
        self._current: Any = None
        self._connector = BackgroundTask(name, self._connect)
        self._retired: set[asyncio.Task[Any]] = set()
        self._refused = asyncio.Event()
        self.refusal: KafkaMisconfigured | None = None

    @property
    def current(self) -> Any:
        """The connected producer, or None while it connects (again) or after a refusal."""
        return self._current

    @property
    def connected(self) -> bool:
        """True while a producer is connected (a send may still fail)."""
        return self._current is not None

    @property
    def refused(self) -> asyncio.Event:
        """Set when Kafka refuses the hub for good (``refusal`` says why)."""
        return self._refused

    def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        self._connector.start()

    async def stop(self) -> None:
        """Stop connecting, close the producer (within a bound) and wait for retired ones."""
        await self._connector.stop()
        current, self._current = self._current, None
        if current is not None:
            await _stop_quietly(current)
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)

    def rebuild(self, old: Any) -> bool:
        """Retire ``old`` and connect a new producer; False when ``old`` is no longer current.

        Several requests may see one producer fail; only the first rebuilds it.
        """
        if old is None or old is not self._current:
            return False
        self._current = None
        self._retire(old)
        self._connector.replace()
        return True

    async def heal(self, old: Any, errors: Iterable[BaseException]) -> None:
        """Rebuild ``old`` when its state is why sends failed; stop for good when Kafka refuses.

        ``errors`` are the failures of the sends that failed. A refusal wins over a broken
        producer; a producer whose sender ended (aiokafka never sends again then) is
        rebuilt even without a failure to show for it. Transient failures change nothing.
        """
        if old is None or old is not self._current:
            return  # another request already started the rebuild
        failures = {classify(e): e for e in reversed(list(errors))}
        refused = failures.get(KafkaFailure.MISCONFIGURED)
        broken = failures.get(KafkaFailure.PRODUCER_BROKEN)
        if refused is not None:
            self._current = None
            self._retire(old)
            self._refuse(refused)
        elif broken is not None:
            get_logger().warning(f"{self._events}_producer_rebuilt", exc_type=type(broken).__name__)
            self.rebuild(old)
        elif _sender_stopped(old):
            get_logger().warning(f"{self._events}_producer_rebuilt", exc_type="SenderStopped")
            self.rebuild(old)

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Wait for ``task`` at ``stop`` (a cancelled send or transaction still winding down)."""
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def probe(self, timeout_seconds: float) -> bool:
        """Fetch cluster metadata within the timeout; False while no working producer is connected."""
        current = self._current
        if current is None or _sender_stopped(current):
            return False
        try:
            async with asyncio.timeout(timeout_seconds):
                await current.client.fetch_all_metadata()
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    async def _connect(self) -> None:
        # Anything but Kafka and the network is a bug (or a library's) met while connecting:
        # said once per try, then tried again after the longest wait, rather than ending
        # this task silently and leaving its owner without a producer for good.
        while True:
            try:
                await self._connect_once()
                return
            except ConfigurationError as exc:
                # The hub's own settings (a certificate file that cannot be read): no retry
                # mends that, so it stops as a refusal by Kafka does.
                self._refuse(exc)
                return
            except Exception as exc:
                get_logger().error(
                    f"{self._events}_connect_failed",
                    exc_type=type(exc).__name__,
                    **self._log_context,
                )
                await asyncio.sleep(self._retry.max_seconds)

    async def _connect_once(self) -> None:
        try:
            async for attempt in kafka_retrying(
                self._retry,
                event=f"{self._events}_kafka_unavailable",
                doing=f"connecting {self._name}",
                retry_on=_can_retry_connecting,
                **self._log_context,
            ):
                with attempt:
                    started = producer(self._kafka, **self._options)
                    try:
                        await started.start()
                    except BaseException:
                        with contextlib.suppress(Exception):
                            await started.stop()
                        raise
        except (KafkaError, OSError) as exc:
            if classify(exc) is not KafkaFailure.MISCONFIGURED:
                raise
            self._refuse(exc)
            return
        self._current = started
        get_logger().info(f"{self._events}_kafka_connected", **self._log_context)

    def _retire(self, old: Any) -> None:
        self.keep(asyncio.create_task(_stop_quietly(old), name=f"{self._name}-retired"))

    def _refuse(self, exc: BaseException) -> None:
        get_logger().error(f"{self._events}_kafka_refused", exc_type=type(exc).__name__)
        self.refusal = KafkaMisconfigured(exc)
        self._refused.set()


def _can_retry_connecting(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError | OSError) and classify(exc) is not KafkaFailure.MISCONFIGURED


def _sender_stopped(current: Any) -> bool:
    # aiokafka ends its sender task on OutOfOrderSequenceNumber or ProducerFenced and then
    # never sends again, without a public way to ask; its `_sender.sender_task` is the only
    # sign. Read defensively: an aiokafka without it just loses this early detection.
    task = getattr(getattr(current, "_sender", None), "sender_task", None)
    return isinstance(task, asyncio.Task) and task.done()


async def _stop_quietly(old: Any) -> None:
    # Bounded: stop() flushes what the producer still holds (or aborts its transaction),
    # and waits for a broker that may be away. Records an idempotent producer still lands
    # are duplicates of the partners' resends (they got 503), which the router suppresses
    # by (source, id).
    try:
        await asyncio.wait_for(old.stop(), timeout=_RETIRE_TIMEOUT)
    except TimeoutError:
        # stop() was cancelled mid-flush and leaves its sender and connections behind:
        # end them here (aiokafka has no public "close without flushing").
        task = getattr(getattr(old, "_sender", None), "sender_task", None)
        if isinstance(task, asyncio.Task) and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await old.client.close()
    except Exception:  # noqa: S110 - a producer already out of step may fail to stop; it is gone either way
        pass
