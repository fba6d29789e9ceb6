"""The disclosure store on SQLite: idempotent, append-only, queryable; how it fails.

The same cases run on PostgreSQL in tests/integration/test_audit_store_postgres.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.audit import AuditStoreError, open_store
from hub.errors import ConfigurationError
from tests.unit.audit.store_cases import DisclosureStoreCases


class TestSqliteStore(DisclosureStoreCases):
    """The store's cases on a new SQLite file."""

    database_error = sqlite3.DatabaseError

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        """An empty store: a new SQLite file."""
        return f"sqlite:///{tmp_path / 'audit.sqlite3'}"

    def execute(self, store_url: str, sql: str) -> None:
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as connection:
            connection.execute(sql)


def test_opening_read_only_creates_nothing(tmp_path: Path) -> None:
    """A read-only open of a missing SQLite file fails and leaves no file behind."""
    path = tmp_path / "missing.sqlite3"
    with pytest.raises(AuditStoreError):
        open_store(f"sqlite:///{path}", read_only=True)
    assert not path.exists()


def test_a_read_only_open_of_a_file_without_tables_says_so(tmp_path: Path) -> None:
    """A file the feed has created but not yet filled with tables is a clear store error."""
    path = tmp_path / "starting.sqlite3"
    sqlite3.connect(path).close()  # what a feed killed between the two steps leaves
    with pytest.raises(AuditStoreError, match="no tables yet"):
        open_store(f"sqlite:///{path}", read_only=True)
    with open_store(f"sqlite:///{path}") as store:  # the next feed creates them
        assert store.get("00000000-0000-5000-8000-000000000000") is None
    with open_store(f"sqlite:///{path}", read_only=True) as store:
        assert store.get("00000000-0000-5000-8000-000000000000") is None


def test_an_unknown_store_url_is_a_configuration_error() -> None:
    """Only sqlite:/// and postgresql:// URLs are accepted."""
    with pytest.raises(ConfigurationError) as caught:
        open_store("mysql://localhost/audit")
    assert caught.value.path == "store_url"


def test_an_unreachable_postgres_names_no_credentials() -> None:
    """A connection failure is an AuditStoreError that does not repeat the URL."""
    # No server needed: nothing listens on port 1, so the connection is refused at once.
    url = "postgresql://hub:s3cret-password@127.0.0.1:1/audit?connect_timeout=2"
    with pytest.raises(AuditStoreError) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
