"""Who is calling: a partner identified by an API key or by a verified client certificate.

Rules, so that a partner can reason about them and an attacker learns nothing:

- An API key arrives as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. It is
  hashed with SHA-256 and compared with every registered digest of every partner in
  constant time (``hmac.compare_digest``, no early exit), so the time taken does not tell
  how close a guess was. Several digests per partner allow key rotation.
- A client certificate counts when the TLS handshake verified it and its subject is one of
  a partner's ``mtls_subjects`` (compared as in ``hub.gateway.tls.parse_dn``).
- Every key presented must be valid; when a key and a registered certificate are both
  presented they must name the same partner. A verified but unregistered certificate is
  ignored when a valid key comes with it (an organisation certificate used for TLS only).
- Anything else is 401 with one answer for every case: no hint which part was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

from starlette.requests import HTTPConnection

from hub.connectors.registry import Partner, PartnerRegistry
from hub.gateway.problems import Problem, ProblemCode, ProblemError
from hub.gateway.tls import client_cert_name, parse_dn

__all__ = ["Authenticator", "Presented", "api_key_digest", "presented_credentials"]

_BEARER: Final = "bearer"


@dataclass(frozen=True, slots=True)
class Presented:
    """What a request offers as proof of identity. Holds a secret: never log or return it."""

    api_keys: tuple[str, ...] = ()
    malformed: bool = False
    cert_subject: str | None = None

    def __repr__(self) -> str:
        return f"Presented(keys={len(self.api_keys)}, cert={self.cert_subject is not None})"


def presented_credentials(connection: HTTPConnection) -> Presented:
    """Read the API key headers and the verified certificate subject of one request."""
    keys: list[str] = []
    malformed = False
    for value in connection.headers.getlist("authorization"):
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        if scheme.lower() == _BEARER and token:
            keys.append(token)
        else:
            malformed = True  # another scheme (Basic, ...) is a credential we cannot accept
    for value in connection.headers.getlist("x-api-key"):
        if value.strip():
            keys.append(value.strip())
        else:
            malformed = True
    return Presented(
        api_keys=tuple(keys), malformed=malformed, cert_subject=client_cert_name(connection.scope)
    )


class Authenticator:
    """Maps presented credentials to the registered partner, or refuses (401)."""

    def __init__(self, registry: PartnerRegistry) -> None:
        self._digests: list[tuple[bytes, Partner]] = [
            (digest.strip().lower().encode("utf-8"), partner)
            for partner in registry
            for digest in partner.credentials.api_key_sha256
        ]
        self._subjects: dict[tuple[tuple[str, str], ...], Partner] = {}
        for partner in registry:
            for subject in partner.credentials.mtls_subjects:
                parsed = parse_dn(subject)
                if parsed is not None:
                    self._subjects[parsed] = partner

    def identify(self, presented: Presented) -> Partner | None:
        """The partner these credentials prove, or None (see the module docstring for the rules)."""
        if presented.malformed:
            return None
        by_key: Partner | None = None
        for key in presented.api_keys:
            partner = self._by_key(key)
            if partner is None or (by_key is not None and partner.id != by_key.id):
                return None
            by_key = partner
        by_cert: Partner | None = None
        if presented.cert_subject is not None:
            parsed = parse_dn(presented.cert_subject)
            by_cert = None if parsed is None else self._subjects.get(parsed)
        if by_key is not None and by_cert is not None and by_key.id != by_cert.id:
            return None
        return by_key or by_cert

    def authenticate(self, connection: HTTPConnection) -> Partner:
        """The calling partner; raises ProblemError(401) when the request does not prove one."""
        partner = self.identify(presented_credentials(connection))
        if partner is None:
            raise ProblemError(
                Problem(
                    401,
                    ProblemCode.UNAUTHENTICATED.value,
                    headers={"WWW-Authenticate": 'Bearer realm="sociaaldomein-hub"'},
                )
            )
        return partner

    def _by_key(self, key: str) -> Partner | None:
        digest = api_key_digest(key).encode("ascii")
        found: Partner | None = None
        for registered, partner in self._digests:
            # No early exit: every digest is compared whatever matched before.
            if hmac.compare_digest(digest, registered):
                found = partner
        return found


def api_key_digest(key: str) -> str:
    """The registry form of an API key (``credentials.api_key_sha256``): SHA-256, lower-case hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
