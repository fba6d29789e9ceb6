"""Fixtures for the gateway's unit tests: the app in memory, over a recording sink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub.connectors.registry import PartnerRegistry, load_registry
from hub.gateway import GatewaySettings, StatusBook, create_app
from hub.gateway.testing import RecordingSink, with_credentials
from hub.topics import TopicLayout

from .gatewaytest import KEYS, LIMIT, SWT_SUBJECT, AppFactory


@pytest.fixture
def registry() -> PartnerRegistry:
    """The demo registry with API keys for a few partners and a certificate for the wijkteam."""
    return with_credentials(
        load_registry(), api_keys=KEYS, mtls_subjects={"swt-zwolle": [SWT_SUBJECT]}
    )


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def book() -> StatusBook:
    return StatusBook(max_records=1000, recent_ids=1000)


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(max_body_bytes=LIMIT, rate_limit="10000/minute")


@pytest.fixture
def make_app(
    registry: PartnerRegistry, sink: RecordingSink, book: StatusBook, settings: GatewaySettings
) -> AppFactory:
    """Build the app with the fixtures, any of them replaced by keyword."""

    def make(**overrides: Any) -> FastAPI:
        options: dict[str, Any] = {
            "settings": settings,
            "registry": registry,
            "layout": TopicLayout("test"),
            "sink": sink,
            "book": book,
        }
        options.update(overrides)
        return create_app(**options)

    return make


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in memory, its lifespan running."""
    app = make_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=10
        ) as http,
    ):
        yield http
