"""The provisions family: the team's request for a provision, the back office's decision.

State: ``provision-request:<request_id>`` (its case, law and subjects) and
``decision:<decision_id>`` (the request it answers). A decision is routed under the law
of its request. ``check_category`` (a product category belongs to its law) is shared
with the care family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.connectors.family import Family, StateKind
from hub.errors import ErrorCode
from hub.families import state as s
from hub.families.retention import with_case
from hub.routing.rules import RuleInput
from hub.schemas import LAW_CATEGORIES

__all__ = ["PROVISIONS", "check_category"]


def _requested(item: RuleInput) -> None:
    key = s.request_key(item.data["request_id"])
    if not item.is_new(
        key, "data.request_id", "A provision request with this request_id was already submitted."
    ):
        return
    request = s.ProvisionRequestState(
        case_id=item.data["case_id"], law=item.data["law"], subjects=sorted(item.own_subjects())
    )
    item.put(key, item.stamp(request))
    s.note_on_case(item, request["case_id"], request["subjects"], request["law"])


def _decided(item: RuleInput) -> None:
    request_id = item.data["request_id"]
    request = s.provision_request(item, request_id)
    if request is None:
        item.unroutable("data.request_id", "No provision request with this request_id is known.")
        return
    law = request.get("law")
    item.facts.law = law
    item.facts.subjects |= set(request.get("subjects", ()))
    product = item.data.get("product")
    if isinstance(law, str) and product is not None:
        check_category(item, law, product)
    decision = s.DecisionState(request_id=request_id)
    item.put(s.decision_key(item.data["decision_id"]), item.stamp(decision))


def check_category(item: RuleInput, law: str, product: Mapping[str, Any]) -> None:
    """Reject the event when the product's category does not belong to ``law``."""
    if product.get("category") not in LAW_CATEGORIES.get(law, frozenset()):
        item.reject(
            "data.product.category",
            ErrorCode.CATEGORY_LAW_MISMATCH,
            "The product category does not belong to the law of the request or assignment "
            "(Wmo 01-18, Jeugdwet 40-55, Participatiewet P1-P9).",
        )


PROVISIONS = Family(
    name="provisions",
    description="The team's provision requests and the back office's decisions on them.",
    rules={
        "provisions.requested": _requested,
        "provisions.decided": _decided,
    },
    state=(
        StateKind(
            "provision-request",
            "A provision request of the team: its case, law and subjects.",
            with_case,
        ),
        StateKind("decision", "A back-office decision: the request it answers.", with_case),
    ),
)
