"""Known ways out of Python sandboxes, and what the restricted language must answer to each.

``refused`` entries must be stopped by static vetting (``check_expression``/``check_script``),
before anything runs; ``failed`` entries are inside the grammar but must stop at a run-time
bound (steps, sizes, nesting) with ``ExpressionFailed``. ``fragment`` is a piece of the
message that names the construct, so a refusal for the wrong reason does not pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Escape:
    """One hostile text, where it is used, and the expected answer."""

    source: str
    fragment: str
    kind: Literal["expression", "script"] = "expression"
    outcome: Literal["refused", "failed"] = "refused"

    def __str__(self) -> str:
        shown = self.source if len(self.source) <= 50 else self.source[:47] + "..."
        return f"{self.kind}:{shown!r}"


# Values the corpus runs against (some entries reach for them).
NAMES = {"x": "text", "d": {"a": 1}, "n": 10**10, "big": 10**9, "nine": 9, "items": [1, 2, 3]}

ESCAPES: list[Escape] = [
    # --- the classic chain to builtins and os ----------------------------------------
    Escape("__import__('os').system('id')", "__import__"),
    Escape("().__class__.__mro__[1].__subclasses__()", ".__class__"),
    Escape("().__class__.__base__.__subclasses__()", ".__class__"),
    Escape("[c for c in ().__class__.__base__.__subclasses__()]", ".__class__"),
    Escape("[].__class__", ".__class__"),
    Escape("(1).__class__.__bases__", ".__class__"),
    Escape("x.__class__.__init__.__globals__", ".__class__"),
    Escape("x.__dict__", ".__dict__"),
    Escape("x.__reduce__()", ".__reduce__"),
    Escape("x.__reduce_ex__(2)", ".__reduce_ex__"),
    Escape("x.__getattribute__('upper')", ".__getattribute__"),
    Escape("x.lower.__self__", "attribute access .lower"),
    Escape("1 if True else __import__('os')", "__import__"),
    # --- builtins that reach code, frames or files -----------------------------------
    Escape("open('/etc/passwd').read()", "open()"),
    Escape("eval('1')", "eval()"),
    Escape("exec('x=1')", "exec()"),
    Escape("compile('1', 'f', 'eval')", "compile()"),
    Escape("globals()", "globals()"),
    Escape("locals()", "locals()"),
    Escape("vars()", "vars()"),
    Escape("dir()", "dir()"),
    Escape("getattr(1, '__class__')", "getattr()"),
    Escape("setattr(d, 'a', 1)", "setattr()"),
    Escape("type(1)", "type()"),
    Escape("object()", "object()"),
    Escape("super()", "super()"),
    Escape("memoryview(x)", "memoryview()"),
    Escape("bytes(10**9)", "bytes()"),
    Escape("bytearray(10**9)", "bytearray()"),
    Escape("breakpoint()", "breakpoint()"),
    Escape("help()", "help()"),
    Escape("input()", "input()"),
    Escape("print('x')", "print()"),
    Escape("chr(95) * 2", "chr()"),
    Escape("date.today()", ".today()"),
    Escape("sorted(items, key=len)", "key"),
    Escape("min(items, key=lambda v: -v)", "key"),
    # --- names that are builtins or dunders --------------------------------------------
    Escape("__builtins__", "__builtins__"),
    Escape("__loader__", "__loader__"),
    Escape("__spec__.loader", "__spec__"),
    Escape("_", "'_'"),
    Escape("_x + 1", "'_x'"),
    Escape("[_ for _ in items]", "'_'"),
    # Python folds identifiers with NFKC: these arrive as __import__ and open.
    Escape("_＿import＿＿('os')", "__import__"),
    Escape("__ｉｍｐｏｒｔ__('os')", "__import__"),
    Escape("ｏｐｅｎ('/etc/passwd')", "open()"),
    Escape("ｅｖａｌ('1')", "eval()"),
    # --- format-string tricks -----------------------------------------------------------
    Escape('"{0.__class__}".format(1)', ".format()"),
    Escape("'{x.__class__}'.format_map({'x': 1})", ".format_map()"),
    Escape("x.format_map(d)", ".format_map()"),
    Escape("format(1, 'x')", "format()"),
    Escape("'%s' % x", "% formatting"),
    Escape("'%(a)s' % d", "% formatting"),
    Escape("'%*d' % (10**9, 1)", "% formatting"),
    Escape("x % d", "% formatting", outcome="failed"),
    Escape("f'{x!r}'", "!r"),
    Escape("f'{x!a}'", "!a"),
    Escape("f'{x.__class__}'", ".__class__"),
    Escape("f'{x:{nine}}'", "format spec"),
    Escape("f'{x:>1000000000}'", "format spec"),
    # --- functions, generators, assignment expressions ---------------------------------
    Escape("lambda: 1", "lambda"),
    Escape("(lambda: 0).__globals__", "lambda"),
    Escape("(y := 1)", ":="),
    Escape("(x for x in items)", "generator expression"),
    Escape("(yield)", "yield"),
    Escape("{**d}", "** unpacking"),
    Escape("max(*items)", "* unpacking"),
    Escape("len(**d)", "** unpacking"),
    Escape("items.append(4)", "only allowed in scripts"),
    Escape("b'abc'", "bytes literal"),
    Escape("1j", "complex"),
    Escape("...", "Ellipsis"),
    Escape("x @ d", "@"),
    Escape("~nine", "~"),
    Escape("nine | 1", "|"),
    Escape("x is x", "'is'"),
    # --- size and time bombs --------------------------------------------------------------
    Escape("9**9**9", "exponent too large"),
    Escape("2**10000000", "exponent too large"),
    Escape("1<<10**9", "<<"),
    Escape("'a'*10**10", "value too large"),
    Escape("[0]*10**9", "value too large"),
    Escape("(1,) * 10**9", "value too large"),
    Escape("nine**big", "exponent too large", outcome="failed"),
    Escape("x * n", "value too large", outcome="failed"),
    Escape("items * n", "value too large", outcome="failed"),
    Escape("list(range(10**12))", "step budget", outcome="failed"),
    Escape("sum(range(10**12))", "step budget", outcome="failed"),
    Escape("max(range(10**12))", "step budget", outcome="failed"),
    Escape("[i for i in range(10**6) for j in range(10**6)]", "step budget", outcome="failed"),
    Escape("len(range(10**100))", "OverflowError", outcome="failed"),
    Escape("int('9' * 5000)", "integer", outcome="failed"),
    # --- deep nesting and huge text (hits the parser's own recursion if let through) --------
    Escape("(" * 100_000 + ")" * 100_000, "text too long"),
    Escape("(" * 500 + "1" + ")" * 500, "brackets nested"),
    Escape("[" * 10_000 + "]" * 10_000, "text too long"),
    Escape("[" * 900 + "]" * 900, "brackets nested"),
    Escape("-" * 1_500 + "1", "tokens"),
    Escape("not " * 450 + "x", "nested more than"),
    Escape("1" + "+1" * 5_000, "text too long"),
    Escape("x" + "[0]" * 600, "tokens"),
    Escape("f'{" + "-" * 1_990 + "1}'", "tokens"),
    Escape("1" * 5_000, "text too long"),
    Escape("a\x00b", "syntax error"),
    # --- statements outside the script language ----------------------------------------------
    Escape("import os", "import", "script"),
    Escape("from os import system", "from ... import", "script"),
    Escape("def f():\n    return 1", "def", "script"),
    Escape("async def f():\n    pass", "async def", "script"),
    Escape("class A:\n    pass", "class", "script"),
    Escape("while True:\n    pass", "while", "script"),
    Escape("try:\n    x = 1\nexcept Exception:\n    pass", "try/except", "script"),
    Escape("with open('/etc/passwd') as f:\n    data = f.read()", "with", "script"),
    Escape("global x\nx = 1", "global", "script"),
    Escape("nonlocal x", "nonlocal", "script"),
    Escape("del x", "del", "script"),
    Escape("raise SystemExit", "raise", "script"),
    Escape("assert False", "assert", "script"),
    Escape("match x:\n    case 1:\n        pass", "match", "script"),
    Escape("x: int = 1", "annotated", "script"),
    Escape("break", "outside a for loop", "script"),
    Escape("f = lambda: 1", "lambda", "script"),
    Escape("len = 5", "function name 'len'", "script"),
    Escape("__builtins__ = {}", "__builtins__", "script"),
    Escape("d.__class__ = 1", "attribute", "script"),
    Escape("x.y = 1", "attribute", "script"),
    Escape("items[0:2] = items", "slice", "script"),
    Escape("for i in range(3):\n    def g():\n        pass", "def", "script"),
    Escape("for i in range(10**12):\n    pass", "step budget", "script", "failed"),
    Escape("l = [0]\nfor i in range(100):\n    l = l + l", "value too large", "script", "failed"),
    Escape("l = [0]\nfor i in range(100):\n    l.extend(l)", "step budget", "script", "failed"),
    Escape("s = 'a'\nfor i in range(100):\n    s += s", "value too large", "script", "failed"),
    Escape("l = []\nl.append(l)", "nested more than", "script", "failed"),
    Escape("x = []\nfor i in range(100):\n    x = [x]", "nested more than", "script", "failed"),
    Escape("r = range(10)", "range cannot be stored", "script", "failed"),
    Escape("items.append(1)\nz = 1 / 0", "division by zero", "script"),
    Escape("items.append(1)\nz = 1 / (nine - 9)", "division by zero", "script", "failed"),
]
