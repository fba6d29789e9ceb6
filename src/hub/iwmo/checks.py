"""Levels 3-4: a 305/307 against the hub's state (spec iwmo.md section 5).

The Header is checked first (9056, 8848, S300). Then each StartProduct/StopProduct in
document order, against the state as changed by the items before it (IV008: a delete and
its replacement may travel together). An item that fails changes nothing. A class gets the
first failing rule in table order; StatusAanlevering 3 is checked only for 9063 and 9071.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from hub.iwmo.codes import Finding, IwmoCode
from hub.iwmo.model import CareItem, CareMessage, ProductRef
from hub.iwmo.state import AssignmentFacts, CareDeliveries, CareStart, CareStop, IwmoState
from hub.privacy.pseudonym import pseudonyms_of
from hub.schemas import TEMPORARY_STOP

__all__ = ["RETOURCODE_OF", "StateVerdict", "check_state"]

RETOURCODE_OF: dict[IwmoCode, str] = {
    IwmoCode.IDENTIFICATIE_USED: "9056",
    IwmoCode.DAGTEKENING_IN_FUTURE: "8848",
    IwmoCode.RECEIVER_UNKNOWN: "S300",
    IwmoCode.ASSIGNMENT_UNKNOWN: "9019",
    IwmoCode.ASSIGNMENT_WITHDRAWN: "9019",
    IwmoCode.PRODUCT_MISMATCH: "9019",
    IwmoCode.CATEGORY_LAW_MISMATCH: "9019",
    IwmoCode.DATE_OUTSIDE_PERIOD: "9019",
    IwmoCode.CARE_ALREADY_STARTED: "9074",
    IwmoCode.OTHER_CARE_CURRENT: "9326",
    IwmoCode.CARE_NOT_STARTED: "9069",
    IwmoCode.CARE_ALREADY_STOPPED: "9074",
    IwmoCode.CARE_STOPPED_OTHERWISE: "9415",
    IwmoCode.DELETE_WITHOUT_NEW: "9063",
    IwmoCode.START_HAS_STOP: "9071",
}
"""The iWmo retourcode of each level 3-4 code."""


@dataclass(frozen=True, slots=True)
class StateVerdict:
    """What levels 3-4 found, and what an approval would store."""

    header: Finding | None
    """The Header's failing rule; when set no item was checked."""
    items: dict[int, Finding]
    """Position (1-based) -> the item's failing rule."""
    matched: dict[int, AssignmentFacts] = field(repr=False)
    """Position -> the assignment each passing item matched (for its event)."""
    deliveries: dict[str, CareDeliveries] = field(repr=False)
    """Assignment number -> its care record after every passing item."""

    @property
    def approved(self) -> bool:
        """True when no rule failed."""
        return self.header is None and not self.items

    @property
    def findings(self) -> list[Finding]:
        """Every failure, Header first, then items in document order."""
        if self.header is not None:
            return [self.header]
        return [self.items[position] for position in sorted(self.items)]


def _finding(code: IwmoCode, path: str) -> Finding:
    return Finding(code, path, RETOURCODE_OF[code])


def check_state(
    message: CareMessage,
    state: IwmoState,
    *,
    today: date,
    gemeentecode: str,
    pseudonymise: Callable[[str], str],
) -> StateVerdict:
    """Check ``message`` against ``state``; ``today`` is the processing date (Europe/Amsterdam)."""
    header = message.header
    used = state.used_identificatie(header.afzender, header.kind.bericht_code, header.identificatie)
    fault: Finding | None = None
    # The same bytes are a replay only while their retour is kept (answered before this
    # check); once it is gone the Identificatie is still used (TR056).
    if used is not None and (used.digest != message.digest or used.retour is None):
        fault = _finding(
            IwmoCode.IDENTIFICATIE_USED, "/Bericht/Header/BerichtIdentificatie/Identificatie"
        )
    elif header.dagtekening > today:
        fault = _finding(
            IwmoCode.DAGTEKENING_IN_FUTURE, "/Bericht/Header/BerichtIdentificatie/Dagtekening"
        )
    elif header.ontvanger != gemeentecode:
        fault = _finding(IwmoCode.RECEIVER_UNKNOWN, "/Bericht/Header/Ontvanger")
    if fault is not None:
        return StateVerdict(fault, {}, {}, {})
    run = _Run(message, state, pseudonyms_of(pseudonymise, message.client.bsn))
    items: dict[int, Finding] = {}
    for item in message.items:
        failed = run.check(item)
        if failed is not None:
            items[item.position] = failed
    return StateVerdict(None, items, run.matched, run.deliveries)


def _same_product(sent: ProductRef, start: CareStart, *, budget: bool) -> bool:
    """Whether a start has the product sent (its logical key's Product, docs/iwmo.md).

    Compared as sent, except for a budget assignment: its 301 carries no Product Code
    (section 6), so a provider names it by category alone while a start reported with a
    JSON `care.started` holds the assignment's code; without a code on either side, the
    category is the product (as 9019 takes it).
    """
    if sent.category != start["category"]:
        return False
    return sent.code == start["code"] or (budget and (sent.code is None or start["code"] is None))


