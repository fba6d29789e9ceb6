"""The operations page of `hub run`: ``/`` (one HTML file, its script and style) and ``/api/overview``.

The page polls ``/api/overview`` and draws the partners' flow map, each recipient's
backlog, breaker and parked deliveries, the unresolved dead letters, the safety-report
alert and this month's flow KPIs per team. The overview is read from the process's Prometheus registry (the figures
``/metrics`` serves, by name, so this module imports no package that defines them) and
from a snapshot of the dead letters that `hub run` refreshes in the background
(``hub.operations.board``; the newest ``DEAD_LETTERS_SHOWN`` of them, and how many there
are per partner and code): a request never reads Kafka. Everything on it is an id, a
role, a type, a code or a number; never event data. The assets ship with the package
(``hub/observability/page_assets/``) and name nothing outside it: the page works offline, and
its Content-Security-Policy lets it load nothing from elsewhere.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Final, Protocol

from prometheus_client import REGISTRY, CollectorRegistry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = [
    "DEAD_LETTERS_SHOWN",
    "LAG_STALE_SECONDS",
    "SAFETY_REPORT_ROLE",
    "SAFETY_REPORT_TYPE",
    "DeadLetterSnapshot",
    "PartnerCard",
    "overview",
    "page_routes",
]

# As deploy/prometheus/hub-alerts.yml's HubSafetyReportUndelivered and HubLagUnknown
# (a unit test holds the two together): the page shows the alert the rule would raise.
SAFETY_REPORT_ROLE = "veilig-thuis"
SAFETY_REPORT_TYPE = "nl.sociaaldomein.safety-reports.submitted.v1"
LAG_STALE_SECONDS = 120.0
_DEFAULT_DEADLINE_SECONDS = 300.0  # the rule's own fallback when no hub serves the setting
DEAD_LETTERS_SHOWN: Final = 200
"""Dead letters ``/api/overview`` lists, the newest (of one partner when the page asks).

The counts beside them (all, per partner, per code) cover every one the board holds:
listing all of the board's 10,000 took 40 to 120 ms of the shared event loop per request
and drew a table no one reads (docs/benchmarks.md); `hub dlq list --partner ID` lists
them all.
"""
_PARTNER_PARAMETER = "dead_letters_partner"

_ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/page.js": ("page.js", "text/javascript; charset=utf-8"),
    "/page.css": ("page.css", "text/css; charset=utf-8"),
}
_SECURITY_HEADERS = {
    # Nothing but this origin: no CDN, no inline script, no frame around it.
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class DeadLetterSnapshot(Protocol):
    """The dead-letter board's last reading (``DeadLetterBoard.snapshot``), its listing capped."""

    def __call__(self, *, limit: int | None, partner: str | None) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class PartnerCard:
    """A registered partner as the page names it: id, organisation name, role, delivery kind."""

    id: str
    name: str | None
    role: str
    delivery: str


def page_routes(
    partners: Sequence[PartnerCard],
    dead_letters: DeadLetterSnapshot,
    *,
    asyncapi: bytes | None = None,
    kpis: Callable[[], Mapping[str, Any]] | None = None,
) -> list[BaseRoute]:
    """The page's routes, ``/api/overview``, and ``/asyncapi.json`` when the document is given.

    ``/api/overview?dead_letters_partner=ID`` lists that partner's newest dead letters
    instead of everyone's (the counts stay the whole board's).

    ``kpis`` gives this month's flow KPIs (``hub.kpi``' snapshot), shown in a panel of
    their own; without it the overview's ``kpis`` is None.
    """
    assets = {
        path: (files(__package__).joinpath("page_assets", name).read_bytes(), kind)
        for path, (name, kind) in _ASSETS.items()
    }

    def asset(path: str) -> Callable[[Request], Any]:
        body, kind = assets[path]

        async def serve(_: Request) -> Response:
            return Response(body, headers={"content-type": kind, **_SECURITY_HEADERS})

        return serve

    async def api_overview(request: Request) -> Response:
        partner = request.query_params.get(_PARTNER_PARAMETER) or None
        shown = overview(partners, dead_letters(limit=DEAD_LETTERS_SHOWN, partner=partner))
        shown["kpis"] = None if kpis is None else dict(kpis())
        return JSONResponse(shown, headers={"cache-control": "no-store"})

    routes: list[BaseRoute] = [Route(path, asset(path), methods=["GET"]) for path in assets]
    routes.append(Route("/api/overview", api_overview, methods=["GET"]))
    if asyncapi is not None:
        document = asyncapi

        async def asyncapi_json(_: Request) -> Response:
            return Response(document, headers={"content-type": "application/json"})

        routes.append(Route("/asyncapi.json", asyncapi_json, methods=["GET"]))
    return routes


