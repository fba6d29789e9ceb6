"""Privacy: no element value of any example document in a problem, an error or a repr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lxml import etree

from hub.iwmo import (
    CareMessage,
    MessageRefused,
    answer_care_message,
    read_inbound,
    render_301,
)

from .iwmo_helpers import DATA, PROVIDER_AGB, MemoryState, context, hub_state, pseudonymise

DOCUMENTS = sorted(DATA.glob("*.xml"))


def leaves(root: etree._Element) -> list[etree._Element]:
    return [
        element
        for element in root.iter()
        if isinstance(element.tag, str) and not any(isinstance(c.tag, str) for c in element)
    ]


def element_values() -> set[str]:
    """Every element value of every example document, but RetourCodes (codes the hub reports)
    and values shorter than 4 characters (codes such as 1 or 02, which paths' indexes share)."""
    values: set[str] = set()
    for path in DOCUMENTS:
        for element in leaves(etree.fromstring(path.read_bytes())):
            if etree.QName(element).localname != "RetourCode" and len(element.text or "") >= 4:
                values.add(element.text or "")
    return values


def variants(data: bytes) -> Iterator[bytes]:
    """The document itself and, per element value, versions with that value broken."""
    yield data
    count = len(leaves(etree.fromstring(data)))
    for index in range(count):
        for change in ("{}{}", "x{}", "{} ", "{}" + "9" * 300):
            root = etree.fromstring(data)
            element = leaves(root)[index]
            value = element.text or ""
            element.text = change.format(value, value) if change == "{}{}" else change.format(value)
            yield etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def outputs(data: bytes) -> Iterator[str]:
    """Everything a partner, a log line or a traceback could see of the answer but the retour."""
    for sender in (PROVIDER_AGB, "73730002"):
        try:
            message = read_inbound(data, sender_agb=sender, max_bytes=1 << 20)
        except MessageRefused as refused:
            yield str(refused)
            yield repr(refused)
            yield json.dumps(refused.problem.as_dict())
            yield refused.problem.message
            continue
        if not isinstance(message, CareMessage):
            continue
        yield repr(message.client)
        for state in (hub_state(), MemoryState()):
            answer = answer_care_message(message, state, context())
            yield repr(answer)
            yield json.dumps([finding.as_dict() for finding in answer.findings])
            yield json.dumps(answer.retourcodes)


def test_no_element_value_in_any_error() -> None:
    """Problems, exceptions, findings and reprs hold no element value of the examples."""
    values = element_values()
    assert "999900031" in values
    assert "Wiersma" in values
    assert "1948-07-01" in values
    seen = 0
    for path in DOCUMENTS:
        for variant in variants(path.read_bytes()):
            for text in outputs(variant):
                seen += 1
                leaked = [value for value in values if value in text]
                assert not leaked, (path.name, text)
    assert seen > 1000


def test_301_rendering_repr_holds_no_personal_data() -> None:
    """A Rendering and its record print neither the document nor the client."""
    event: dict[str, Any] = json.loads((DATA / "assignments-issued-wmo.json").read_text())
    rendering = render_301(event, others=[], gemeentecode="0193", pseudonymise=pseudonymise)
    text = repr(rendering) + repr(rendering.record)
    for value in ("999900031", "Wiersma", "1948-07-01", "Johanna", "Roijensingel", "8011"):
        assert value not in text
