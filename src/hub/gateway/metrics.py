"""Prometheus metrics of the HTTP gateway; labels are endpoint names and status codes only."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["REQUESTS", "REQUEST_SECONDS"]

REQUESTS = Counter(
    "hub_gateway_requests_total", "HTTP requests answered, by endpoint name and status.",
    ["route", "status"],
)  # fmt: skip
REQUEST_SECONDS = Histogram(
    "hub_gateway_request_seconds", "Time to answer an HTTP request, by endpoint name.", ["route"]
)
