"""The translator's stable codes, retourcodes and the level-1 problem a partner receives.

Level 1 (unprocessable) answers with a problem ``{code, path}`` and no retour; levels 2-4
answer with a retour whose RetourCodes are iWmo's, and report each failure as
``{code, path, retourcode}``. A path is an element location such as
``/Bericht/Client/StartProducten/StartProduct[2]/Begindatum``: never a value, never a
parser's message (parsers quote the input).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.errors import HubError

__all__ = [
    "HTTP_STATUS",
    "RETOUR_ACCEPTED",
    "RETOUR_REJECTED",
    "Finding",
    "IwmoCode",
    "MessageRefused",
    "Problem",
]

RETOUR_REJECTED = "0001"
"""The retourcode of a message refused at level 2 (a rule inside the document)."""

RETOUR_ACCEPTED = "0200"
"""The retourcode of a class with nothing wrong (in a retour that rejects another class)."""


class IwmoCode(StrEnum):
    """Codes of the translator; docs/iwmo.md gives the rule and retourcode behind each."""

    # Level 1: unprocessable, no retour (spec iwmo.md section 3)
    XML_TOO_LARGE = "XML_TOO_LARGE"
    XML_FORBIDDEN = "XML_FORBIDDEN"
    XML_MALFORMED = "XML_MALFORMED"
    MESSAGE_UNSUPPORTED = "MESSAGE_UNSUPPORTED"
    XSD_INVALID = "XSD_INVALID"
    AGB_NOT_SENDER = "AGB_NOT_SENDER"
    RETOUR_UNMATCHED = "RETOUR_UNMATCHED"

    # Level 2: rules inside the document, retour Header-only with 0001
    BSN_INVALID = "BSN_INVALID"  # CS002
    STATUS_NOT_ALLOWED = "STATUS_NOT_ALLOWED"  # CS058
    STOP_BEFORE_START = "STOP_BEFORE_START"  # TR018
    DATE_AFTER_DAGTEKENING = "DATE_AFTER_DAGTEKENING"  # TR134
    BIRTH_DATE_TOO_EARLY = "BIRTH_DATE_TOO_EARLY"  # TR002
    DATE_USE_MISMATCH = "DATE_USE_MISMATCH"  # CS139
    KEY_REPEATED = "KEY_REPEATED"  # TR101

    # Levels 3-4: header
    IDENTIFICATIE_USED = "IDENTIFICATIE_USED"  # 9056, TR056
    DAGTEKENING_IN_FUTURE = "DAGTEKENING_IN_FUTURE"  # 8848, TR135
    RECEIVER_UNKNOWN = "RECEIVER_UNKNOWN"  # S300
    # Levels 3-4: products (9019 has five hub codes, as in the JSON contract)
    ASSIGNMENT_UNKNOWN = "ASSIGNMENT_UNKNOWN"
    ASSIGNMENT_WITHDRAWN = "ASSIGNMENT_WITHDRAWN"
    PRODUCT_MISMATCH = "PRODUCT_MISMATCH"
    CATEGORY_LAW_MISMATCH = "CATEGORY_LAW_MISMATCH"
    DATE_OUTSIDE_PERIOD = "DATE_OUTSIDE_PERIOD"
    CARE_ALREADY_STARTED = "CARE_ALREADY_STARTED"  # 9074 on a start, TR074
    OTHER_CARE_CURRENT = "OTHER_CARE_CURRENT"  # 9326, TR326
    CARE_NOT_STARTED = "CARE_NOT_STARTED"  # 9069, TR382
    CARE_ALREADY_STOPPED = "CARE_ALREADY_STOPPED"  # 9074 on a stop
    CARE_STOPPED_OTHERWISE = "CARE_STOPPED_OTHERWISE"  # 9415
    DELETE_WITHOUT_NEW = "DELETE_WITHOUT_NEW"  # 9063, TR063
    START_HAS_STOP = "START_HAS_STOP"  # 9071, TR071


HTTP_STATUS: dict[IwmoCode, int] = {
    IwmoCode.XML_TOO_LARGE: 413,
    IwmoCode.XML_FORBIDDEN: 400,
    IwmoCode.XML_MALFORMED: 400,
    IwmoCode.MESSAGE_UNSUPPORTED: 422,
    IwmoCode.XSD_INVALID: 422,
    IwmoCode.AGB_NOT_SENDER: 403,
    IwmoCode.RETOUR_UNMATCHED: 422,
}
"""The HTTP status of each level-1 code (spec iwmo.md sections 3 and 7)."""

_SENTENCES: dict[IwmoCode, str] = {
    IwmoCode.XML_TOO_LARGE: "The document is larger than this hub accepts.",
    IwmoCode.XML_FORBIDDEN: "The document holds a DOCTYPE, an entity or an external reference.",
    IwmoCode.XML_MALFORMED: "The document is not well-formed UTF-8 XML.",
    IwmoCode.MESSAGE_UNSUPPORTED: "The root is not a Bericht of iWmo 3.2 302, 305 or 307.",
    IwmoCode.XSD_INVALID: "The element at this path breaks the iWmo 3.2 message structure.",
    IwmoCode.AGB_NOT_SENDER: "The AGB at this path is not the authenticated sender's.",
    IwmoCode.RETOUR_UNMATCHED: "This retour names no 301 the hub sent to the sender.",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """A level-1 refusal: a code and the element location; the gateway answers problem+json."""

    code: IwmoCode
    path: str

    @property
    def status(self) -> int:
        """The HTTP status for this code."""
        return HTTP_STATUS[self.code]

    @property
    def message(self) -> str:
        """One sentence about the code; it names no value."""
        return _SENTENCES[self.code]

    def as_dict(self) -> dict[str, str]:
        """The problem's ``{code, path}``."""
        return {"code": self.code.value, "path": self.path}

    def as_error(self) -> dict[str, str | None]:
        """The ``{code, path, retourcode}`` form of ``hub iwmo inbound`` (no retourcode at level 1)."""
        return {"code": self.code.value, "path": self.path, "retourcode": None}


class MessageRefused(HubError):
    """A document is unprocessable (level 1): no retour, a problem with a code and a path."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(f"iWmo document refused: {problem.code.value} at {problem.path}")


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that failed at level 2, 3 or 4: a code, the element location, its retourcode."""

    code: IwmoCode
    path: str
    retourcode: str

    def as_dict(self) -> dict[str, str]:
        """The ``{code, path, retourcode}`` form of ``hub iwmo inbound``'s ``errors``."""
        return {"code": self.code.value, "path": self.path, "retourcode": self.retourcode}
