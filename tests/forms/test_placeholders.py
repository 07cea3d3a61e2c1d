"""Placeholders in analyst text: dotted names of case data filled in one linear pass, nothing run."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from forms import placeholders
from forms.placeholders import Piece, TextProblem


def escaped(text: str) -> str:
    return str(escape(text))


def fill(text: str, values: Mapping[str, object]) -> str:
    return placeholders.fill(text, values, escaped)


def test_dotted_names_are_filled_and_every_piece_is_escaped() -> None:
    values = {"company_name": "<b>一件事</b>", "applicant": {"name": "张三", "age": 30}}
    text = "{{ company_name }}：{{applicant.name}}（{{ applicant.age }}）& <i>"
    assert fill(text, values) == "&lt;b&gt;一件事&lt;/b&gt;：张三（30）&amp; &lt;i&gt;"
    assert placeholders.names(text) == ("company_name", "applicant.name", "applicant.age")


def test_anything_but_a_dotted_name_is_shown_as_written() -> None:
    text = "{% for i in range(3) %}x{% endfor %} {{ range(10**9) }} {{ a|upper }} {{ a + 1 }} {{ a() }}"
    assert fill(text, {"a": "A", "range": "R"}) == escaped(text)
    assert placeholders.names(text) == ()


def test_a_name_without_a_value_stays_as_written() -> None:
    assert fill("{{ missing }} {{ a.b.c }} {{ a.__class__ }}", {"a": {"b": "not a mapping"}}) == (
        "{{ missing }} {{ a.b.c }} {{ a.__class__ }}"
    )
    # Only mapping keys are followed: an attribute of a value is never reached.
    assert placeholders.lookup({"s": "text"}, "s.upper") == (False, None)
    assert placeholders.lookup({"s": {"upper": 1}}, "s.upper") == (True, 1)


def test_pieces_cut_literal_text_and_placeholders() -> None:
    assert list(placeholders.pieces("a {{x}} {{{ y }}}")) == [
        Piece("a "),
        Piece("{{x}}", "x"),
        Piece(" {"),
        Piece("{{ y }}", "y"),
        Piece("}"),
    ]


def test_problems_name_blocks_expressions_and_unknown_names() -> None:
    text = (
        "{% for i in range(100000) %}{% for j in range(3000) %}慢{% endfor %}{% endfor %}"
        " {{ range(10**9) }} {{ company_name }} {{ company_nam }}"
    )
    assert placeholders.problems(text, {"company_name"}) == [
        TextProblem("block", "{% for i in range(100000) %}"),
        TextProblem("block", "{% for j in range(3000) %}"),
        TextProblem("block", "{% endfor %}"),
        TextProblem("expression", "{{ range(10**9) }}"),
    ]
    assert placeholders.problems("{{ company_name }} {{ company_nam }}", {"company_name"}) == [
        TextProblem("unknown-name", "{{ company_nam }}")
    ]
    assert placeholders.problems("{{ 这不是名称", set()) == [TextProblem("expression", "{{ 这不是名称")]
    assert placeholders.problems("100% 办结，{ 花括号 } 与 }} 照常", set()) == []


def test_a_long_offending_piece_is_quoted_short() -> None:
    [bad] = placeholders.problems("{% " + "x" * 500 + " %}", set())
    assert bad.rule == "block" and len(bad.text) == placeholders.SNIPPET_CHARS + 1 and bad.text.endswith("…")


HOSTILE = [
    "{{" * 200_000,
    "{%" * 200_000,
    "{{ " + " " * 400_000,
    "{{" + "a." * 200_000,
    "{{ a {{ a " * 50_000,
    "{{ a }}" * 50_000,
    "{% for i in range(100000) %}{% for j in range(3000) %}{{ i }}{% endfor %}{% endfor %}" * 4000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:12]))
def test_hostile_texts_are_filled_and_checked_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    filled = fill(text, {"a": "A", "i": 1})
    placeholders.problems(text, {"a"})
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{elapsed:.2f} s for {len(text)} characters"
    assert len(filled) >= len(text) // 8


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="{")))
def test_text_without_braces_is_only_escaped(text: str) -> None:
    assert fill(text, {"a": 1}) == escaped(text)
    assert placeholders.problems(text, set()) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="{}%ab. ()|+", max_size=60))
def test_a_text_with_no_problems_is_literal_text_and_known_placeholders(text: str) -> None:
    # Whatever the text, the pieces rebuild it exactly, and a text deploy accepts fills in
    # nothing but the values of the names it was checked against.
    assert "".join(p.text for p in placeholders.pieces(text)) == text
    if not placeholders.problems(text, {"a", "b"}):
        assert "{%" not in text
        assert set(placeholders.names(text)) <= {"a", "b"}
