"""Parsing of untrusted XML (BPMN and DMN uploads are hostile input).

SpiffWorkflow calls lxml's bare ``etree.parse``; we never let it read files itself. Every
diagram is parsed here first with entity resolution, DTD loading and network access off,
and with a size limit, and SpiffWorkflow is handed the resulting tree.

May import: ``engine.errors``, lxml.
"""

from __future__ import annotations

from lxml import etree

from engine.errors import Problem, UnsafeXml

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


def _parser(keep_instructions: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=not keep_instructions,
    )


def parse_xml(
    data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES, *, keep_instructions: bool = False
) -> etree._Element:
    """Parse XML bytes safely; refuse DTDs, entities and oversized documents with a clear message.

    Processing instructions are dropped unless ``keep_instructions`` (the foreign-content
    check looks for ``<?xml-stylesheet?>``; the engine never needs them).
    """
    if len(data) > max_bytes:
        raise UnsafeXml(
            f"{filename}: {len(data)} bytes is over the limit of {max_bytes}",
            [
                Problem(
                    f"文件过大 ({len(data)} 字节，上限 {max_bytes})",
                    file=filename,
                    rule="xml-size",
                    message_en=f"file too large ({len(data)} bytes, limit {max_bytes})",
                )
            ],
        )
    # A DOCTYPE is never needed by BPMN or DMN; refusing it outright stops entity
    # expansion ("billion laughs") and external entities (XXE) before lxml sees them.
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise UnsafeXml(
            f"{filename}: DOCTYPE or ENTITY declarations are not allowed",
            [
                Problem(
                    "不允许 DOCTYPE 或 ENTITY 声明 (实体扩展/外部实体)",
                    file=filename,
                    rule="xml-dtd",
                    message_en="DOCTYPE and ENTITY declarations are not allowed (entity expansion, XXE)",
                )
            ],
        )
    try:
        root = etree.fromstring(data, parser=_parser(keep_instructions))
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(
            f"{filename}: XML is not well formed: {exc}",
            [
                Problem(
                    f"XML 格式错误: {exc}",
                    file=filename,
                    rule="xml-syntax",
                    message_en=f"XML is not well formed: {exc}",
                )
            ],
        ) from exc
    if root is None:
        raise UnsafeXml(f"{filename}: empty document", [Problem("空文档", file=filename, rule="xml-syntax")])
    return root
