"""Static vetting: is a text inside the language? Refuses before anything runs.

Order matters, because hostile text can hurt the checker itself: the raw text's length is
checked first, then its tokens (bracket depth, tokens per statement — which bounds how
deep Python's recursive parser can go), then ``ast.parse`` (with its own recursion and
memory errors as a backstop), then the tree's size and depth without recursion, and only
then the recursive walk that checks every construct against the language.

Python normalises identifiers with NFKC while parsing, so ``＿＿import＿＿`` written with
fullwidth underscores arrives here as ``__import__`` and is refused like the plain one.

May import: ``expressions.functions``, ``expressions.limits``, ``engine.errors``.
"""

from __future__ import annotations

import ast
import io
import textwrap
import tokenize
from collections.abc import Iterable
from typing import Literal

from engine.bpmn.expressions.functions import FUNCTIONS, METHODS
from engine.bpmn.expressions.limits import Limits
from engine.errors import ExpressionRefused

Kind = Literal["expression", "script"]

PARSE_FILENAME = "<onething-expression>"

_OPENING = frozenset("([{")
_CLOSING = frozenset(")]}")
_SKIPPED_TOKENS = frozenset(
    {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
)

_BINARY_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_UNARY_OPS = (ast.Not, ast.USub, ast.UAdd)
_IDENTITY_CONSTANTS = (None, True, False)

# How the refused constructs are named in messages: (Chinese, English).
_CONSTRUCTS: dict[type[ast.AST], tuple[str, str]] = {
    ast.Import: ("import 导入", "import"),
    ast.ImportFrom: ("from ... import 导入", "from ... import"),
    ast.FunctionDef: ("def 定义函数", "def (function definitions)"),
    ast.AsyncFunctionDef: ("async def 定义函数", "async def"),
    ast.ClassDef: ("class 定义类", "class definitions"),
    ast.Return: ("return", "return"),
    ast.Delete: ("del 删除 (请改为赋值 None 或用 .pop())", "del (assign None or use .pop() instead)"),
    ast.While: ("while 循环 (请用 for 遍历数据)", "while loops (use for over data)"),
    ast.AsyncFor: ("async for", "async for"),
    ast.With: ("with 语句", "with statements"),
    ast.AsyncWith: ("async with", "async with"),
    ast.Try: ("try/except 异常处理", "try/except"),
    ast.TryStar: ("try/except*", "try/except*"),
    ast.Raise: ("raise", "raise"),
    ast.Assert: ("assert", "assert"),
    ast.Global: ("global 声明", "global"),
    ast.Nonlocal: ("nonlocal 声明", "nonlocal"),
    ast.Match: ("match 语句", "match statements"),
    ast.AnnAssign: ("带类型注解的赋值", "annotated assignments"),
    ast.Lambda: ("lambda 匿名函数", "lambda"),
    ast.NamedExpr: (":= 赋值表达式", ":= (assignment expressions)"),
    ast.Await: ("await", "await"),
    ast.Yield: ("yield", "yield"),
    ast.YieldFrom: ("yield from", "yield from"),
    ast.Starred: ("* 解包", "* unpacking"),
    ast.Slice: ("切片", "a slice outside brackets"),
    ast.BitAnd: ("位运算 &", "bit operator &"),
    ast.BitOr: ("位运算 |", "bit operator |"),
    ast.BitXor: ("位运算 ^", "bit operator ^"),
    ast.LShift: ("移位 <<", "shift operator <<"),
    ast.RShift: ("移位 >>", "shift operator >>"),
    ast.MatMult: ("矩阵乘 @", "operator @"),
    ast.Invert: ("按位取反 ~", "bit operator ~"),
}


def where(node: ast.AST | None) -> str:
    """Where a node starts, for messages ("第2行第5列 (line 2, col 5)")."""
    line = getattr(node, "lineno", None)
    if line is None:
        return ""
    col = getattr(node, "col_offset", 0) + 1
    return f", 第{line}行第{col}列 (line {line}, col {col})"


def refused(zh: str, en: str, node: ast.AST | None = None) -> ExpressionRefused:
    """A refusal naming the construct, in Chinese and English, with its position."""
    return ExpressionRefused(f"表达式被拒绝: {zh} (refused: {en}){where(node)}")


def _not_allowed(construct: ast.AST, node: ast.AST | None = None) -> ExpressionRefused:
    """A refusal of ``construct``, placed at ``node`` (an operator has no position of its own)."""
    zh, en = _CONSTRUCTS.get(type(construct), (type(construct).__name__, type(construct).__name__))
    return refused(f"不允许使用 {zh}", f"{en} is not allowed", construct if node is None else node)


def normalise(source: str, kind: Kind) -> str:
    """The text as parsed: expressions stripped, scripts dedented (both often sit indented in XML)."""
    return source.strip() if kind == "expression" else textwrap.dedent(source).strip("\n")


def _prescan(source: str, limits: Limits) -> None:
    """Bracket depth and tokens per statement, from the token stream (no recursion)."""
    depth = 0
    weight = 0
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    try:
        for token in tokens:
            if token.type == tokenize.NEWLINE:
                weight = 0
                continue
            if token.type in _SKIPPED_TOKENS:
                continue
            text = token.string
            if token.type == tokenize.STRING and "f" in text[: text.find(text[-1])].lower():
                # An f-string is one token, but its fields are parsed as expressions later.
                weight += len(text)
                deepest = depth + _bracket_depth(text)
            else:
                weight += 1
                if text in _OPENING:
                    depth += 1
                elif text in _CLOSING:
                    depth = max(depth - 1, 0)
                deepest = depth
            if deepest > limits.max_brackets:
                raise refused(
                    f"括号嵌套超过 {limits.max_brackets} 层",
                    f"brackets nested more than {limits.max_brackets} deep",
                )
            if weight > limits.max_statement_tokens:
                raise refused(
                    f"一条语句超过 {limits.max_statement_tokens} 个词法单元",
                    f"one statement has more than {limits.max_statement_tokens} tokens",
                )
    except (tokenize.TokenError, SyntaxError):
        # Bad text; ast.parse below reports it precisely. Everything read so far was within bounds.
        return


def _bracket_depth(text: str) -> int:
    deepest = depth = 0
    for char in text:
        if char in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSING:
            depth = max(depth - 1, 0)
    return deepest


def parse(source: str, kind: Kind, limits: Limits) -> ast.Expression | ast.Module:
    """Parse text that passed the raw checks; any parser failure becomes a refusal."""
    if not isinstance(source, str):
        raise refused("表达式必须是文本", f"an expression must be text, not {type(source).__name__}")
    text = normalise(source, kind)
    limit = limits.max_expression_chars if kind == "expression" else limits.max_script_chars
    if len(text) > limit:
        raise refused(
            f"文本过长: {len(text)} 个字符, 上限 {limit}",
            f"text too long: {len(text)} characters, the limit is {limit}",
        )
    if not text:
        raise refused("表达式为空", "empty expression" if kind == "expression" else "empty script")
    _prescan(text, limits)
    try:
        tree = ast.parse(text, filename=PARSE_FILENAME, mode="eval" if kind == "expression" else "exec")
    except SyntaxError as exc:
        position = (
            f", 第{exc.lineno}行第{exc.offset}列 (line {exc.lineno}, col {exc.offset})" if exc.lineno else ""
        )
        raise ExpressionRefused(
            f"表达式被拒绝: 语法错误 (refused: syntax error: {exc.msg}){position}"
        ) from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise refused("嵌套过深, 无法解析", "nested too deeply to parse") from exc
    assert isinstance(tree, ast.Expression | ast.Module)  # by the parse mode
    _measure(tree, kind, limits)
    _Vetter(kind).root(tree)
    return tree


def _measure(tree: ast.AST, kind: Kind, limits: Limits) -> None:
    """Node count and depth, iteratively, before anything recurses over the tree."""
    max_nodes = limits.max_expression_nodes if kind == "expression" else limits.max_script_nodes
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > max_nodes:
            raise refused(
                f"表达式过大 (超过 {max_nodes} 个语法节点)", f"too large: more than {max_nodes} syntax nodes"
            )
        if depth > limits.max_syntax_depth:
            raise refused(
                f"嵌套超过 {limits.max_syntax_depth} 层",
                f"nested more than {limits.max_syntax_depth} levels deep",
                node,
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _is_identity_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and any(node.value is c for c in _IDENTITY_CONSTANTS)


class _Vetter:
    """Checks every node of a parsed tree against the language (recursion is bounded by _measure)."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    def root(self, tree: ast.Expression | ast.Module) -> None:
        if isinstance(tree, ast.Expression):
            self.expr(tree.body)
        else:
            self.block(tree.body, in_loop=False)

    # --- names -------------------------------------------------------------------------

    def name(self, name: str, node: ast.AST) -> None:
        if name.startswith("__") and name.endswith("__"):
            raise refused(f"不允许使用双下划线名称 {name}", f"dunder name '{name}' is not allowed", node)
        if name.startswith("_"):
            raise refused(
                f"不允许使用以 _ 开头的名称 {name}",
                f"names starting with '_' are not allowed: '{name}'",
                node,
            )

    def stored_name(self, name: str, node: ast.AST) -> None:
        self.name(name, node)
        if name in FUNCTIONS:
            raise refused(f"不能给函数名 {name} 赋值", f"cannot assign to the function name '{name}'", node)

    # --- statements --------------------------------------------------------------------

    def block(self, body: Iterable[ast.stmt], *, in_loop: bool) -> None:
        for statement in body:
            self.statement(statement, in_loop=in_loop)

    def statement(self, node: ast.stmt, *, in_loop: bool) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self.target(target)
            self.expr(node.value)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name | ast.Subscript):
                raise refused(
                    "增量赋值只能用于名称或下标", "augmented assignment needs a name or a subscript", node
                )
            self.operator(node.op, node)
            self.target(node.target)
            self.expr(node.value)
        elif isinstance(node, ast.If):
            self.expr(node.test)
            self.block(node.body, in_loop=in_loop)
            self.block(node.orelse, in_loop=in_loop)
        elif isinstance(node, ast.For):
            self.loop_target(node.target)
            self.expr(node.iter)
            self.block(node.body, in_loop=True)
            self.block(node.orelse, in_loop=in_loop)
        elif isinstance(node, ast.Break | ast.Continue):
            if not in_loop:
                word = "break" if isinstance(node, ast.Break) else "continue"
                raise refused(f"{word} 只能出现在 for 循环中", f"'{word}' outside a for loop", node)
        elif isinstance(node, ast.Expr):
            self.expr(node.value)
        elif not isinstance(node, ast.Pass):
            raise _not_allowed(node)

    def target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            self.stored_name(node.id, node)
        elif isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice):
                raise refused("不允许给切片赋值", "assigning to a slice is not allowed", node)
            self.expr(node.value)
            self.expr(node.slice)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.target(element)
        elif isinstance(node, ast.Attribute):
            raise refused(
                "不允许给属性赋值", f"assigning to an attribute (.{node.attr}) is not allowed", node
            )
        else:
            raise _not_allowed(node)

    def loop_target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            self.stored_name(node.id, node)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.loop_target(element)
        else:
            raise refused(
                "循环变量只能是名称或名称元组", "a loop variable must be a name or a tuple of names", node
            )

    # --- expressions -------------------------------------------------------------------

    def operator(self, op: ast.AST, node: ast.AST) -> None:
        if not isinstance(op, _BINARY_OPS):
            raise _not_allowed(op, node)

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            self.constant(node)
        elif isinstance(node, ast.Name):
            self.name(node.id, node)
        elif isinstance(node, ast.BinOp):
            self.operator(node.op, node)
            if isinstance(node.op, ast.Mod) and (
                isinstance(node.left, ast.JoinedStr)
                or (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str))
            ):
                raise refused(
                    "不允许用 % 格式化字符串", "printf-style % formatting of strings is not allowed", node
                )
            self.expr(node.left)
            self.expr(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARY_OPS):
                raise _not_allowed(node.op, node)
            self.expr(node.operand)
        elif isinstance(node, ast.BoolOp):
            self.exprs(node.values)
        elif isinstance(node, ast.Compare):
            self.comparison(node)
        elif isinstance(node, ast.IfExp):
            self.exprs((node.test, node.body, node.orelse))
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Attribute):
            self.expr(node.value)
            self.attribute_name(node.attr, node)
            raise refused(
                f"不允许访问属性 .{node.attr} (只能调用允许的方法)",
                f"attribute access .{node.attr} is not allowed (only calls of allowed methods)",
                node,
            )
        elif isinstance(node, ast.Subscript):
            self.expr(node.value)
            if isinstance(node.slice, ast.Slice):
                self.exprs(part for part in (node.slice.lower, node.slice.upper, node.slice.step) if part)
            else:
                self.expr(node.slice)
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            self.exprs(node.elts)
        elif isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                raise refused("不允许 ** 解包字典", "** unpacking in a dict display is not allowed", node)
            self.exprs(key for key in node.keys if key is not None)
            self.exprs(node.values)
        elif isinstance(node, ast.ListComp | ast.SetComp):
            self.comprehension(node.generators, (node.elt,))
        elif isinstance(node, ast.DictComp):
            self.comprehension(node.generators, (node.key, node.value))
        elif isinstance(node, ast.GeneratorExp):
            raise refused(
                "生成器表达式只能直接作为函数参数, 例如 any(x > 1 for x in xs)",
                "a generator expression may only be a function argument, e.g. any(x > 1 for x in xs)",
                node,
            )
        elif isinstance(node, ast.JoinedStr):
            self.fstring(node)
        else:
            raise _not_allowed(node)

    def exprs(self, nodes: Iterable[ast.expr]) -> None:
        for node in nodes:
            self.expr(node)

    def constant(self, node: ast.Constant) -> None:
        value = node.value
        if value is None or isinstance(value, bool | float | str):
            return
        if isinstance(value, int):
            return
        if isinstance(value, bytes):
            raise refused("不允许 bytes 字面量", "bytes literals are not allowed", node)
        if isinstance(value, complex):
            raise refused("不支持复数", "complex numbers are not allowed", node)
        raise refused(f"不允许的字面量 {value!r}", f"the literal {value!r} is not allowed", node)

    def attribute_name(self, attr: str, node: ast.AST) -> None:
        if attr.startswith("_"):
            raise refused(f"不允许访问属性 .{attr}", f"access to the attribute .{attr} is not allowed", node)

    def comparison(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            if isinstance(op, ast.Is | ast.IsNot) and not (
                _is_identity_constant(operands[index]) or _is_identity_constant(operands[index + 1])
            ):
                raise refused(
                    "is / is not 只能与 None、True、False 比较, 其他情况请用 ==",
                    "'is' / 'is not' only with None, True or False; use == otherwise",
                    node,
                )
        self.exprs(operands)

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            self.name(func.id, func)
            spec = FUNCTIONS.get(func.id)
            if spec is None:
                raise refused(
                    f"不允许调用函数 {func.id}() (可用: {', '.join(FUNCTIONS)})",
                    f"calling '{func.id}()' is not allowed; allowed functions: {', '.join(FUNCTIONS)}",
                    node,
                )
            low, high, keywords = spec.min_args, spec.max_args, spec.keywords
            called = f"{func.id}()"
        elif isinstance(func, ast.Attribute):
            self.expr(func.value)
            self.attribute_name(func.attr, func)
            methods = METHODS.get(func.attr)
            if methods is None:
                raise refused(
                    f"不允许调用方法 .{func.attr}() (可用: {', '.join(METHODS)})",
                    f"calling the method .{func.attr}() is not allowed;"
                    f" allowed methods: {', '.join(METHODS)}",
                    node,
                )
            if self.kind == "expression" and all(method.mutates for method in methods):
                raise refused(
                    f"方法 .{func.attr}() 会修改数据, 只能在脚本中使用",
                    f"the method .{func.attr}() changes a value and is only allowed in scripts",
                    node,
                )
            low = min(method.min_args for method in methods)
            high = max(method.max_args for method in methods)
            keywords = frozenset()
            called = f".{func.attr}()"
        else:
            raise refused(
                "只能调用允许的函数名或方法", "only allowed functions and methods can be called", node
            )
        for keyword in node.keywords:
            if keyword.arg is None:
                raise refused("不允许 ** 解包参数", "** unpacking of arguments is not allowed", node)
            if keyword.arg not in keywords:
                raise refused(
                    f"{called} 没有参数 {keyword.arg}",
                    f"{called} takes no keyword argument '{keyword.arg}'",
                    node,
                )
            self.expr(keyword.value)
        if not low <= len(node.args) <= high:
            raise refused(
                f"{called} 的参数个数应为 {low}–{high}, 实际 {len(node.args)}",
                f"{called} takes {low} to {high} positional arguments, {len(node.args)} given",
                node,
            )
        for argument in node.args:
            if isinstance(argument, ast.GeneratorExp):
                self.comprehension(argument.generators, (argument.elt,))
            else:
                self.expr(argument)

    def comprehension(self, generators: list[ast.comprehension], results: Iterable[ast.expr]) -> None:
        for generator in generators:
            if generator.is_async:
                raise refused("不允许 async 推导式", "async comprehensions are not allowed", generator.target)
            self.loop_target(generator.target)
            self.expr(generator.iter)
            self.exprs(generator.ifs)
        self.exprs(results)

    def fstring(self, node: ast.JoinedStr) -> None:
        for part in node.values:
            if isinstance(part, ast.Constant):
                continue
            if not isinstance(part, ast.FormattedValue):
                raise _not_allowed(part)
            if part.conversion != -1:
                raise refused(
                    f"f-字符串中不允许 !{chr(part.conversion)} 转换",
                    f"f-string conversion !{chr(part.conversion)} is not allowed",
                    part,
                )
            if part.format_spec is not None:
                raise refused(
                    "f-字符串中不允许格式说明 (:...)", "f-string format specs (:...) are not allowed", part
                )
            self.expr(part.value)


def free_names(tree: ast.Expression | ast.Module) -> frozenset[str]:
    """Names read from the case before this text assigns them (what a validator checks)."""
    if isinstance(tree, ast.Expression):
        return frozenset(_free_in_expr(tree.body, frozenset()))
    free, _ = _free_in_block(tree.body, set())
    return frozenset(free)


def _targets(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Tuple | ast.List):
        return set().union(*(_targets(element) for element in node.elts))
    return set()


def _free_in_expr(node: ast.AST, bound: frozenset[str]) -> set[str]:
    if isinstance(node, ast.Name):
        return set() if node.id in bound else {node.id}
    if isinstance(node, ast.Call):
        parts: list[ast.AST] = [*node.args, *(keyword.value for keyword in node.keywords)]
        if isinstance(node.func, ast.Attribute):
            parts.append(node.func.value)
        return set().union(*(_free_in_expr(part, bound) for part in parts))
    if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        free: set[str] = set()
        inner = bound
        for generator in node.generators:
            free |= _free_in_expr(generator.iter, inner)
            inner = inner | _targets(generator.target)
            for condition in generator.ifs:
                free |= _free_in_expr(condition, inner)
        results = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for result in results:
            free |= _free_in_expr(result, inner)
        return free
    return set().union(*(_free_in_expr(child, bound) for child in ast.iter_child_nodes(node)))


def _free_in_block(body: list[ast.stmt], assigned: set[str]) -> tuple[set[str], set[str]]:
    """Free names of a block, and the names definitely assigned after it."""
    free: set[str] = set()
    assigned = set(assigned)
    for node in body:
        if isinstance(node, ast.Assign):
            free |= _free_in_expr(node.value, frozenset(assigned))
            for target in node.targets:
                free |= _free_in_target(target, assigned)
                assigned |= _targets(target)
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                free |= _free_in_expr(ast.Name(node.target.id, ast.Load()), frozenset(assigned))
            free |= _free_in_expr(node.value, frozenset(assigned)) | _free_in_target(node.target, assigned)
            assigned |= _targets(node.target)
        elif isinstance(node, ast.If):
            free |= _free_in_expr(node.test, frozenset(assigned))
            body_free, body_assigned = _free_in_block(node.body, assigned)
            else_free, else_assigned = _free_in_block(node.orelse, assigned)
            free |= body_free | else_free
            assigned |= body_assigned & else_assigned
        elif isinstance(node, ast.For):
            free |= _free_in_expr(node.iter, frozenset(assigned))
            body_free, _ = _free_in_block(node.body, assigned | _targets(node.target))
            else_free, _ = _free_in_block(node.orelse, assigned)
            free |= body_free | else_free
        elif isinstance(node, ast.Expr):
            free |= _free_in_expr(node.value, frozenset(assigned))
    return free, assigned


def _free_in_target(node: ast.expr, assigned: set[str]) -> set[str]:
    if isinstance(node, ast.Subscript):
        return _free_in_expr(node.value, frozenset(assigned)) | _free_in_expr(node.slice, frozenset(assigned))
    if isinstance(node, ast.Tuple | ast.List):
        return set().union(*(_free_in_target(element, assigned) for element in node.elts))
    return set()
