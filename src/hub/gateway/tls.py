"""The verified client certificate of a TLS connection, handed to the app as the ASGI TLS extension.

uvicorn 0.54 checks client certificates (``ssl_cert_reqs``, ``ssl_ca_certs``) but puts
nothing about them into the ASGI scope. ``TLSExtensionProtocol`` is uvicorn's h11
protocol that, once per connection, reads the peer certificate from the transport's
``ssl_object`` and adds ``scope["extensions"]["tls"]`` as the ASGI spec describes it
(``client_cert_name`` as an RFC 4514 string, ``client_cert_chain`` in PEM). The app reads
only the scope, so it works unchanged under any server that provides the extension, and
nothing a client sends in a header can pose as a certificate.

A certificate appears here only when the TLS handshake verified it against the configured
client CA: ``getpeercert()`` returns nothing for an unverified peer.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "TLSExtensionProtocol",
    "client_cert_name",
    "format_rfc4514",
    "parse_dn",
    "tls_extension",
]

# OpenSSL long names (as getpeercert() reports them) -> RFC 4514 / common short names.
_SHORT_NAMES: Final[Mapping[str, str]] = {
    "commonname": "CN",
    "countryname": "C",
    "localityname": "L",
    "stateorprovincename": "ST",
    "streetaddress": "STREET",
    "organizationname": "O",
    "organizationalunitname": "OU",
    "domaincomponent": "DC",
    "userid": "UID",
    "serialnumber": "SERIALNUMBER",
    "emailaddress": "EMAILADDRESS",
    "organizationidentifier": "ORGANIZATIONIDENTIFIER",
    "givenname": "GIVENNAME",
    "surname": "SN",
    "title": "TITLE",
}
_TLS_VERSIONS: Final[Mapping[str, int]] = {
    "TLSv1": 0x0301,
    "TLSv1.1": 0x0302,
    "TLSv1.2": 0x0303,
    "TLSv1.3": 0x0304,
}
_SPECIAL: Final = frozenset(',+"\\<>;=')


def _short(attribute: str) -> str:
    name = attribute.strip()
    return _SHORT_NAMES.get(name.lower(), name.upper())


def _escape(value: str) -> str:
    escaped = "".join("\\" + ch if ch in _SPECIAL else ch for ch in value)
    if escaped.startswith((" ", "#")):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def format_rfc4514(subject: Sequence[Sequence[tuple[str, str]]]) -> str:
    """Render a subject as ``ssl.getpeercert()`` gives it as an RFC 4514 string (last RDN first)."""
    rdns = ["+".join(f"{_short(k)}={_escape(v)}" for k, v in rdn) for rdn in subject]
    return ",".join(reversed(rdns))


def parse_dn(text: str) -> tuple[tuple[str, str], ...] | None:
    """The attributes of a distinguished name, canonical and in sorted order; None if unreadable.

    Accepts RFC 4514 (``CN=gp,O=Practice,C=NL``) and OpenSSL's one-line form
    (``C = NL, O = Practice, CN = gp``): names are case-insensitive and long or short,
    spaces around ``=`` and separators are ignored, values are compared exactly. The order
    of the attributes does not count, as the two forms list them in opposite order.
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            current.append(ch + next(chars, ""))
        elif ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch in ",+" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    attributes: list[tuple[str, str]] = []
    for part in parts:
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            return None
        value = value.lstrip()
        while value.endswith(" ") and not value.endswith("\\ "):
            value = value[:-1]  # an escaped trailing space is part of the value
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]  # OpenSSL quotes values holding separators
        attributes.append((_short(name), _unescape(value)))
    return tuple(sorted(attributes))


def _unescape(value: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        ch = value[index]
        if ch == "\\" and index + 1 < len(value):
            pair = value[index + 1 : index + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(chr(int(pair, 16)))
                index += 3
                continue
            out.append(value[index + 1])
            index += 2
            continue
        out.append(ch)
        index += 1
    return "".join(out)


def tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI ``tls`` scope extension for one connection."""
    peer = ssl_object.getpeercert()
    subject = cast(Sequence[Sequence[tuple[str, str]]], peer.get("subject", ())) if peer else ()
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if peer and der else [],
        "client_cert_name": format_rfc4514(subject) if subject else None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None if cipher is None else cipher[0],
    }


def client_cert_name(scope: Mapping[str, Any]) -> str | None:
    """The verified client certificate's subject (RFC 4514) from the scope, or None."""
    extensions = scope.get("extensions") or {}
    tls = extensions.get("tls") or {}
    name = tls.get("client_cert_name")
    return name if isinstance(name, str) and name else None


class TLSExtensionProtocol(H11Protocol):
    """uvicorn's h11 protocol that adds the ASGI TLS extension to every request's scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Read the peer certificate once per connection and wrap the app to add it to scopes."""
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = _with_tls(self.app, tls_extension(ssl_object))


def _with_tls(app: Any, tls: dict[str, Any]) -> Any:
    async def app_with_tls(scope: Any, receive: Any, send: Any) -> None:
        extensions = {**(scope.get("extensions") or {}), "tls": tls}
        await app({**scope, "extensions": extensions}, receive, send)

    return app_with_tls
