"""iWmo 3.2 translator: the pure core that reads 302/305/307 and writes 301/306/308.

Nothing here does I/O: the gateway, the provider connector, the outbound delivery and the
``hub iwmo`` command call these functions with the document's bytes and the hub's state.

Inbound: ``read_inbound`` (level 1; raises ``MessageRefused``) gives a ``CareMessage``
(305/307) or an ``AssignmentRetour`` (302). ``answer_care_message`` answers a
``CareMessage`` with the 306/308, its retourcodes, the events of an approval and the
records to store. Outbound: ``render_301`` turns an ``assignments.issued`` into a 301.
``MemoryIwmoState`` implements ``IwmoState`` over the routing state, with the translator's
own records in memory (``hub iwmo``).
"""

from hub.iwmo.checks import RETOURCODE_OF, StateVerdict, check_state
from hub.iwmo.codes import (
    HTTP_STATUS,
    RETOUR_ACCEPTED,
    RETOUR_REJECTED,
    Finding,
    IwmoCode,
    MessageRefused,
    Problem,
)
from hub.iwmo.events import CARE_STARTED, CARE_STOPPED, IWMO_NAMESPACE, care_events, event_id
from hub.iwmo.inbound import CareAnswer, Receipt, ReceiptContext, answer_care_message
from hub.iwmo.memory import KeptAnswer, MemoryIwmoState, SentWmo301
from hub.iwmo.model import (
    AssignmentRetour,
    CareClient,
    CareItem,
    CareMessage,
    Header,
    InboundMessage,
    ProductRef,
)
from hub.iwmo.outbound import (
    DEFAULT_XSD_VERSIE,
    RENDERED_FIELDS,
    AssignedProduct,
    AssignmentRecord,
    Rendering,
    RenderReason,
    disclosed_fields,
    identificatie_301,
    render_301,
)
from hub.iwmo.parsing import (
    DEFAULT_MAX_BYTES,
    INBOUND_KINDS,
    MAX_BYTES_LIMIT,
    claimed_sender,
    ensure_structure,
    parse_document,
    read_inbound,
)
from hub.iwmo.retour import (
    DEFAULT_XSD_VERSIE_RETOUR,
    Retourcodes,
    identificatie_retour,
    render_retour,
)
from hub.iwmo.rules import document_findings
from hub.iwmo.settings import IwmoSettings
from hub.iwmo.state import (
    AssignmentFacts,
    CareDeliveries,
    CareStart,
    CareStop,
    IwmoState,
    UsedIdentificatie,
)
from hub.iwmo.structure import BASIS_NS, MessageKind, message_ns

__all__ = [
    "BASIS_NS",
    "CARE_STARTED",
    "CARE_STOPPED",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_XSD_VERSIE",
    "DEFAULT_XSD_VERSIE_RETOUR",
    "HTTP_STATUS",
    "INBOUND_KINDS",
    "IWMO_NAMESPACE",
    "MAX_BYTES_LIMIT",
    "RENDERED_FIELDS",
    "RETOURCODE_OF",
    "RETOUR_ACCEPTED",
    "RETOUR_REJECTED",
    "AssignedProduct",
    "AssignmentFacts",
    "AssignmentRecord",
    "AssignmentRetour",
    "CareAnswer",
    "CareClient",
    "CareDeliveries",
    "CareItem",
    "CareMessage",
    "CareStart",
    "CareStop",
    "Finding",
    "Header",
    "InboundMessage",
    "IwmoCode",
    "IwmoSettings",
    "IwmoState",
    "KeptAnswer",
    "MemoryIwmoState",
    "MessageKind",
    "MessageRefused",
    "Problem",
    "ProductRef",
    "Receipt",
    "ReceiptContext",
    "RenderReason",
    "Rendering",
    "Retourcodes",
    "SentWmo301",
    "StateVerdict",
    "UsedIdentificatie",
    "answer_care_message",
    "care_events",
    "check_state",
    "claimed_sender",
    "disclosed_fields",
    "document_findings",
    "ensure_structure",
    "event_id",
    "identificatie_301",
    "identificatie_retour",
    "message_ns",
    "parse_document",
    "read_inbound",
    "render_301",
    "render_retour",
]