class _Run:
    """One message's item checks, with the care records as the earlier items changed them."""

    def __init__(self, message: CareMessage, state: IwmoState, clients: tuple[str, ...]) -> None:
        self.message = message
        self.state = state
        # New records get the current key's pseudonym; earlier records may hold an earlier
        # key's, so a match under any configured key is the same client.
        self.client = clients[0]
        self.clients = frozenset(clients)
        self.matched: dict[int, AssignmentFacts] = {}
        self.deliveries: dict[str, CareDeliveries] = {}

    def _record(self, facts: AssignmentFacts) -> CareDeliveries:
        if facts.number not in self.deliveries:
            # A copy: the caller's record changes only when it stores an approved result.
            self.deliveries[facts.number] = copy.deepcopy(self.state.deliveries(facts.number))
        return self.deliveries[facts.number]

    def _own_assignment(self, item: CareItem) -> AssignmentFacts | None:
        if item.assignment_number is None:
            return None
        facts = self.state.assignment(item.assignment_number)
        if facts is None or facts.provider_agb != self.message.header.afzender:
            return None  # another provider's number answers as an unknown one
        return facts

    def _current_start(
        self, record: CareDeliveries, item: CareItem, facts: AssignmentFacts
    ) -> CareStart | None:
        assert item.product is not None
        for start in record["starts"]:
            if (
                not start["deleted"]
                and start["client"] in self.clients
                and _same_product(item.product, start, budget=facts.budget)
                and start["begin"] == item.begin.isoformat()
            ):
                return start
        return None

    def check(self, item: CareItem) -> Finding | None:
        """The item's failing rule, or None after applying it to the care record."""
        if item.status == "3":
            return self._check_delete(item)
        facts, fault = self._match(item)
        if fault is not None:
            return fault
        assert facts is not None
        assert item.product is not None
        record = self._record(facts)
        start = self._current_start(record, item, facts)
        if self.message.is_start:
            if start is not None:
                return _finding(IwmoCode.CARE_ALREADY_STARTED, item.path)
            if any(not s["deleted"] and not _current_stops(s) for s in record["starts"]):
                return _finding(IwmoCode.OTHER_CARE_CURRENT, item.path)
            record["starts"].append(
                CareStart(
                    client=self.client,
                    category=item.product.category,
                    code=item.product.code,
                    begin=item.begin.isoformat(),
                    deleted=False,
                    stops=[],
                )
            )
        else:
            assert item.end is not None
            assert item.reason is not None
            if start is None:
                return _finding(IwmoCode.CARE_NOT_STARTED, item.path)
            stops = _current_stops(start)
            if any(_same_stop(stop, item) for stop in stops):
                return _finding(IwmoCode.CARE_ALREADY_STOPPED, item.path)
            if any(stop["reason"] != TEMPORARY_STOP for stop in stops):
                return _finding(IwmoCode.CARE_STOPPED_OTHERWISE, item.path)
            start["stops"].append(
                CareStop(end=item.end.isoformat(), reason=item.reason, deleted=False)
            )
        self.matched[item.position] = facts
        return None

    def _match(self, item: CareItem) -> tuple[AssignmentFacts | None, Finding | None]:
        """TR019 (9019) and the hub's reasons for it, in the order docs/iwmo.md lists."""
        number_path = f"{item.path}/ToewijzingNummer"
        facts = self._own_assignment(item)
        if facts is None:
            return None, _finding(IwmoCode.ASSIGNMENT_UNKNOWN, number_path)
        if facts.status == "withdrawn":
            return None, _finding(IwmoCode.ASSIGNMENT_WITHDRAWN, number_path)
        if item.product is None:
            return None, _finding(IwmoCode.PRODUCT_MISMATCH, f"{item.path}/Product")
        if facts.law != "wmo":  # before the Bsn, as iwmo.md (section 5, 9019) lists them
            return None, _finding(IwmoCode.CATEGORY_LAW_MISMATCH, f"{item.path}/Product/Categorie")
        if self.clients.isdisjoint(facts.clients):
            return None, _finding(IwmoCode.ASSIGNMENT_UNKNOWN, "/Bericht/Client/Bsn")
        if item.product.code is None and facts.budget:
            same = item.product.category == facts.product.category
        else:
            same = item.product == facts.product
        if not same:
            return None, _finding(IwmoCode.PRODUCT_MISMATCH, f"{item.path}/Product")
        if item.assignment_start is not None and item.assignment_start != facts.period_start:
            return None, _finding(
                IwmoCode.DATE_OUTSIDE_PERIOD, f"{item.path}/ToewijzingIngangsdatum"
            )
        day, name = (item.begin, "Begindatum") if item.end is None else (item.end, "Einddatum")
        if day < facts.period_start or (facts.period_end is not None and day > facts.period_end):
            return None, _finding(IwmoCode.DATE_OUTSIDE_PERIOD, f"{item.path}/{name}")
        return facts, None

    def _check_delete(self, item: CareItem) -> Finding | None:
        """StatusAanlevering 3: 9063 (no current delivery with this key), then 9071."""
        facts = self._own_assignment(item)
        if facts is None or item.product is None:
            return _finding(IwmoCode.DELETE_WITHOUT_NEW, item.path)
        start = self._current_start(self._record(facts), item, facts)
        if start is None:
            return _finding(IwmoCode.DELETE_WITHOUT_NEW, item.path)
        stops = _current_stops(start)
        if self.message.is_start:
            if stops:
                return _finding(IwmoCode.START_HAS_STOP, item.path)
            start["deleted"] = True
        else:
            stop = next((stop for stop in stops if _same_stop(stop, item)), None)
            if stop is None:
                return _finding(IwmoCode.DELETE_WITHOUT_NEW, item.path)
            stop["deleted"] = True
        self.matched[item.position] = facts
        return None


def _current_stops(start: CareStart) -> list[CareStop]:
    return [stop for stop in start["stops"] if not stop["deleted"]]


def _same_stop(stop: CareStop, item: CareItem) -> bool:
    assert item.end is not None
    return stop["end"] == item.end.isoformat() and stop["reason"] == item.reason
