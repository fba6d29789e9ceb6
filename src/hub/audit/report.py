"""A resident's report (AVG art. 15): who received which kinds of data about them, in Dutch.

Built from the disclosure records about one resident (``DisclosureStore.concerning``), in
words a resident understands: organisation names from the partner registry (``name``),
kinds of data instead of field paths, the purpose instead of an activity id
(``hub.audit.wording``). It names no other person and holds no value of any event: the
records it is made from hold none. Rendered as HTML (a page of its own, no external
assets) or PDF (reportlab: a well-kept library that writes PDF without a browser or
system fonts; its built-in Helvetica covers Dutch).
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from hub.audit.record import AttemptResult, DeliveryAttempt, DisclosureOutcome, DisclosureRecord
from hub.audit.wording import describe_fields, legal_basis, purpose, reason
from hub.envelope import AMSTERDAM

__all__ = [
    "ReportEntry",
    "ResidentReport",
    "build_report",
    "render_html",
    "render_pdf",
    "transmission",
]

_MONTHS: Final = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
TITLE: Final = "Overzicht: wie kreeg welke gegevens over u"


@dataclass(frozen=True, slots=True)
class ReportEntry:
    """One disclosure or withholding, in words."""

    when: datetime
    organisation: str
    given: bool
    kinds: tuple[str, ...]
    kept_back: tuple[str, ...]
    purpose: str
    legal_basis: str
    why: str | None
    not_arrived: str | None = None
    """For a webhook delivery not taken: ``parked``, ``retrying`` or ``pending`` (None: it
    arrived, or went to the organisation's own stream, where it is when it is released)."""

    @property
    def when_text(self) -> str:
        """``5 januari 2026 om 10:30`` (Dutch time)."""
        local = self.when.astimezone(AMSTERDAM)
        return f"{local.day} {_MONTHS[local.month - 1]} {local.year} om {local:%H:%M}"


@dataclass(frozen=True, slots=True)
class ResidentReport:
    """The report's content: made at ``made_at``, the entries oldest first.

    ``for_review`` counts the records of protected types (a Veilig Thuis matter) left out:
    the privacy officer decides on those (below).
    """

    made_at: datetime
    entries: tuple[ReportEntry, ...]
    for_review: int = 0

    @property
    def organisations(self) -> tuple[str, ...]:
        """Every organisation that received data, in order of first receipt."""
        return tuple(
            dict.fromkeys(e.organisation for e in self.entries if e.given and not e.not_arrived)
        )


def transmission(attempts: Iterable[DeliveryAttempt], *, webhook: bool = True) -> str | None:
    """Whether a released delivery arrived, by its attempts: None when it did.

    A webhook delivery arrived when an attempt succeeded; ``parked`` when its last attempt
    parked it, ``retrying`` after failed ones, ``pending`` before the first. A delivery to
    a partner's own stream (``webhook`` false) is there when released.
    """
    ordered = list(attempts)
    if not webhook or any(a.result is AttemptResult.SUCCEEDED for a in ordered):
        return None
    if not ordered:
        return "pending"
    return "parked" if ordered[-1].result is AttemptResult.PARKED else "retrying"


def build_report(
    records: Iterable[DisclosureRecord],
    names: Mapping[str, str],
    made_at: datetime,
    protected: Callable[[str], bool] = lambda event_type: False,
    not_arrived: Mapping[str, str] | None = None,
) -> ResidentReport:
    """The report of these records; ``names`` maps partner ids to organisation names.

    Records of a ``protected`` type (the safety class: meldcode reports and Veilig Thuis's
    feedback) are left out and counted in ``for_review``. Every person a safety report
    names is one of its data subjects, an alleged perpetrator too; a report that told them
    would reveal the report, its timing and its reporter, which AVG art. 23 and UAVG art.
    41 let a controller withhold. The privacy officer decides per request.

    ``not_arrived`` maps disclosure ids to ``transmission``'s word for webhook deliveries that
    did not arrive: such data was released and did not reach the organisation (yet).
    """
    entries = []
    for_review = 0
    for record in records:
        if protected(record.event_type):
            for_review += 1
            continue
        given = record.outcome is DisclosureOutcome.DELIVERED
        kinds = describe_fields(record.fields_disclosed) if given else []
        kept_back = describe_fields(
            record.fields_withheld if given else (*record.fields_disclosed, *record.fields_withheld)
        )
        # A list shared in part (the plan's goals for one provider's result areas) is in
        # both: say which part each line is.
        both = set(kinds) & set(kept_back)
        entries.append(
            ReportEntry(
                when=record.decided_at,
                organisation=names.get(record.recipient, record.recipient),
                given=given,
                kinds=tuple(f"een deel van {k}" if k in both else k for k in kinds),
                kept_back=tuple(f"de rest van {k}" if k in both else k for k in kept_back),
                purpose=purpose(record.processing_activity),
                legal_basis=legal_basis(record.legal_basis),
                why=reason(record.reason),
                not_arrived=(not_arrived or {}).get(record.disclosure_id) if given else None,
            )
        )
    entries.sort(key=lambda e: e.when)
    return ResidentReport(made_at=made_at, entries=tuple(entries), for_review=for_review)


def _sentences(entry: ReportEntry) -> list[tuple[str, str]]:
    """(label, text) lines of one entry, shared by HTML and PDF."""
    lines: list[tuple[str, str]] = []
    if entry.given:
        label = "Verstuurde gegevens" if entry.not_arrived else "Ontvangen gegevens"
        lines.append((label, "; ".join(entry.kinds) or "geen gegevens over u"))
        if entry.not_arrived:
            lines.append(("Aangekomen", _NOT_ARRIVED[entry.not_arrived]))
        if entry.kept_back:
            lines.append(("Niet gedeeld", "; ".join(entry.kept_back)))
            if entry.why:
                lines.append(("Waarom niet", entry.why))
    else:
        lines.append(("Niet gedeeld", "; ".join(entry.kept_back) or "geen gegevens"))
        if entry.why:
            lines.append(("Waarom niet", entry.why))
    lines.append(("Doel", entry.purpose))
    if entry.given:  # nothing was shared otherwise: no basis to name
        lines.append(("Grondslag", entry.legal_basis))
    return lines


_NOT_ARRIVED: Final = {
    "parked": "nee: de organisatie heeft het bericht niet aangenomen; het wordt bewaard en kan "
    "later alsnog worden afgeleverd",
    "retrying": "nog niet: het bericht wordt opnieuw aangeboden",
    "pending": "nog niet: het bericht staat klaar om te worden afgeleverd",
}


def _heading(entry: ReportEntry) -> str:
    if entry.given and entry.not_arrived:
        return f"{entry.when_text}: aan {entry.organisation} verstuurd, niet aangekomen"
    if entry.given:
        return f"{entry.when_text}: {entry.organisation} kreeg gegevens over u"
    return f"{entry.when_text}: {entry.organisation} kreeg géén gegevens over u"


def _introduction(report: ResidentReport) -> list[str]:
    made = report.made_at.astimezone(AMSTERDAM)
    return [
        f"Dit overzicht is gemaakt op {made.day} {_MONTHS[made.month - 1]} {made.year}. "
        "Het laat zien welke organisaties via de berichtenvoorziening van het sociaal "
        "domein gegevens over u hebben gekregen, wanneer, waarvoor en op grond waarvan. "
        "Ook staat erin welke gegevens niet zijn gedeeld, en waarom niet.",
        "U kunt in een bericht staan als cliënt, als wettelijk vertegenwoordiger of als lid "
        "van het huishouden. Daarom staat bij persoonsgegevens van wie ze zijn: bent u de "
        "cliënt, dan gaat 'gegevens van de cliënt' over u.",
        f"Aantal keer gegevens gedeeld{_IN_THIS if report.for_review else ''}: "
        f"{sum(e.given and not e.not_arrived for e in report.entries)}. "
        f"Aantal keer gegevens niet gedeeld{_IN_THIS if report.for_review else ''}: "
        f"{sum(not e.given for e in report.entries)}."
        + (
            f" Aantal keer verstuurd maar niet aangekomen: {not_arrived}."
            if (not_arrived := sum(bool(e.not_arrived) for e in report.entries))
            else ""
        ),
    ]


_IN_THIS: Final = " in dit overzicht"


def _nothing(report: ResidentReport) -> str:
    # With records left out (the officer's decision), nothing here is not "nothing shared".
    if report.for_review:
        return "Er staan geen gegevens in dit overzicht."
    return "Er zijn geen gegevens over u gedeeld of tegengehouden."


def render_html(report: ResidentReport) -> str:
    """The report as one HTML page (Dutch, no scripts, no external assets)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="nl"><head><meta charset="utf-8">',
        f"<title>{html.escape(TITLE)}</title>",
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.5}"
        "section{border-top:1px solid #999;padding:.5em 0}dt{font-weight:bold}"
        "dd{margin:0 0 .5em 0}</style></head><body>",
        f"<h1>{html.escape(TITLE)}</h1>",
        *(f"<p>{html.escape(text)}</p>" for text in _introduction(report)),
    ]
    if not report.entries:
        parts.append(f"<p>{html.escape(_nothing(report))}</p>")
    for entry in report.entries:
        parts.append(f"<section><h2>{html.escape(_heading(entry))}</h2><dl>")
        for label, text in _sentences(entry):
            parts.append(f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>")
        parts.append("</dl></section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_pdf(report: ResidentReport) -> bytes:
    """The report as a PDF (A4), with the same text as the HTML page."""
    # Imported here: only this command needs reportlab, the hub's processes never do.
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=TITLE,
        author="Sociaal-domein hub",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
    )
    flow: list[Flowable] = [Paragraph(html.escape(TITLE), styles["Title"])]
    flow += [Paragraph(html.escape(text), styles["BodyText"]) for text in _introduction(report)]
    if not report.entries:
        flow.append(Paragraph(html.escape(_nothing(report)), styles["BodyText"]))
    for entry in report.entries:
        flow.append(Spacer(1, 4 * mm))
        flow.append(Paragraph(html.escape(_heading(entry)), styles["Heading3"]))
        for label, text in _sentences(entry):
            flow.append(
                Paragraph(f"<b>{html.escape(label)}:</b> {html.escape(text)}", styles["BodyText"])
            )
    document.build(flow)
    return buffer.getvalue()
