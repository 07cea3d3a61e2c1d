"""Reading one XML file of a bundle: XML safety, UTF-8, no DOCTYPE, no markup a browser would run.

``engine.bpmn.xmlsafe`` refuses what is dangerous to parse; after it this module refuses a
DOCTYPE further in than xmlsafe looks, a file that is not UTF-8, and (through
``engine.bpmn.foreign_content``) markup the studio page would run. Every refusal is a
problem of that file, and the file's other checks are skipped.

May import: ``engine.bpmn.xmlsafe``, ``engine.bpmn.foreign_content``, ``engine.bpmn.checks.facts``,
``engine.bpmn.validation.report``, ``engine.errors``, lxml.
"""

from __future__ import annotations

from dataclasses import replace

from lxml import etree

from engine.bpmn.checks.facts import problem
from engine.bpmn.foreign_content import foreign_content_problems
from engine.bpmn.validation.report import Run
from engine.bpmn.xmlsafe import parse_xml
from engine.errors import UnsafeXml


def parse_file(name: str, data: bytes, run: Run, max_bytes: int) -> etree._Element | None:
    """Parse one XML file safely; every refusal becomes a problem of that file."""
    try:
        root = parse_xml(data, name, max_bytes)
    except UnsafeXml as exc:
        run.problems.extend(replace(p, file=p.file or name) for p in exc.problems)
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        run.problems.append(
            problem(name, "", "encoding", f"文件须为 UTF-8 编码: {exc}", f"the file must be UTF-8: {exc}")
        )
        return None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        # xmlsafe looks for DOCTYPE in the first bytes only; one further in (or in UTF-16)
        # parses without expanding anything, and is refused here all the same.
        run.problems.append(
            problem(
                name,
                "",
                "xml-dtd",
                "不允许 DOCTYPE 或 ENTITY 声明 (实体扩展/外部实体)",
                "DOCTYPE and ENTITY declarations are not allowed (entity expansion, XXE)",
            )
        )
        return None
    run.problems.extend(foreign_content_problems(data, name))
    return root
