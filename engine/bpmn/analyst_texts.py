"""The texts an analyst writes into ``bundle.yaml``, and the deploy check that keeps them data.

Pages show these texts (the bundle's name and description, item names, exemption and
follow-on reasons, example names) with only ``{{ name }}`` placeholders filled in
(``forms.placeholders``). A text holding a block, any other expression, or a name the
bundle does not know is refused at deploy, naming the file, the field and the text.

May import: ``engine.bpmn`` (checks.facts, definitions, manifest), ``engine.errors``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from engine.bpmn.checks.facts import problem
from engine.bpmn.definitions import MANIFEST_NAME
from engine.bpmn.manifest import Manifest, Text
from engine.errors import Problem
from forms import placeholders

_WHAT = {
    "block": ("模板块", "a template block"),
    "expression": ("表达式", "an expression"),
    "unknown-name": ("未知名称的占位符", "a placeholder of an unknown name"),
}


def analyst_texts(manifest: Manifest) -> Iterator[tuple[str, Text]]:
    """Every analyst-written text of the manifest, with where it sits (``items[key].name``)."""
    yield "name", manifest.name
    if manifest.description is not None:
        yield "description", manifest.description
    for item in manifest.items:
        yield f"items[{item.key}].name", item.name
    for exemption in manifest.exemptions:
        yield f"exemptions[{exemption.material}].why", exemption.why
    for index, follow in enumerate(manifest.follow_on):
        if follow.why is not None:
            yield f"follow_on[{index}].why", follow.why
    for index, example in enumerate(manifest.examples):
        yield f"examples[{index}].name", example.name


def text_problems(manifest: Manifest, known: Collection[str]) -> list[Problem]:
    """Each block, expression or unknown placeholder name in the manifest's analyst texts."""
    found: list[Problem] = []
    for where, text in analyst_texts(manifest):
        for lang, value in (("zh", text.zh), ("en", text.en)):
            for bad in placeholders.problems(value, known):
                what_zh, what_en = _WHAT[bad.rule]
                found.append(
                    problem(
                        MANIFEST_NAME,
                        f"{where}.{lang}",
                        f"text-{bad.rule}",
                        f"{where}.{lang} 含{what_zh} {bad.text!r}：文字中只能有 {{{{ 名称 }}}} 形式的"
                        "占位符，名称须是本事项包的字段或审批字段",
                        f"{where}.{lang} holds {what_en} {bad.text!r}: texts may hold only "
                        "{{ name }} placeholders of this bundle's fields or decision fields",
                    )
                )
    return found
