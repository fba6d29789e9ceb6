"""Who may call the gateway: API keys (hashed, rotated) and verified client certificates."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from hub.gateway.auth import Authenticator, Presented, api_key_digest
from hub.gateway.testing import RecordingSink
from hub.gateway.tls import client_cert_name, format_rfc4514, parse_dn

from .gatewaytest import KEYS, STRUCTURED, SWT_SUBJECT, AppFactory, auth, referral


def _with_tls(app: Any, subject: str | None) -> Any:
    """The app as TLSExtensionProtocol serves it: the verified subject in the scope's tls extension."""

    async def app_with_tls(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            tls = {"client_cert_name": subject, "client_cert_chain": []}
            scope = {**scope, "extensions": {**scope.get("extensions", {}), "tls": tls}}
        await app(scope, receive, send)

    return app_with_tls


async def _post(make_app: AppFactory, headers: dict[str, str], cert: str | None = None) -> Any:
    app = make_app()
    transport = httpx.ASGITransport(app=_with_tls(app, cert) if cert else app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
    ):
        return await client.post("/events", content=json.dumps(referral()), headers=headers)


async def test_bearer_key_identifies_the_partner(client: httpx.AsyncClient) -> None:
    """A registered key in Authorization: Bearer is accepted."""
    response = await client.post("/events", content=json.dumps(referral()), headers=auth())
    assert response.status_code == 202


async def test_x_api_key_header_identifies_the_partner(client: httpx.AsyncClient) -> None:
    """A registered key in X-API-Key is accepted."""
    headers = {"X-API-Key": KEYS["gp-de-linde"][0], "Content-Type": STRUCTURED}
    response = await client.post("/events", content=json.dumps(referral()), headers=headers)
    assert response.status_code == 202


async def test_a_rotated_second_key_works_too(client: httpx.AsyncClient) -> None:
    """Each of a partner's registered keys is accepted, so keys can be rotated."""
    headers = {"Authorization": f"Bearer {KEYS['gp-de-linde'][1]}", "Content-Type": STRUCTURED}
    response = await client.post("/events", content=json.dumps(referral()), headers=headers)
    assert response.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer not-a-key"}, id="wrong-bearer"),
        pytest.param({"X-API-Key": "not-a-key"}, id="wrong-x-api-key"),
        pytest.param({"Authorization": "Basic a2V5LWdwLWRlLWxpbmRlOg=="}, id="basic-scheme"),
        pytest.param({"Authorization": "Bearer"}, id="empty-bearer"),
        pytest.param(
            {"Authorization": "Bearer key-gp-de-linde", "X-API-Key": "key-gp-het-anker"},
            id="two-partners",
        ),
        pytest.param(
            {"Authorization": "Bearer key-gp-de-linde", "X-API-Key": "wrong"},
            id="one-good-one-wrong",
        ),
    ],
)
async def test_missing_or_wrong_credentials_get_one_identical_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """Every failed authentication answers the same 401 problem: no hint which part was wrong."""
    response = await client.post(
        "/events", content=json.dumps(referral()), headers={**headers, "Content-Type": STRUCTURED}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="sociaaldomein-hub"'
    assert response.json() == {
        "type": "urn:sociaaldomein:hub:problem:unauthenticated",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Authenticate with a registered API key (Authorization: Bearer or X-API-Key) "
        "or a registered client certificate.",
        "code": "UNAUTHENTICATED",
        "errors": [],
    }


async def test_authentication_comes_before_anything_else(client: httpx.AsyncClient) -> None:
    """Without credentials even a wrong content type answers 401, revealing nothing else."""
    response = await client.post("/events", content=b"\x00", headers={"Content-Type": "text/xml"})
    assert response.status_code == 401


async def test_registered_client_certificate_identifies_the_partner(
    make_app: AppFactory, sink: RecordingSink
) -> None:
    """A verified certificate whose subject is registered for the wijkteam authenticates it."""
    response = await _post(make_app, {"Content-Type": STRUCTURED}, cert=SWT_SUBJECT)
    # The wijkteam may not send referrals: 403 proves it was identified (not 401).
    assert response.status_code == 403
    assert response.json()["code"] == "SOURCE_MISMATCH"


async def test_unregistered_certificate_alone_is_401(make_app: AppFactory) -> None:
    """A verified certificate that no partner registered does not authenticate."""
    response = await _post(make_app, {"Content-Type": STRUCTURED}, cert="CN=someone,O=Elsewhere")
    assert response.status_code == 401


async def test_unregistered_certificate_with_a_valid_key_uses_the_key(
    make_app: AppFactory,
) -> None:
    """An organisation certificate used for TLS only does not stand in the way of a valid key."""
    response = await _post(make_app, auth(), cert="CN=someone,O=Elsewhere")
    assert response.status_code == 202


async def test_key_and_certificate_of_different_partners_is_401(make_app: AppFactory) -> None:
    """A key of one partner and a registered certificate of another authenticate nobody."""
    response = await _post(make_app, auth("gp-de-linde"), cert=SWT_SUBJECT)
    assert response.status_code == 401


def test_keys_are_compared_by_their_sha256(registry: Any) -> None:
    """The registry stores digests; the key itself is hashed before the comparison."""
    authenticator = Authenticator(registry)
    partner = authenticator.identify(Presented(api_keys=("key-gp-de-linde",)))
    assert partner is not None
    assert partner.id == "gp-de-linde"
    assert api_key_digest("key-gp-de-linde") in partner.credentials.api_key_sha256
    digest_as_key = Presented(api_keys=(api_key_digest("key-gp-de-linde"),))
    assert authenticator.identify(digest_as_key) is None


def test_presented_credentials_never_show_the_key() -> None:
    """The repr of presented credentials has counts only, so a stray log line leaks no key."""
    assert repr(Presented(api_keys=("secret-key",), cert_subject="CN=x")) == (
        "Presented(keys=1, cert=True)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "CN=wijkteam.zwolle.example,O=Gemeente Zwolle,C=NL",
        "C=NL, O=Gemeente Zwolle, CN=wijkteam.zwolle.example",
        "cn = wijkteam.zwolle.example , o=Gemeente Zwolle,countryName=NL",
        'C = NL, O = "Gemeente Zwolle", CN = wijkteam.zwolle.example',
    ],
)
def test_subjects_match_in_rfc4514_and_openssl_forms(text: str) -> None:
    """Order, spacing, quoting and long or short attribute names do not matter; values do."""
    assert parse_dn(text) == parse_dn(SWT_SUBJECT)


