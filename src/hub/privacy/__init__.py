"""Privacy per recipient: the table as configuration, projection (deny by default), pseudonyms."""

from hub.privacy.policy import (
    DEFAULT_POLICY_PATH,
    InvariantViolation,
    LegalBasis,
    PrivacyPolicy,
    RecipientKind,
    Route,
    assert_may_receive,
    compile_policy,
    load_policy,
    protection_of,
)
from hub.privacy.project import Projected, Projection, compile_projection, project
from hub.privacy.pseudonym import (
    DEFAULT_KEY_ID,
    DEMO_PSEUDONYM_SECRET,
    Pseudonymiser,
    pseudonyms_of,
)

__all__ = [
    "DEFAULT_KEY_ID",
    "DEFAULT_POLICY_PATH",
    "DEMO_PSEUDONYM_SECRET",
    "InvariantViolation",
    "LegalBasis",
    "PrivacyPolicy",
    "Projected",
    "Projection",
    "Pseudonymiser",
    "RecipientKind",
    "Route",
    "assert_may_receive",
    "compile_policy",
    "compile_projection",
    "load_policy",
    "project",
    "protection_of",
    "pseudonyms_of",
]
