"""The bounds every expression and script runs within.

Static bounds (length, tokens, brackets, nodes, depth) are checked before and right after
parsing, so hostile text never reaches Python's recursive parser or our recursive
interpreter with room to exhaust the stack. Run-time bounds (steps, sizes, integer width,
wall time) are checked while evaluating, before a large value is allocated.

May import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """One set of bounds; the defaults suit gateway conditions and small script tasks."""

    max_expression_chars: int = 2_000
    max_script_chars: int = 10_000
    # Tokens in one logical line: bounds how deep Python's parser can recurse on it.
    max_statement_tokens: int = 1_000
    max_brackets: int = 32
    max_expression_nodes: int = 1_000
    max_script_nodes: int = 5_000
    # Nesting of the syntax tree: bounds how deep our own interpreter recurses.
    max_syntax_depth: int = 100
    # Nesting of a value handed back to the case (lists in dicts in lists ...).
    max_value_depth: int = 32
    max_int_bits: int = 4_096
    # Characters of one string or elements of one collection; a collection that repeats
    # values counts each copy of every element and character (``[[1] * 1000] * 1000`` is
    # a million), as it would be stored, printed or compared.
    max_size: int = 1_000_000
    # Characters and elements one run hands back to the case (a result, or all names a
    # script sets), counted as stored: shared references count every time they appear.
    max_result_size: int = 1_000_000
    # Characters and elements produced in one run, all values together.
    max_allocated: int = 10_000_000
    max_steps: int = 100_000
    max_seconds: float = 1.0


DEFAULT_LIMITS = Limits()
