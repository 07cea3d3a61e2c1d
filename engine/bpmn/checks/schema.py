"""The XSD check: a BPMN or DMN document against the OMG schema SpiffWorkflow ships.

Every schema error becomes a problem at the element (id) on the reported line. The schema
files are opened from their own folder only, never from the network.

May import: ``engine.bpmn.checks.facts``, ``engine.errors``, lxml, SpiffWorkflow (the schema paths).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS

from engine.bpmn.checks.facts import problem, q
from engine.errors import Problem

DMN_SCHEMAS: Mapping[str, str] = SCHEMAS
BPMN_XSD = Path(XSD_PATH)


class _SchemaFolderOnly(etree.Resolver):  # type: ignore[misc]  # lxml ships no type hints
    """Lets the schema loader open the files of its own folder and nothing else (no network)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder.resolve()

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> Any:
        url = system_url or ""
        path = Path(url.removeprefix("file://"))
        if "://" in url.removeprefix("file://") or path.resolve().parent != self.folder:
            raise ValueError(f"schema reference outside {self.folder} refused: {url}")
        return self.resolve_filename(str(path.resolve()), context)


@lru_cache(maxsize=8)
def _schema(xsd_path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_SchemaFolderOnly(xsd_path.parent))
    return etree.XMLSchema(etree.parse(str(xsd_path), parser))


# lxml keeps the error log on the schema object: one validation at a time per schema.
_SCHEMA_LOCK = threading.Lock()


def schema_problems(root: etree._Element, file: str, xsd_path: Path) -> list[Problem]:
    """Every XSD error of a document, each at the element (id) on the reported line."""
    document = copy.deepcopy(root)
    # BPMN modellers write correlation properties in a form the OMG schema refuses;
    # SpiffWorkflow's own validator renames the element first, and so do we.
    for expr in document.iter(q("formalExpression")):
        parent = expr.getparent()
        if parent is not None and parent.tag == q("correlationPropertyRetrievalExpression"):
            expr.tag = q("messagePath")
    schema = _schema(xsd_path)
    with _SCHEMA_LOCK:
        if schema.validate(document):
            return []
        errors = [(e.line, e.message) for e in schema.error_log]
    by_line: dict[int, str] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.sourceline is not None and element.get("id"):
            by_line.setdefault(element.sourceline, element.get("id", ""))
    return [
        problem(
            file,
            by_line.get(line, ""),
            "schema",
            f"不符合 XSD (第 {line} 行): {message}",
            f"schema error (line {line}): {message}",
        )
        for line, message in errors
    ]