def overview(
    partners: Sequence[PartnerCard],
    dead_letters: Mapping[str, Any],
    *,
    registry: CollectorRegistry = REGISTRY,
    now: float | None = None,
) -> dict[str, Any]:
    """What the page shows: per partner its counters and backlog, the dead letters, the alert.

    Counters are totals since the process started; the page turns two readings into a rate.
    A figure the process does not have (a backlog nobody measures, a breaker of a partner
    that takes no webhooks) is None.
    """
    at = time.time() if now is None else now
    samples = _samples(registry)

    def by(name: str, label: str) -> dict[str, float]:
        summed: dict[str, float] = defaultdict(float)
        for labels, value in samples.get(name, ()):
            summed[labels.get(label, "")] += value
        return summed

    def of(name: str, label: str) -> dict[str, float]:
        return {labels.get(label, ""): value for labels, value in samples.get(name, ())}

    events_in = by("hub_events_in_total", "partner")
    delivered = by("hub_deliveries_total", "recipient")
    withheld = by("hub_withheld_total", "recipient")
    dead = by("hub_dead_lettered_total", "partner")
    duplicates = by("hub_duplicates_total", "partner")
    router_lag = by("hub_router_lag_records", "partner")
    backlog = of("hub_delivery_backlog_records", "recipient")
    oldest = of("hub_delivery_oldest_undelivered_seconds", "recipient")
    breaker = of("hub_webhook_breaker_open", "partner")
    parked = of("hub_webhook_parked_records", "partner")
    checked = _single(samples, "hub_lag_checked_timestamp_seconds") or None  # 0: never yet
    rows = [
        {
            "id": p.id,
            "name": p.name,
            "role": p.role,
            "delivery": p.delivery,
            "in": int(events_in.get(p.id, 0)),
            "out": int(delivered.get(p.id, 0)),
            "withheld": int(withheld.get(p.id, 0)),
            "dead_lettered": int(dead.get(p.id, 0)),
            "duplicates": int(duplicates.get(p.id, 0)),
            "router_lag": _int_or_none(router_lag.get(p.id)),
            "backlog": _int_or_none(backlog.get(p.id)),
            "oldest_undelivered_seconds": oldest.get(p.id),
            "breaker": None if p.id not in breaker else "open" if breaker[p.id] else "closed",
            "parked": _int_or_none(parked.get(p.id)),
        }
        for p in partners
    ]
    lag_fresh = checked is not None and at - checked <= LAG_STALE_SECONDS
    return {
        "at": at,
        "partners": rows,
        "dead_letters": dict(dead_letters),
        "safety_report": _safety_report(rows, samples, lag_fresh),
        "lag_checked_at": checked,
        "router_retrying": bool(_single(samples, "hub_router_retrying")),
    }


def _safety_report(
    rows: Sequence[Mapping[str, Any]],
    samples: Mapping[str, list[tuple[dict[str, str], float]]],
    lag_fresh: bool,
) -> dict[str, Any]:
    """HubSafetyReportUndelivered and HubSafetyReportParked as the shipped rules decide them."""
    deadline = _single(samples, "hub_safety_report_deadline_seconds") or _DEFAULT_DEADLINE_SECONDS
    by_type = {
        labels.get("recipient", ""): value
        for labels, value in samples.get("hub_delivery_oldest_undelivered_by_type_seconds", ())
        if labels.get("type") == SAFETY_REPORT_TYPE
    }
    recipients = []
    for row in rows:
        if row["role"] != SAFETY_REPORT_ROLE:
            continue
        ages = [
            a for a in (by_type.get(row["id"]), row["oldest_undelivered_seconds"]) if a is not None
        ]
        age = max(ages) if ages else None
        recipients.append(
            {
                "recipient": row["id"],
                "oldest_undelivered_seconds": age,
                "undelivered": age is not None and age > deadline,
                "parked": row["parked"],
                "measured": age is not None,
            }
        )
    firing = any(r["undelivered"] or (r["parked"] or 0) > 0 for r in recipients)
    unknown = not lag_fresh or not all(r["measured"] for r in recipients)
    return {
        "state": "firing" if firing else "unknown" if unknown else "ok",
        "deadline_seconds": deadline,
        "recipients": recipients,
    }


def _samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of the registry by sample name (a counter's carries ``_total``)."""
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for metric in registry.collect():
        for sample in metric.samples:
            found[sample.name].append((dict(sample.labels), sample.value))
    return found


def _single(samples: Mapping[str, list[tuple[dict[str, str], float]]], name: str) -> float | None:
    values = samples.get(name)
    return values[0][1] if values else None


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)
