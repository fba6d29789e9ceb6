"""Fixtures for the disclosure store: a SQLite file, and a throwaway PostgreSQL cluster.

The PostgreSQL cluster is started once per session by ``scripts/local-postgres`` (which
installs the server when its binaries are missing, as root); a failure to start it fails
the tests, it never skips them.
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "local-postgres"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh local PostgreSQL 15 server, stopped and removed after the session."""
    # Not pytest's tmp_path: as root the server runs as another user, who must reach the dir.
    directory = tempfile.mkdtemp(prefix="hub-pg-")
    started = subprocess.run(
        [str(SCRIPT), "start", directory], capture_output=True, text=True, timeout=600, check=False
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/local-postgres start failed:\n{started.stderr}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(SCRIPT), "stop", directory], timeout=120, check=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store of each backend: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    server: str = request.getfixturevalue("postgres_url")
    name = f"audit_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # a generated name, not input
    return server.rsplit("/", 1)[0] + "/" + name
