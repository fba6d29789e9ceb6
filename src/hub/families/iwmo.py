"""iWmo 3.2 for providers that ask for it: the 301 renderer and the state it keeps.

A provider with ``iwmo: true`` in the registry gets a translatable ``assignments.issued``
as a WMO301 (spec iwmo.md sections 1, 6 and 8) instead of its JSON view, on its usual
channel: the provider connector lists ``WMO301`` among its renderers and ``IWMO`` among
its families. The renderer reads only the provider's projected view; the 301's
ToegewezenProducten add the client's other assignments at that provider from the records
kept when their 301s were sent (``hub.iwmo.kept``), which it writes in the event's own
transaction. The retention of those records follows their assignments.

Not translated (``not-wmo``, ``taakgericht``): the delivery stays JSON. A 301 that fails
the structure or CS338 (``not-renderable``) is not sent: withheld with reason
``IWMO_NOT_RENDERABLE``, and the pipeline alerts (``delivery_not_rendered``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Final

from hub.connectors.family import Family, StateKind
from hub.connectors.protocol import AsJson, Rendered, Renderer, Unrenderable
from hub.envelope import AMSTERDAM
from hub.families.state import assignment_key
from hub.iwmo.kept import (
    ASSIGNMENT_RECORD_PREFIX,
    CLIENT_INDEX_PREFIX,
    SENT_301_PREFIX,
    Sent301,
    assignment_record_key,
    client_index_key,
    client_numbers,
    kept_record,
)
from hub.iwmo.outbound import (
    OPTIONAL_IN_301,
    RENDERED_FIELDS,
    disclosed_fields,
    identificatie_301,
    render_301,
)
from hub.iwmo.settings import IwmoSettings
from hub.privacy.pseudonym import pseudonyms_of
from hub.routing.render import RenderInput
from hub.routing.retention import older
from hub.state.store import StateView

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.settings import HubSettings

__all__ = ["IWMO", "NOT_RENDERABLE", "WMO301", "render_wmo301"]

FORMAT: Final = "iwmo"
XML: Final = "application/xml"
NOT_RENDERABLE: Final = "IWMO_NOT_RENDERABLE"
"""The withheld reason of a 301 that cannot be rendered (disclosure record, alert)."""


def render_wmo301(
    request: RenderInput, settings: IwmoSettings
) -> Rendered | AsJson | Unrenderable | None:
    """The 301 for one provider's view of an ``assignments.issued``; None: it stays JSON."""
    # A plain JSON copy: the renderer takes the structured form a partner would read.
    data: dict[str, Any] = json.loads(json.dumps(request.view))
    event = {
        "id": request.event_id,
        "source": request.source,
        "type": request.type,
        "time": request.time.isoformat(),
        "subject": request.subject,
        "data": data,
    }
    if data.get("law") != "wmo" or data.get("variant") not in _TRANSLATED:
        # Not translatable (section 6: not-wmo, taakgericht), or the view does not say
        # (its row leaves out law or variant): the delivery stays JSON, and a kept record
        # of an earlier 301 goes, so no later 301 lists the assignment.
        return _untranslated(request, data)
    if _needs_withheld(request.withheld, data):
        # The privacy table left out a field a 301 holds (iwmo.md, section 6): a 301 without
        # it would say something else (a withdrawal's end, a product without its code).
        return Unrenderable(NOT_RENDERABLE)
    client_bsn = (data.get("client") or {}).get("bsn")
    provider_agb = data.get("provider_agb")
    if not (isinstance(client_bsn, str) and provider_agb):
        return Unrenderable(NOT_RENDERABLE)  # a view without its client or provider
    numbers: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    earlier: list[str] = []
    others = []
    if isinstance(client_bsn, str) and isinstance(provider_agb, str):
        clients = pseudonyms_of(request.pseudonymise, client_bsn)
        numbers = client_numbers(request.state, provider_agb, clients[0])
        # After a pseudonym key rotation the client's index may be under an earlier key's
        # pseudonym: it is read too, and the index written below under the current key
        # takes its numbers over (the earlier entry is removed: re-keyed as it is touched).
        for old in clients[1:]:
            found = client_numbers(request.state, provider_agb, old)
            if found:
                earlier.append(client_index_key(provider_agb, old))
                numbers = tuple(dict.fromkeys((*numbers, *found)))
        # The kept records, of assignments the routing state still has and not withdrawn
        # (a withdrawal whose own 301 was not sent left its record as it was).
        others = [
            record
            for n in numbers
            if (record := kept_record(request.state, n)) is not None
            and (live := request.state.get(assignment_key(n))) is not None
            and live.get("status") != "withdrawn"
        ]
    rendering = render_301(
        event,
        others=others,
        gemeentecode=settings.gemeentecode,
        pseudonymise=request.pseudonymise,
        xsd_versie=settings.xsd_versie,
    )
    if rendering.reason in ("not-wmo", "taakgericht"):
        return _untranslated(request, data)
    if rendering.wmo301 is None or rendering.record is None:
        return Unrenderable(NOT_RENDERABLE)
    record = rendering.record
    # The numbers the 301 lists, as render_301 chose them (OP087): the event's own first.
    dagtekening = request.time.astimezone(AMSTERDAM).date()
    listed = [
        other.number
        for other in others
        if other.client in clients
        and other.provider_agb == record.provider_agb
        and not other.withdrawn
        and other.product.number != record.product.number
        and other.period_end >= dagtekening
    ]
    sent = Sent301(
        gemeentecode=settings.gemeentecode,
        provider_agb=record.provider_agb,
        identificatie=identificatie_301(request.source, request.event_id),
        numbers=(record.number, *sorted(listed, key=int)),
        event_source=request.source,
        event_id=request.event_id,
        delivery_id=request.delivery_id,
        disclosure_id=request.disclosure_id,
        sent_on=request.received_on,
    )
    received_on = request.received_on
    changes: dict[str, Mapping[str, Any] | None] = {
        assignment_record_key(record.number): {**record.as_json(), "received_on": received_on},
        client_index_key(record.provider_agb, record.client): {
            "numbers": sorted({*numbers, record.number}),
            "received_on": received_on,
        },
        sent.key: sent.as_json(),
    }
    changes.update(dict.fromkeys(earlier))
    return Rendered(
        data=rendering.wmo301.decode("utf-8"),
        content_type=XML,
        fields=tuple(disclosed_fields(data)),
        state_changes=changes,
    )


