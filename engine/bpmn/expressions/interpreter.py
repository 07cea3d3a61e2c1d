"""The tree-walking interpreter: runs a vetted syntax tree on case data, step by step.

Nothing here hands user text to Python's ``eval``/``exec``/``compile``; each node is
evaluated by a method of :class:`Machine`, which can only reach case data, the operators in
``operations`` and the functions in ``functions``. Python errors raised while evaluating a
node (a type error, a missing key) become :class:`ExpressionFailed` naming that node.

Scripts never touch the data they read: a collection is copied the first time a script
reads it, assignments go to the script's own namespace, and only when the whole script has
succeeded are the changed top-level names handed back (each as its own deep copy), so a
failing script leaves the case as it was and nested values are never shared between tasks.

May import: ``expressions`` (functions, operations, run, sizes, vetting), ``engine.errors``.
"""

from __future__ import annotations

import ast
import builtins
import copy
import keyword
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.bpmn.expressions.functions import FUNCTIONS, find_method
from engine.bpmn.expressions.operations import binary, compare, to_str, truth, unary
from engine.bpmn.expressions.run import Lazy, Run, failed, type_name
from engine.bpmn.expressions.sizes import charge, stored_size
from engine.bpmn.expressions.vetting import where
from engine.errors import EngineError, ExpressionFailed

_SEGMENT_CHARS = 60
_SCALARS = (str, int, float, Decimal, date)
# Exact types copied as they are (immutable data), without a call per element.
_LEAVES = frozenset({str, int, float, bool, Decimal, date, datetime, type(None)})
_PYTHON_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_")) | frozenset(
    keyword.kwlist
)


class _Break(Exception):
    """``break`` travelling to its loop."""


class _Continue(Exception):
    """``continue`` travelling to its loop."""


