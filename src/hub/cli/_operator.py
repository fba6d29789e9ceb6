"""What the operators' commands share: settings, JSON output, a progress line, Kafka errors, times."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from hub.connectors.registry import PartnerRegistry
    from hub.settings import HubSettings
    from hub.topics import TopicLayout

__all__ = [
    "EXIT_CONFIG",
    "EXIT_UNAVAILABLE",
    "Deployment",
    "Progress",
    "add_json",
    "load_deployment",
    "parse_duration",
    "parse_since",
    "print_json",
    "run_kafka",
]

T = TypeVar("T")

EXIT_UNAVAILABLE = 69  # sysexits' EX_UNAVAILABLE: the cluster did not answer
EXIT_CONFIG = 2  # the operator commands' exit for settings or a registry they cannot use
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True)
class Deployment:
    """What an operator command reads the hub's topics with: settings, registry, topic names."""

    settings: HubSettings
    registry: PartnerRegistry
    layout: TopicLayout


def load_deployment(command: str) -> Deployment | None:
    """The deployment from the environment; None, after saying why on stderr (exit ``EXIT_CONFIG``)."""
    from hub.connectors.registry import load_registry
    from hub.errors import ConfigurationError
    from hub.settings import read_settings
    from hub.topics import TopicLayout

    try:
        settings = read_settings()
        registry = load_registry(settings.partners_file)
    except ConfigurationError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None
    return Deployment(settings, registry, TopicLayout(settings.kafka.topic_prefix))


def add_json(parser: Any) -> None:
    """The ``--json`` option every operator command has."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (for scripts), no progress"
    )


def print_json(value: Any) -> None:
    """One JSON document on stdout."""
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``2d``, ``1w``; raises ValueError otherwise."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration like 15m, 1h or 2d: {text!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def parse_since(text: str) -> datetime:
    """A moment: a duration back from now (``2h``) or an ISO date or date-time (UTC when it has no offset)."""
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a duration (2h) or an ISO date-time: {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class Progress:
    """A one-line progress display on stderr, only when stderr is a terminal (never with --json).

    Written by hand: no progress library is among the hub's dependencies, and a line
    rewritten with ``\\r`` is all a command that reads a topic needs.
    """

    def __init__(self, what: str, *, enabled: bool = True) -> None:
        self._what = what
        self._on = enabled and sys.stderr.isatty()
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        """Show ``done`` of ``total``."""
        if not self._on:
            return
        share = f" ({100 * done // total}%)" if total else ""
        sys.stderr.write(f"\r{self._what}: {done} of at most {total}{share}   ")
        sys.stderr.flush()
        self._shown = True

    def done(self) -> None:
        """End the line."""
        if self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._shown = False


def run_kafka(
    command: str, work: Callable[[], Awaitable[T]], *, timeout_seconds: float = 300.0
) -> T:
    """Run the command's Kafka work; exits 69 when the cluster does not answer in time."""
    from hub.kafka import KafkaError
    from hub.kafka.inspection import TopicMissing

    async def bounded() -> T:
        return await asyncio.wait_for(work(), timeout_seconds)

    try:
        return asyncio.run(bounded())
    except TopicMissing as exc:
        print(
            f"{command}: {exc}: is HUB_KAFKA__TOPIC_PREFIX right, and has `hub run` started once?",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    except (KafkaError, TimeoutError, OSError) as exc:
        print(f"{command}: Kafka did not answer ({type(exc).__name__})", file=sys.stderr)
        raise SystemExit(EXIT_UNAVAILABLE) from None
