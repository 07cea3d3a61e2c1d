"""YAML an analyst hands in (``bundle.yaml``), read within bounds: size, nesting depth, no aliases.

PyYAML composes nested collections recursively, so a ``bundle.yaml`` nested 5,000 levels
deep ran for seconds into Python's recursion limit and came back as a validator crash. An
alias (``*name``) makes one node stand for its anchor wherever it appears, so a few lines
of anchors and aliases ("billion laughs") become a value of billions of items as soon as
anything walks it (the schema check, a JSON dump). A manifest needs neither: the loader
here refuses an alias and any node deeper than ``MAX_DEPTH`` while scanning and composing,
before a value is built, and refuses text above ``MAX_BYTES`` before reading it at all.

May import: yaml only.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64
MAX_BYTES = 1024 * 1024  # the largest shipped bundle.yaml is under 10 kB


class YamlRefused(yaml.YAMLError):
    """YAML refused for its shape (too large, too deep, an alias), with the reason in Chinese and English."""

    def __init__(self, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message = message
        self.message_en = message_en


class BoundedLoader(yaml.SafeLoader):
    """A safe loader that refuses aliases and nodes nested deeper than ``MAX_DEPTH``."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose one node, counting how deep it sits (PyYAML recurses here, once per level)."""
        line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            raise YamlRefused(
                f"第 {line} 行: 不允许 YAML 别名 (*)", f"line {line}: YAML aliases (*) are not allowed"
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _too_deep(line)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        """Refuse a ``[`` or ``{`` past the bound already while scanning.

        The scanner reads up to 1024 characters ahead for each open bracket (it might start a
        key), which for a run of brackets costs about 0.15 s before the composer sees a node.
        """
        if self.flow_level >= MAX_DEPTH:
            raise _too_deep(self.get_mark().line + 1)
        super().fetch_flow_collection_start(TokenClass)


def _too_deep(line: int) -> YamlRefused:
    return YamlRefused(
        f"嵌套过深，超过 {MAX_DEPTH} 层 (第 {line} 行)",
        f"nested deeper than {MAX_DEPTH} levels (line {line})",
    )


def load_bounded(text: str | bytes) -> Any:
    """The value of one YAML document, or YamlRefused for its size, depth or aliases (YAMLError otherwise)."""
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > MAX_BYTES:
        raise YamlRefused(
            f"文件过大: {size} 字节，上限 {MAX_BYTES} 字节",
            f"too large: {size} bytes, at most {MAX_BYTES}",
        )
    return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader subclass
