"""Prometheus metrics of the HTTP gateway; labels are endpoint names and status codes only."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "CONNECTIONS_CLOSED",
    "PULLED",
    "REQUESTS",
    "REQUEST_SECONDS",
]

REQUESTS = Counter(
    "hub_gateway_requests_total", "HTTP requests answered, by endpoint name and status.",
    ["route", "status"],
)  # fmt: skip
REQUEST_SECONDS = Histogram(
    "hub_gateway_request_seconds", "Time to answer an HTTP request, by endpoint name.", ["route"]
)
CONNECTIONS_CLOSED = Counter(
    "hub_gateway_connections_closed_total",
    "Connections the gateway closed unanswered: per_client_limit or header_timeout.",
    ["reason"],
)
PULLED = Counter(
    "hub_gateway_pulled_total", "Deliveries handed out by GET /deliveries, by partner.", ["partner"]
)