class Machine:
    """One run of one expression or script over one mapping of names."""

    def __init__(self, source: str, names: Mapping[str, Any], run: Run, *, script: bool) -> None:
        self.source = source
        self.names = names
        self.run = run
        self.script = script
        self.scopes: list[dict[str, Any]] = []
        # Script state: its own namespace, the names it assigned, the collections it copied.
        self.local: dict[str, Any] = {}
        self.assigned: set[str] = set()
        self.originals: dict[str, Any] = {}

    # --- errors ------------------------------------------------------------------------

    def failed_at(self, node: ast.AST, exc: Exception) -> ExpressionFailed:
        segment = ast.get_source_segment(self.source, node) or ""
        if len(segment) > _SEGMENT_CHARS:
            segment = segment[: _SEGMENT_CHARS - 1] + "…"
        if isinstance(exc, RecursionError):
            detail = "数据嵌套过深 (value nested too deeply)"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return ExpressionFailed(f"表达式运行失败 (evaluation failed){where(node)}: `{segment}`: {detail}")

    # --- names -------------------------------------------------------------------------

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.local:
            return self.local[name]
        try:
            value = self.names[name]
        except KeyError:
            hint = (
                "; Python 的内置名称不可用 (Python built-ins are not available)"
                if name in _PYTHON_BUILTINS
                else ""
            )
            raise failed(f"未知名称 {name}{hint}", f"unknown name '{name}'") from None
        if self.script and isinstance(value, list | dict | set | tuple):
            self.originals[name] = value
            value = copy.deepcopy(value)
            self.local[name] = value
        return value

    def bind(self, target: ast.expr, value: Any, scope: dict[str, Any] | None = None) -> None:
        """Assign to a name, a subscript or a tuple of them (``scope`` for comprehension variables)."""
        if isinstance(target, ast.Name):
            if scope is not None:
                scope[target.id] = value
            else:
                self.local[target.id] = value
                self.assigned.add(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            items = self.run.materialize(value)
            if len(items) != len(target.elts):
                raise failed(
                    f"解包数量不符: 需要 {len(target.elts)} 个, 得到 {len(items)} 个",
                    f"cannot unpack {len(items)} values into {len(target.elts)} names",
                )
            for element, item in zip(target.elts, items, strict=True):
                self.bind(element, item, scope)
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value)
            self.store_item(container, self.eval(target.slice), value)

    def store_item(self, container: Any, key: Any, value: Any) -> None:
        """``container[key] = value``; the value is charged at its stored size (a reference adds it again)."""
        added = stored_size(value, self.run, self.run.limits.max_allocated)
        self.run.forget_sizes()
        if isinstance(container, dict):
            self.run.produce(len(container) + (key not in container), added=added)
            container[key] = value
        elif isinstance(container, list):
            if not isinstance(key, int):
                raise failed("列表下标必须是整数", f"list indices must be integers, not {type_name(key)}")
            self.run.produce(len(container), added=added)
            container[key] = value
        else:
            raise failed(
                f"{type_name(container)} 类型的值不能按下标赋值",
                f"a {type_name(container)} does not support item assignment",
            )

    # --- expressions -------------------------------------------------------------------

    def eval(self, node: ast.expr) -> Any:
        """The value of one node (one step)."""
        self.run.tick()
        try:
            return _EVALUATORS[type(node)](self, node)
        except EngineError:
            raise
        except Exception as exc:
            raise self.failed_at(node, exc) from exc

    def _constant(self, node: ast.Constant) -> Any:
        return node.value

    def _name(self, node: ast.Name) -> Any:
        return self.lookup(node.id)

    def _binop(self, node: ast.BinOp) -> Any:
        return binary(self.run, node.op, self.eval(node.left), self.eval(node.right))

    def _unaryop(self, node: ast.UnaryOp) -> Any:
        return unary(node.op, self.eval(node.operand))

    def _boolop(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if truth(value) != is_and:
                return value
        return value

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not compare(self.run, op, left, right):
                return False
            left = right
        return True

    def _ifexp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if truth(self.eval(node.test)) else self.eval(node.orelse)

    def _subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [
                None if part is None else self.eval(part)
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            ]
            if not all(part is None or isinstance(part, int) for part in parts):
                raise failed("切片的边界必须是整数或 None", "slice bounds must be integers or None")
            cut = slice(*parts)
            if isinstance(container, str | list | tuple):
                self.run.produce(len(range(*cut.indices(len(container)))))
                return container[cut]
            if isinstance(container, range):
                return container[cut]
            raise failed(
                f"{type_name(container)} 类型的值不能切片", f"a {type_name(container)} cannot be sliced"
            )
        key = self.eval(node.slice)
        if isinstance(container, dict | str | list | tuple | range):
            return container[key]
        raise failed(
            f"{type_name(container)} 类型的值不能取下标", f"a {type_name(container)} is not subscriptable"
        )

    # Collections are charged at their stored size once built (until then they hold references
    # only): ``[row, row]`` counts every element of ``row`` twice.

    def _list(self, node: ast.List) -> list[Any]:
        return charge([self.eval(element) for element in node.elts], self.run)

    def _tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return charge(tuple(self.eval(element) for element in node.elts), self.run)

    def _set(self, node: ast.Set) -> set[Any]:
        return charge({self.eval(element) for element in node.elts}, self.run)

    def _dict(self, node: ast.Dict) -> dict[Any, Any]:
        result = {
            self.eval(key): self.eval(value)
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None
        }
        return charge(result, self.run)

    def _joinedstr(self, node: ast.JoinedStr) -> str:
        parts = [to_str(self.run, self.eval(part)) for part in node.values]
        self.run.produce(sum(len(part) for part in parts))
        return "".join(parts)

    def _formattedvalue(self, node: ast.FormattedValue) -> Any:
        return self.eval(node.value)

    def _call(self, node: ast.Call) -> Any:
        args = [self._argument(argument) for argument in node.args]
        kwargs = {keyword.arg: self.eval(keyword.value) for keyword in node.keywords if keyword.arg}
        if isinstance(node.func, ast.Name):
            return FUNCTIONS[node.func.id].impl(self.run, *args, **kwargs)
        assert isinstance(node.func, ast.Attribute)  # vetted: a function name or a method
        receiver = self.eval(node.func.value)
        method = find_method(node.func.attr, receiver)
        if method.mutates and not self.script:
            raise failed(
                f"方法 .{node.func.attr}() 只能在脚本中使用",
                f".{node.func.attr}() is only allowed in scripts",
            )
        if not method.min_args <= len(args) <= method.max_args:
            raise failed(
                f".{node.func.attr}() 的参数个数不对",
                f".{node.func.attr}() takes {method.min_args} to {method.max_args} arguments,"
                f" {len(args)} given",
            )
        # A method that changes its receiver tells the run (``Run.forget_sizes``) once it has.
        return method.impl(self.run, receiver, *args)

    def _argument(self, node: ast.expr) -> Any:
        if isinstance(node, ast.GeneratorExp):
            return Lazy(self._generate(node.generators, node.elt))
        return self.eval(node)

    # --- comprehensions ----------------------------------------------------------------

    def _loops(self, generators: list[ast.comprehension], scope: dict[str, Any]) -> Iterator[None]:
        """Yield once per combination of loop variables that passes every ``if``.

        The first iterable is evaluated in the enclosing scope, eagerly (as Python does);
        the comprehension's own scope is pushed only while its parts are evaluated, so a
        lazy generator can be resumed from anywhere.
        """
        first = self.run.iterate(self.eval(generators[0].iter))
        yield from self._level(generators, 0, first, scope)

    def _level(
        self, generators: list[ast.comprehension], index: int, items: Iterator[Any], scope: dict[str, Any]
    ) -> Iterator[None]:
        generator = generators[index]
        last = index == len(generators) - 1
        for item in items:
            self.scopes.append(scope)
            try:
                self.bind(generator.target, item, scope)
                keep = all(truth(self.eval(condition)) for condition in generator.ifs)
                inner = None if last or not keep else self.run.iterate(self.eval(generators[index + 1].iter))
            finally:
                self.scopes.pop()
            if not keep:
                continue
            if inner is None:
                yield
            else:
                yield from self._level(generators, index + 1, inner, scope)

    def _in_scope(self, scope: dict[str, Any], node: ast.expr) -> Any:
        self.scopes.append(scope)
        try:
            return self.eval(node)
        finally:
            self.scopes.pop()

    def _generate(self, generators: list[ast.comprehension], element: ast.expr) -> Iterator[Any]:
        scope: dict[str, Any] = {}
        for _ in self._loops(generators, scope):
            yield self._in_scope(scope, element)

    def _listcomp(self, node: ast.ListComp) -> list[Any]:
        return charge(list(self._generate(node.generators, node.elt)), self.run)

    def _setcomp(self, node: ast.SetComp) -> set[Any]:
        return charge(set(self._generate(node.generators, node.elt)), self.run)

    def _dictcomp(self, node: ast.DictComp) -> dict[Any, Any]:
        scope: dict[str, Any] = {}
        result: dict[Any, Any] = {}
        for _ in self._loops(node.generators, scope):
            key = self._in_scope(scope, node.key)
            result[key] = self._in_scope(scope, node.value)
        return charge(result, self.run)

    # --- statements --------------------------------------------------------------------

    def block(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self.execute(statement)

    def execute(self, node: ast.stmt) -> None:
        """Run one statement (one step)."""
        self.run.tick()
        try:
            _EXECUTORS[type(node)](self, node)
        except (EngineError, _Break, _Continue):
            raise
        except Exception as exc:
            raise self.failed_at(node, exc) from exc

    def _assign(self, node: ast.Assign) -> None:
        value = self.eval(node.value)
        for target in node.targets:
            self.bind(target, value)

    def _augassign(self, node: ast.AugAssign) -> None:
        target = node.target
        if isinstance(target, ast.Name):
            self.bind(target, binary(self.run, node.op, self.lookup(target.id), self.eval(node.value)))
            return
        assert isinstance(target, ast.Subscript)  # vetted
        container = self.eval(target.value)
        key = self.eval(target.slice)
        if not isinstance(container, dict | list):
            raise failed(
                f"{type_name(container)} 类型的值不能按下标赋值",
                f"a {type_name(container)} does not support item assignment",
            )
        self.store_item(container, key, binary(self.run, node.op, container[key], self.eval(node.value)))

    def _if(self, node: ast.If) -> None:
        self.block(node.body if truth(self.eval(node.test)) else node.orelse)

    def _for(self, node: ast.For) -> None:
        for item in self.run.iterate(self.eval(node.iter)):
            self.bind(node.target, item)
            try:
                self.block(node.body)
            except _Break:
                break
            except _Continue:
                continue
        else:
            self.block(node.orelse)

    def _break(self, node: ast.Break) -> None:
        raise _Break

    def _continue(self, node: ast.Continue) -> None:
        raise _Continue

    def _pass(self, node: ast.Pass) -> None:
        return None

    def _expr(self, node: ast.Expr) -> None:
        self.eval(node.value)

    # --- results -----------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """The top-level names the script assigned or changed, each as an independent copy."""
        changed = {name: self.local[name] for name in self.assigned}
        for name, original in self.originals.items():
            if name not in changed and self.local[name] != original:
                changed[name] = self.local[name]
        return {name: export(value, self.run) for name, value in changed.items()}


def export(value: Any, run: Run) -> Any:
    """A deep copy of a result holding only data, measured as stored before anything is copied.

    The measure (see ``sizes``) charges the result to ``max_result_size`` and refuses cycles and
    deep nests in time proportional to the objects, so a list repeated by reference is refused
    before its copy — or its JSON text in the case's state — expands it.
    """
    if value is None or type(value) in _LEAVES:
        return value
    run.hand_back(stored_size(value, run, run.limits.max_result_size - run.handed_back))
    return _copy(value, run)


def _copy(value: Any, run: Run) -> Any:
    """The copy itself: the value was measured, so its size and depth are within bounds."""
    if value is None or isinstance(value, _SCALARS):
        return value
    if isinstance(value, list | tuple | dict | set | frozenset):
        run.check_clock()
    if isinstance(value, list):
        return [item if type(item) in _LEAVES else _copy(item, run) for item in value]
    if isinstance(value, tuple):
        return tuple(item if type(item) in _LEAVES else _copy(item, run) for item in value)
    if isinstance(value, dict):
        return {_copy(key, run): _copy(item, run) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return {_copy(item, run) for item in value}
    if isinstance(value, range):
        raise failed(
            "range 不能作为结果保存, 请用 list(range(...))", "a range cannot be stored; use list(range(...))"
        )
    raise failed(f"{type_name(value)} 类型的值不能作为结果", f"a {type_name(value)} cannot be a result")


def _table(types: list[type[ast.AST]]) -> dict[type[ast.AST], Callable[[Machine, Any], Any]]:
    """Node type -> the Machine method named after it (``ast.BinOp`` -> ``_binop``)."""
    return {kind: getattr(Machine, f"_{kind.__name__.lower()}") for kind in types}


_EVALUATORS = _table(
    [
        ast.Constant,
        ast.Name,
        ast.BinOp,
        ast.UnaryOp,
        ast.BoolOp,
        ast.Compare,
        ast.IfExp,
        ast.Subscript,
        ast.List,
        ast.Tuple,
        ast.Set,
        ast.Dict,
        ast.JoinedStr,
        ast.FormattedValue,
        ast.Call,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
    ],
)
_EXECUTORS = _table([ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Break, ast.Continue, ast.Pass, ast.Expr])


def run_expression(source: str, tree: ast.Expression, names: Mapping[str, Any], run: Run) -> Any:
    """Evaluate a vetted expression tree; the result is exported (an independent copy)."""
    machine = Machine(source, names, run, script=False)
    try:
        return export(machine.eval(tree.body), run)
    except RecursionError as exc:
        raise failed("数据嵌套过深", "value nested too deeply") from exc


def run_script(source: str, tree: ast.Module, names: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """Run a vetted script; returns the changed top-level names (the caller applies them)."""
    machine = Machine(source, names, run, script=True)
    try:
        machine.block(tree.body)
        return machine.changes()
    except RecursionError as exc:
        raise failed("数据嵌套过深", "value nested too deeply") from exc
