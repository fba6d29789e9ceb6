"""Writing iWmo documents: a small element tree and its serialisation (UTF-8, CR LF).

Written by hand rather than with lxml's serialiser because the output is fixed by the spec
(OP192: CR LF line ends, no BOM; our declaration with double quotes; two prefixes) and the
documents have no attributes and no mixed content, so a dozen lines say it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hub.iwmo.structure import BASIS_NS

__all__ = ["Node", "from_element", "leaf", "node", "serialise"]

_CRLF = "\r\n"
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;", "\n": "&#10;"})


@dataclass(frozen=True, slots=True)
class Node:
    """An element: its local name, whether it is in the shared namespace, text or children."""

    name: str
    shared: bool = False
    text: str | None = None
    children: tuple[Node, ...] = ()


def leaf(name: str, text: str, *, shared: bool = False) -> Node:
    """An element holding ``text``."""
    return Node(name, shared, text)


def node(name: str, *children: Node | None, shared: bool = False) -> Node:
    """An element holding ``children``; ``None`` entries (absent optionals) are skipped."""
    return Node(name, shared, None, tuple(child for child in children if child is not None))


def from_element(
    element: etree._Element, *, extra: dict[str, tuple[Node, ...]] | None = None
) -> Node:
    """Copy a received element (values unchanged) into a Node; comments are dropped.

    ``extra`` maps an element path relative to ``element`` (``.``, ``StartProducten/
    StartProduct[2]``) to children appended last (a retour's RetourCodes).
    """
    return _copy(element, ".", extra or {})


def _copy(element: etree._Element, path: str, extra: dict[str, tuple[Node, ...]]) -> Node:
    qname = etree.QName(element)
    shared = qname.namespace == BASIS_NS
    elements = [child for child in element if isinstance(child.tag, str)]
    if not elements and path not in extra:
        return Node(qname.localname, shared, element.text or "")
    counts: dict[str, int] = {}
    children: list[Node] = []
    for child in elements:
        name = etree.QName(child).localname
        counts[name] = counts.get(name, 0) + 1
        prefix = "" if path == "." else f"{path}/"
        children.append(_copy(child, f"{prefix}{name}[{counts[name]}]", extra))
    return Node(qname.localname, shared, None, (*children, *extra.get(path, ())))


def serialise(root: Node, namespace: str) -> bytes:
    """The document: declaration, root with both namespaces, two-space indent, CR LF, no BOM."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    _write(root, 0, lines, f' xmlns="{namespace}" xmlns:bs="{BASIS_NS}"')
    return (_CRLF.join(lines) + _CRLF).encode("utf-8")


def _write(element: Node, depth: int, lines: list[str], declarations: str = "") -> None:
    name = f"bs:{element.name}" if element.shared else element.name
    indent = "  " * depth
    if element.text is not None:
        lines.append(f"{indent}<{name}{declarations}>{element.text.translate(_ESCAPES)}</{name}>")
        return
    lines.append(f"{indent}<{name}{declarations}>")
    for child in element.children:
        _write(child, depth + 1, lines)
    lines.append(f"{indent}</{name}>")
