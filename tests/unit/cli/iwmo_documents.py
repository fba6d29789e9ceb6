"""iWmo 3.2 documents for the ``hub iwmo`` tests, about the example client of the repository.

The example assignment ``25000107`` (examples/assignments.issued/valid/new-outputgericht.json)
is issued to provider 73730001 for client 999900018, product 02/02A05, 2025-04-01 to
2025-12-31. Each function returns a document's bytes; the items are small templates.
"""

from __future__ import annotations

PROVIDER_AGB = "73730001"
GEMEENTECODE = "0193"
CLIENT_BSN = "999900018"
CLIENT_NAME = "Dalfsen"
CLIENT_BIRTH_DATE = "1986-02-11"
NUMBER = "25000107"

_BASIS = "http://www.istandaarden.nl/iwmo/3_2/basisschema/schema"


def _header(code: int, identificatie: str, dagtekening: str, afzender: str, ontvanger: str) -> str:
    return f"""  <Header>
    <BerichtCode>{code}</BerichtCode>
    <BerichtVersie>3</BerichtVersie>
    <BerichtSubversie>2</BerichtSubversie>
    <Afzender>{afzender}</Afzender>
    <Ontvanger>{ontvanger}</Ontvanger>
    <BerichtIdentificatie>
      <bs:Identificatie>{identificatie}</bs:Identificatie>
      <bs:Dagtekening>{dagtekening}</bs:Dagtekening>
    </BerichtIdentificatie>
    <XsdVersie>
      <bs:BasisschemaXsdVersie>1.0.0</bs:BasisschemaXsdVersie>
      <bs:BerichtXsdVersie>1.0.0</bs:BerichtXsdVersie>
    </XsdVersie>
  </Header>
"""


def _care(
    kind: int,
    identificatie: str,
    items: str,
    *,
    dagtekening: str,
    afzender: str,
    ontvanger: str,
    bsn: str,
) -> bytes:
    name = "StartProducten" if kind == 305 else "StopProducten"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Bericht xmlns="http://www.istandaarden.nl/iwmo/3_2/wmo{kind}/schema" xmlns:bs="{_BASIS}">
{_header(418 if kind == 305 else 420, identificatie, dagtekening, afzender, ontvanger)}  <Client>
    <Bsn>{bsn}</Bsn>
    <Geboortedatum>
      <bs:Datum>{CLIENT_BIRTH_DATE}</bs:Datum>
    </Geboortedatum>
    <Geslacht>2</Geslacht>
    <Naam>
      <bs:Geslachtsnaam>
        <bs:Achternaam>{CLIENT_NAME}</bs:Achternaam>
        <bs:Voorvoegsel>van</bs:Voorvoegsel>
      </bs:Geslachtsnaam>
      <bs:Voorletters>EM</bs:Voorletters>
    </Naam>
    <{name}>
{items}    </{name}>
  </Client>
</Bericht>
""".encode()


def start(
    begin: str = "2025-04-07",
    *,
    number: str = NUMBER,
    status: str = "1",
    code: str = "02A05",
) -> str:
    """One StartProduct."""
    return f"""      <StartProduct>
        <ToewijzingNummer>{number}</ToewijzingNummer>
        <Product>
          <bs:Categorie>{code[:2]}</bs:Categorie>
          <bs:Code>{code}</bs:Code>
        </Product>
        <Begindatum>{begin}</Begindatum>
        <StatusAanlevering>{status}</StatusAanlevering>
      </StartProduct>
"""


def stop(
    begin: str = "2025-04-07",
    end: str = "2025-06-30",
    reason: str = "02",
    *,
    number: str = NUMBER,
    status: str = "1",
    product: str = "02A05",
) -> str:
    """One StopProduct; ``product`` a code, or a category alone (two digits)."""
    code = "" if len(product) == 2 else f"\n          <bs:Code>{product}</bs:Code>"
    return f"""      <StopProduct>
        <ToewijzingNummer>{number}</ToewijzingNummer>
        <Product>
          <bs:Categorie>{product[:2]}</bs:Categorie>{code}
        </Product>
        <Begindatum>{begin}</Begindatum>
        <RedenBeeindiging>{reason}</RedenBeeindiging>
        <Einddatum>{end}</Einddatum>
        <StatusAanlevering>{status}</StatusAanlevering>
      </StopProduct>
"""


def wmo305(
    identificatie: str,
    *starts: str,
    dagtekening: str = "2025-07-01",
    afzender: str = PROVIDER_AGB,
    ontvanger: str = GEMEENTECODE,
    bsn: str = CLIENT_BSN,
) -> bytes:
    """A 305 with these StartProducts (default: one start of 25000107 on 2025-04-07)."""
    return _care(
        305,
        identificatie,
        "".join(starts or (start(),)),
        dagtekening=dagtekening,
        afzender=afzender,
        ontvanger=ontvanger,
        bsn=bsn,
    )


def wmo307(
    identificatie: str,
    *stops: str,
    dagtekening: str = "2025-07-01",
    afzender: str = PROVIDER_AGB,
    ontvanger: str = GEMEENTECODE,
    bsn: str = CLIENT_BSN,
) -> bytes:
    """A 307 with these StopProducts (default: 25000107 stopped 2025-06-30, reason 02)."""
    return _care(
        307,
        identificatie,
        "".join(stops or (stop(),)),
        dagtekening=dagtekening,
        afzender=afzender,
        ontvanger=ontvanger,
        bsn=bsn,
    )


def wmo302(
    identificatie: str, *, afzender: str = GEMEENTECODE, ontvanger: str = PROVIDER_AGB
) -> bytes:
    """A Header-only 302 (full approval) on the 301 with this Identificatie."""
    header = _header(415, identificatie, "2025-03-24", afzender, ontvanger).removesuffix(
        "  </Header>\n"
    )
    retour = """    <IdentificatieRetour>TZ-302-0001</IdentificatieRetour>
    <DagtekeningRetour>2025-03-25</DagtekeningRetour>
    <XsdVersieRetour>
      <bs:BasisschemaXsdVersie>1.0.0</bs:BasisschemaXsdVersie>
      <bs:BerichtXsdVersie>1.0.0</bs:BerichtXsdVersie>
    </XsdVersieRetour>
  </Header>
"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Bericht xmlns="http://www.istandaarden.nl/iwmo/3_2/wmo302/schema" xmlns:bs="{_BASIS}">
{header}{retour}</Bericht>
""".encode()