_TRANSLATED = frozenset({"inspanningsgericht", "outputgericht"})  # section 6: else JSON
_NEEDED_IN_301 = tuple(field for field in RENDERED_FIELDS if field not in OPTIONAL_IN_301)


def _untranslated(request: RenderInput, data: Mapping[str, Any]) -> AsJson | None:
    """Stays JSON; a kept record of an earlier 301 goes, so no later 301 lists it (section 6)."""
    number = data.get("assignment_number")
    if isinstance(number, str) and kept_record(request.state, number) is not None:
        return AsJson({assignment_record_key(number): None})
    return None


def _needs_withheld(withheld: tuple[str, ...], data: Mapping[str, Any]) -> bool:
    """True when a withheld path is, holds or lies within a field a 301 cannot go without."""
    needed_fields = _NEEDED_IN_301
    if "budget_cents" in (data.get("scope") or {}):
        # A budget's product goes without its code (CD041): leaving it out changes nothing.
        needed_fields = tuple(f for f in needed_fields if f != "product.code")
    for path in withheld:
        bare = re.sub(r"\[\d+\]", "", path)
        for needed in needed_fields:
            if bare == needed or needed.startswith(bare + ".") or bare.startswith(needed + "."):
                return True
    return False


def _bind(
    settings: HubSettings,
) -> Callable[[RenderInput], Rendered | AsJson | Unrenderable | None]:
    """The renderer with the hub's ``iwmo`` settings section (gemeentecode, XsdVersie)."""
    section = settings.iwmo

    def render(request: RenderInput) -> Rendered | AsJson | Unrenderable | None:
        return render_wmo301(request, section)

    return render


WMO301: Final = Renderer(
    format=FORMAT,
    types=("assignments.issued",),
    bind=_bind,
    description="A translatable assignments.issued as an iWmo 3.2 WMO301 (docs/iwmo.md).",
    content_type=XML,
)
"""The provider connector's renderer of the iwmo format."""


def _with_assignments(
    numbers: Iterable[str], state: StateView, today: date, retention: timedelta
) -> bool:
    # Kept as long as one of its assignments is: the retention after that one ended.
    for number in numbers:
        assignment = state.get(assignment_key(number))
        if assignment is not None and not older(assignment.get("ended_on"), today, retention):
            return False
    return True


def _record_expired(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired with its assignment: the retention after it ended, or the assignment is gone."""
    return _with_assignments((ident,), state, today, retention)


def _listing_expired(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired with the last of the assignments it lists."""
    numbers = value.get("numbers")
    listed = [str(n) for n in numbers] if isinstance(numbers, list) else []
    return _with_assignments(listed, state, today, retention)


IWMO: Final = Family(
    name="iwmo",
    description="iWmo 3.2: what the hub keeps per 301 sent (no rules; the 301 renderer's state).",
    state=(
        StateKind(
            ASSIGNMENT_RECORD_PREFIX,
            "An assignment's last 301 product, provider and client pseudonym (iWmo OP087).",
            _record_expired,
        ),
        StateKind(
            CLIENT_INDEX_PREFIX,
            "A client's assignments with a 301 sent to a provider (key: a digest).",
            _listing_expired,
        ),
        StateKind(
            SENT_301_PREFIX,
            "A 301 sent: the numbers it lists, its event, delivery and date (302 matching).",
            _listing_expired,
        ),
    ),
)
"""The iwmo family: no types of its own, only the state the 301 renderer keeps."""
