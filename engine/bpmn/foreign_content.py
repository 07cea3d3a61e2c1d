"""Markup a browser would run, found in a BPMN or DMN file and refused at deploy.

A diagram is served back to browsers (the case page draws it, analysts download it). XML
may carry other vocabularies, and a browser that shows an XML document runs the XHTML,
SVG and MathML in it, follows an ``<?xml-stylesheet?>`` into XSLT, and fires ``on…``
attributes: an ``<html:script>`` inside ``bpmn:documentation`` ran with the viewer's
session. Modellers never need any of that, so it is named here as a problem of the file
and element that holds it, and the deployment is refused.

What modellers do write stays valid: the BPMN, DI and DMN vocabularies, the extension
namespaces of Camunda, Zeebe, SpiffWorkflow and bpmn-js (colours, modeler metadata) and
any vendor's own extension elements, as long as none is called ``script`` or carries an
event-handler attribute. ``bpmn:script`` and ``camunda:script`` are task scripts, not
browser scripts, and pass.

May import: ``engine.bpmn.xmlsafe``, ``engine.errors``, lxml.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from engine.bpmn.xmlsafe import parse_xml
from engine.errors import Problem

RULE = "foreign-content"

# Vocabularies a browser renders or executes inside an XML document.
ACTIVE_NAMESPACES: dict[str, str] = {
    "http://www.w3.org/1999/xhtml": "XHTML",
    "http://www.w3.org/2000/svg": "SVG",
    "http://www.w3.org/1998/Math/MathML": "MathML",
    "http://www.w3.org/1999/XSL/Transform": "XSLT",
    "http://www.w3.org/1999/xlink": "XLink",
    "http://www.w3.org/2001/XInclude": "XInclude",
}

# Vocabularies in which an element called ``script`` is a task's script, not a browser's.
MODEL_NAMESPACES = frozenset(
    {
        "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "http://www.omg.org/spec/BPMN/20100524/DI",
        "http://www.omg.org/spec/DD/20100524/DC",
        "http://www.omg.org/spec/DD/20100524/DI",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/DMNDI/",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "https://www.omg.org/spec/DMN/20230324/MODEL/",
        "http://camunda.org/schema/1.0/bpmn",
        "http://camunda.org/schema/1.0/dmn",
        "http://camunda.org/schema/zeebe/1.0",
        "http://camunda.org/schema/modeler/1.0",
        "http://spiffworkflow.org/bpmn/schema/1.0/core",
        "http://bpmn.io/schema/bpmn/biocolor/1.0",
        "http://www.omg.org/spec/BPMN/non-normative/color/1.0",
    }
)

_EVENT_HANDLER = re.compile(r"^on[a-z]+$", re.IGNORECASE)


def _namespace(name: str) -> str:
    return name[1:].split("}", 1)[0] if name.startswith("{") else ""


def _local(name: str) -> str:
    return name.split("}", 1)[1] if name.startswith("{") else name


def _shown(element: etree._Element, name: str) -> str:
    """A name as the file writes it (``html:script``), with its namespace when it has one."""
    namespace = _namespace(name)
    prefix = next((p for p, uri in element.nsmap.items() if uri == namespace and p), None)
    local = _local(name)
    written = f"{prefix}:{local}" if prefix else local
    return f"{written} ({namespace})" if namespace else written


def _owner(element: etree._Element) -> str:
    """The id of the nearest BPMN/DMN element (itself or an ancestor) that has one."""
    node: etree._Element | None = element
    while node is not None:
        found = str(node.get("id") or "")
        if found and isinstance(node.tag, str) and _namespace(node.tag) in MODEL_NAMESPACES:
            return found
        node = node.getparent()
    return ""


def _why(element: etree._Element) -> str | None:
    """What makes this element foreign (None when it is not), without looking below it."""
    tag = element.tag
    if not isinstance(tag, str):
        return None
    namespace = _namespace(tag)
    if namespace in ACTIVE_NAMESPACES:
        return f"{ACTIVE_NAMESPACES[namespace]} {_shown(element, tag)}"
    if _local(tag).lower() == "script" and namespace not in MODEL_NAMESPACES:
        return f"script element {_shown(element, tag)}"
    for attribute in element.attrib:
        attribute_ns = _namespace(attribute)
        if attribute_ns in ACTIVE_NAMESPACES:
            kind = ACTIVE_NAMESPACES[attribute_ns]
            return f"{kind} attribute {_shown(element, attribute)} on {_shown(element, tag)}"
        if _EVENT_HANDLER.match(_local(attribute)) and (attribute_ns or namespace not in MODEL_NAMESPACES):
            return f"event-handler attribute {_shown(element, attribute)} on {_shown(element, tag)}"
    return None


def _foreign(element: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    """Each outermost foreign element (what is inside it goes with it)."""
    why = _why(element)
    if why is not None:
        yield element, why
        return
    for child in element:
        yield from _foreign(child)


def foreign_content_problems(data: bytes, file: str) -> list[Problem]:
    """Every piece of browser-run markup in a BPMN or DMN file, with its file and element id.

    ``data`` must already have passed ``engine.bpmn.xmlsafe.parse_xml``; it is read again here
    keeping processing instructions, which the engine's own parse drops.
    """
    root = parse_xml(data, file, len(data), keep_instructions=True)
    problems: list[Problem] = []
    instructions = [
        *root.itersiblings(etree.ProcessingInstruction, preceding=True),
        *root.iter(etree.ProcessingInstruction),
        *root.itersiblings(etree.ProcessingInstruction),
    ]
    for instruction in instructions:
        target = str(getattr(instruction, "target", ""))
        parent = instruction.getparent()
        problems.append(
            Problem(
                f"不允许处理指令 <?{target}?> (浏览器会据此加载样式表或脚本)",
                file=file,
                element=_owner(parent) if parent is not None else "",
                rule=RULE,
                message_en=f"processing instruction <?{target}?> is not allowed (browsers load XSLT by it)",
            )
        )
    for element, why in _foreign(root):
        owner = _owner(element)
        problems.append(
            Problem(
                f"元素 {owner or '(根)'} 中有外来内容 {why}：浏览器会执行的标记不允许出现在流程图中",
                file=file,
                element=owner,
                rule=RULE,
                message_en=f"foreign content {why} in element {owner or '(root)'}: "
                "markup a browser would run is not allowed in a diagram",
            )
        )
    return problems