def test_subject_values_are_compared_exactly() -> None:
    """A different value (here its case) is a different subject."""
    assert parse_dn("CN=WIJKTEAM.zwolle.example,O=Gemeente Zwolle,C=NL") != parse_dn(SWT_SUBJECT)


def test_subject_with_special_characters_survives_formatting_and_parsing() -> None:
    """format_rfc4514 escapes what parse_dn unescapes: commas, plus signs, quotes, spaces."""
    subject = ((("countryName", "NL"),), (("organizationName", 'Zorg, "Plus" + Co '),))
    assert format_rfc4514(subject) == 'O=Zorg\\, \\"Plus\\" \\+ Co\\ ,C=NL'
    assert parse_dn(format_rfc4514(subject)) == (("C", "NL"), ("O", 'Zorg, "Plus" + Co '))


def test_unreadable_subject_matches_nothing() -> None:
    """A subject without attribute=value parts parses to None."""
    assert parse_dn("just text") is None


def test_certificate_name_comes_from_the_scope_only() -> None:
    """The subject is read from the ASGI tls extension; absent there, there is none."""
    assert client_cert_name({"extensions": {"tls": {"client_cert_name": "CN=x"}}}) == "CN=x"
    assert client_cert_name({"headers": [(b"x-client-cert", b"CN=x")]}) is None
