"""The disclosure store on PostgreSQL: the SQLite cases on a real server, and TRUNCATE."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from hub.audit import open_store
from tests.unit.audit.store_cases import DisclosureStoreCases, record

# The first test starts the server (postgres_url), and on a fresh machine installs it.
pytestmark = pytest.mark.timeout(900)


class TestPostgresStore(DisclosureStoreCases):
    """The store's cases, each on a new database of the session's PostgreSQL server."""

    database_error = psycopg.Error

    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        """An empty store: a new database on the session's server."""
        name = f"audit_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # a generated name, not input
        return postgres_url.rsplit("/", 1)[0] + "/" + name

    def execute(self, store_url: str, sql: str) -> None:
        with psycopg.connect(store_url) as connection:
            connection.execute(sql)

    def test_truncating_the_postgres_log_is_refused(self, postgres_url: str) -> None:
        """TRUNCATE is refused on PostgreSQL as well."""
        with open_store(postgres_url) as store:
            store.add([record(1)])
        with pytest.raises(psycopg.Error, match="append-only"):
            self.execute(postgres_url, "TRUNCATE disclosure_subjects, disclosures")
