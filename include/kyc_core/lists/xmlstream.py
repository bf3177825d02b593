"""Streaming XML reading by local name, so every vintage's namespace works and big files never sit in memory."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from lxml import etree

from kyc_core.errors import UserError

_SPACES = re.compile(r"\s+")


def local(element: etree._Element) -> str:
    """Local name of an element, without its namespace."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def child(element: etree._Element, name: str) -> etree._Element | None:
    """First direct child with this local name."""
    for item in element:
        if local(item) == name:
            return item
    return None


def children(element: etree._Element, name: str) -> list[etree._Element]:
    """Every direct child with this local name."""
    return [item for item in element if local(item) == name]


def text(element: etree._Element | None, name: str | None = None) -> str | None:
    """Stripped text of the element (or of its first child `name`); None when blank or absent."""
    if element is not None and name is not None:
        element = child(element, name)
    if element is None or element.text is None:
        return None
    # A regular expression, not split(): a huge text node must not become millions of small strings.
    value = _SPACES.sub(" ", element.text).strip()
    return value or None


def descendants(element: etree._Element, name: str) -> Iterator[etree._Element]:
    """Every descendant with this local name, in document order."""
    for item in element.iter():
        if local(item) == name:
            yield item


def stream(
    path: Path, targets: Iterable[str], *, root: str | None = None
) -> Iterator[tuple[str, etree._Element]]:
    """Yield (local name, element) for each complete target element, freeing it once the caller moves on.

    Targets must not nest inside one another. Records directly under the root's containers are
    released as soon as they end, so memory stays flat whatever the file size. A truncated or
    malformed file raises :class:`UserError` when the damage is reached, never a partial success.
    """
    wanted = frozenset(targets)
    depth = 0
    inside = 0
    try:
        context = etree.iterparse(
            str(path),
            events=("start", "end"),
            # libxml2's default limits (a text node of at most 10 MB, bounded depth) hold: no real list
            # comes near them, a hostile file stops there instead of filling memory.
            huge_tree=False,
            resolve_entities=False,
            no_network=True,
            recover=False,
        )
        for event, element in context:
            if event == "start":
                if depth == 0 and root is not None and local(element) != root:
                    raise UserError(f"{path.name}: root element is <{local(element)}>, expected <{root}>")
                depth += 1
                if local(element) in wanted:
                    inside += 1
                continue
            depth -= 1
            name = local(element)
            if name in wanted:
                yield name, element
                inside -= 1
            # Release finished records, but never the inside of a target the caller has not seen yet.
            if inside == 0 and 0 < depth <= 2:
                element.clear()
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        raise UserError(f"{path.name}: XML is truncated or corrupted ({_first_line(exc)})") from None
    except OSError as exc:
        raise UserError(f"{path.name}: cannot read ({exc.strerror or exc})") from None


def _first_line(exc: etree.XMLSyntaxError) -> str:
    message = (getattr(exc, "msg", None) or str(exc)).strip().splitlines()[0]
    line = getattr(exc, "lineno", None)
    return f"{message}, line {line}" if line else message


def items(element: etree._Element, container: str, item: str) -> list[etree._Element]:
    """Children named `item` of the first child `container` (empty when the container is absent)."""
    holder = child(element, container)
    return children(holder, item) if holder is not None else []
