"""``hub kpi --month YYYY-MM``: the flow KPIs per team of a month, and its budget positions."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from typing import Any

from hub.cli._operator import add_json, print_json, run_kafka

__all__ = ["configure", "run"]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `hub kpi`."""
    parser.description = (
        "Flow KPIs per team for one month, as `hub run` aggregates them in the <prefix>.kpi "
        "topic: waiting (referral submitted to intake scheduled), throughput (case opened "
        "to closed), time-to-start (assignment issued to care started) and "
        "veilig-thuis-response (safety report to its first feedback, against 5 working "
        "days: Monday to Friday without Dutch public holidays). A duration counts in the "
        "month (Europe/Amsterdam) of the event that completes it; median and p90 are the "
        "bucket bound they fall under. Also each team's budget position for the month "
        "(budgets.status-reported). Ids and names of teams only, never personal data. "
        "Exit 0; 2 on a bad month; 1 when the topic does not exist; 69 when Kafka does "
        "not answer."
    )
    parser.add_argument(
        "--month", default=None, help="YYYY-MM (default: this month in Europe/Amsterdam)"
    )
    parser.add_argument(
        "--team", default=None, help="only this team (its name, as the events give it)"
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Read the KPI ledger and print the month."""
    from hub.errors import ConfigurationError
    from hub.kpi import KpiLedger, month_of
    from hub.settings import read_settings
    from hub.topics import TopicLayout

    month = args.month or month_of(datetime.now(UTC))
    if not _MONTH.match(month):
        print(f"hub kpi: not a month like 2026-11: {month!r}", file=sys.stderr)
        return 2
    try:
        settings = read_settings()
    except ConfigurationError as exc:
        print(f"hub kpi: {exc}", file=sys.stderr)
        return 2
    layout = TopicLayout(settings.kafka.topic_prefix)

    async def gather() -> dict[str, Any]:
        from hub.kafka.inspection import TopicMissing, describe_cluster, read_topics

        if layout.kpi not in (await describe_cluster(settings.kafka)).topics:
            raise TopicMissing(layout.kpi)
        ledger = KpiLedger(retention_ms=0, directory=settings.state.directory)
        try:
            for record in await read_topics(settings.kafka, [layout.kpi]):
                ledger.load(record.key, record.value)
            return {**ledger.month_report(month, args.team), "open": ledger.open_counts()}
        finally:
            ledger.close()

    report = run_kafka("hub kpi", gather)
    if args.json:
        print_json(report)
        return 0
    _print(report, args.team)
    return 0


def _print(report: dict[str, Any], team: str | None) -> None:
    print(f"flow KPIs {report['month']}" + (f", team {team}" if team else ""))
    if not report["kpis"]:
        print("  none completed in this month")
    for row in report["kpis"]:
        line = (
            f"  {row['team']:<28} {row['kpi']:<22} {row['count']:>6}  "
            f"mean {_days(row['mean_seconds']):>8}  median <= {_days(row['median_at_most_seconds']):>8}"
            f"  p90 <= {_days(row['p90_at_most_seconds']):>8}"
        )
        if row["within_target_share"] is not None:
            line += (
                f"  within 5 working days {row['within_target']}/{row['count']}"
                f" ({round(100 * row['within_target_share'])} %)"
            )
        print(line)
    print("budget position (euros):")
    if not report["budgets"]:
        print("  none reported for this month")
    for b in report["budgets"]:
        print(
            f"  {b['team']:<28} budget {b['budget_cents'] / 100:>13,.2f}  "
            f"committed {b['committed_cents'] / 100:>13,.2f}  spent {b['spent_cents'] / 100:>13,.2f}"
        )


def _days(seconds: float | None) -> str:
    """A duration in days with one decimal, or hours below a day; '-' when there is none."""
    if seconds is None:
        return "-"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"
