"""Flow KPIs per team and month, from the events the hub receives (docs/operations.md, "Flow KPIs")."""

from hub.kpi.calendar import month_of, working_days
from hub.kpi.facts import KPI_TYPES, Budget, Fact, fact_of
from hub.kpi.ledger import BUCKETS_SECONDS, KPIS, UNASSIGNED, Completion, KpiLedger, Totals

__all__ = [
    "BUCKETS_SECONDS",
    "KPIS",
    "KPI_TYPES",
    "UNASSIGNED",
    "Budget",
    "Completion",
    "Fact",
    "KpiLedger",
    "Totals",
    "fact_of",
    "month_of",
    "working_days",
]
