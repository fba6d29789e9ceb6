"""Prometheus metrics of the HTTP gateway; labels are endpoint names and status codes only."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "CONNECTIONS_CLOSED",
    "IWMO_MESSAGES",
    "IWMO_RETOUR_OVERDUE",
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
IWMO_MESSAGES = Counter(
    "hub_gateway_iwmo_messages_total",
    "iWmo documents answered, by message (302, 305, 307; unknown when refused at level 1) "
    "and outcome (accepted, rejected, replayed, refused, unmatched, acknowledged).",
    ["kind", "outcome"],
)
IWMO_RETOUR_OVERDUE = Counter(
    "hub_gateway_iwmo_retour_overdue_total",
    "301s without a 302 within iwmo.retour_overdue_working_days, by provider.",
    ["partner"],
)
