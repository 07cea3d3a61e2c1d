"""The language plugged into SpiffWorkflow: every condition, script, timer and DMN cell runs here.

SpiffWorkflow hands expressions and scripts to ``PythonScriptEngine.environment``; its
default environment is plain ``eval``/``exec``. :class:`RestrictedEnvironment` replaces it
with the restricted interpreter, and :func:`make_script_engine` builds the engine the
runtime uses. Errors stay ours (``ExpressionRefused``/``ExpressionFailed``); SpiffWorkflow
wraps them in its task exceptions with the original as the cause.

May import: ``expressions`` (limits, program, run), ``engine.errors``, ``forms.checks``, SpiffWorkflow.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping, MutableMapping
from datetime import date
from typing import Any, cast

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.bpmn.expressions.limits import DEFAULT_LIMITS, Limits
from engine.bpmn.expressions.program import check_expression, evaluate, execute
from engine.bpmn.expressions.run import need_mapping
from engine.errors import ExpressionRefused
from forms.checks import china_today


def _readable(context: Any, external_context: Mapping[str, Any] | None) -> Mapping[str, Any]:
    names = need_mapping(context)
    if not external_context:
        return names
    # ChainMap only reads here; the casts spare copying the case data on every evaluation.
    return ChainMap(cast(MutableMapping[str, Any], names), cast(MutableMapping[str, Any], external_context))


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """A SpiffWorkflow script environment that runs only the restricted language."""

    def __init__(self, today: Callable[[], date] | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__({})
        self.today = today or china_today
        self.limits = limits

    def evaluate(
        self, expression: str, context: Mapping[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> Any:
        """A condition, timer, DMN cell, correlation or payload over task data (task data wins)."""
        return evaluate(
            expression, _readable(context, external_context), today=self.today, limits=self.limits
        )

    def execute(
        self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> bool:
        """A script task: reads task data (and data objects), updates task data only if it succeeds."""
        execute(
            script, context, today=self.today, limits=self.limits, reads=_readable(context, external_context)
        )
        return True

    def call_service(self, context: Any, **kwargs: Any) -> Any:
        """Service tasks are outside the language: a diagram cannot reach the network or files."""
        raise ExpressionRefused(
            "表达式被拒绝: 不支持服务任务调用 (refused: service task calls are not supported)"
        )


class RestrictedScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """SpiffWorkflow's script engine with our environment and our vetting in ``validate``."""

    def validate(self, expression: str) -> None:
        """Vet like ``check_expression``, but raise a plain ``SyntaxError`` for unparsable text.

        SpiffWorkflow's DMN engine calls ``validate`` to tell ``5`` (needs ``==``) from ``> 5``
        (does not) and expects exactly ``SyntaxError`` for the latter.
        """
        try:
            check_expression(expression)
        except ExpressionRefused as exc:
            if isinstance(exc.__cause__, SyntaxError):
                raise exc.__cause__ from None
            raise


def make_script_engine(
    today: Callable[[], date] | None = None, limits: Limits = DEFAULT_LIMITS
) -> PythonScriptEngine:
    """The script engine every workflow runs with (``today`` defaults to the date in China)."""
    return RestrictedScriptEngine(environment=RestrictedEnvironment(today, limits))
