"""The restricted expression and script language of onething.

Gateway conditions, script tasks, timer expressions, DMN cells, correlation expressions and
message payloads are written in a small Python-like language, parsed with ``ast``, vetted
statically and run by our own tree-walking interpreter — never by ``eval``/``exec``.

Expressions: literals (int, float, str, bool, None, list, tuple, dict, set), case field
names, ``+ - * / // % **``, comparisons (chained too), ``and or not``, ``in``/``not in``,
``is None``/``is not None``, ``a if c else b``, subscripts and slices, f-strings without
conversions or format specs, list/set/dict comprehensions and generator expressions as a
function argument, calls to the functions in ``functions.FUNCTIONS`` and the methods in
``functions.METHODS``. Scripts add assignments (also to subscripts, tuple unpacking and
``+=``), ``if/elif/else``, ``for`` (with ``break``/``continue``/``else``), ``pass`` and the
mutating list/dict methods. Everything else — attributes, names starting with ``_``,
imports, ``def``, ``class``, ``lambda``, ``while``, ``try``, ``with``, ``global``, ``del`` —
is refused with ``ExpressionRefused``; a failure while running raises ``ExpressionFailed``.
Bounds are in ``limits.Limits``.

May import: its own modules; they import only ``engine.errors``, ``forms.checks`` and SpiffWorkflow
(``spiff``, the script engine SpiffWorkflow runs).
"""

from engine.bpmn.expressions.limits import DEFAULT_LIMITS, Limits
from engine.bpmn.expressions.program import (
    DMN_INPUT_NAME,
    Program,
    check_dmn_input_entry,
    check_expression,
    check_script,
    compile_program,
    evaluate,
    execute,
    names_used,
)
from engine.bpmn.expressions.spiff import RestrictedEnvironment, RestrictedScriptEngine, make_script_engine

__all__ = [
    "DEFAULT_LIMITS",
    "DMN_INPUT_NAME",
    "Limits",
    "Program",
    "RestrictedEnvironment",
    "RestrictedScriptEngine",
    "check_dmn_input_entry",
    "check_expression",
    "check_script",
    "compile_program",
    "evaluate",
    "execute",
    "make_script_engine",
    "names_used",
]
