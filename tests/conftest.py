"""Settings every test shares: the tests run on the demo registry, so they say they are development."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import structlog

# `hub run` and `hub gateway` refuse the demo registry and the demo pseudonym secret
# outside development; the tests (and subprocesses they start) use both on purpose.
os.environ.setdefault("HUB_ENVIRONMENT", "development")
# Every hub the tests run (in-process or as a subprocess) serves its ops port on a free
# port: many run at once, also other sessions' on the same machine, and 8081 is one port.
os.environ.setdefault("HUB_OPS__PORT", "0")
os.environ.setdefault("HUB_GATEWAY__OPS_PORT", "0")


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Undo what a command under test configured: it binds the test's (soon closed) stderr.

    A command run in-process (``main([...])``) configures logging for the whole process,
    with pytest's captured stream; a later test would log into that closed stream.
    """
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)
