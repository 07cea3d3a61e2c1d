"""A module's mutation score from mutmut's results, with and without mutants of message text.

A mutant that changes only the text of a message (a string in a raised error, in a
``Problem`` or a ``Failure`` message, the whole such argument replaced by ``None``, or any
argument of a call that only builds a message) says nothing about the rules, so the score
is given twice: over all mutants, and over the "rule" mutants that remain. A mutant is of
message text when its function and the original differ only under message positions;
everything else, including a changed rule name (``Failure``'s first argument) or a dropped
argument, counts as a rule mutant.

    .venv/bin/python -m tests.mutation.score mutants/forms.checks/mutants forms/checks.py
"""

from __future__ import annotations

import ast
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py): what counts as killed, and what as not killed.
KILLED = {
    1: "killed",
    3: "killed",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
}
NOT_KILLED = {0: "survived", 5: "no tests", 33: "no tests", 35: "suspicious", None: "not checked"}

# Calls whose arguments at these positions (index or keyword) are message text.
MESSAGE_ARGUMENTS: dict[str, frozenset[int | str]] = {
    "Problem": frozenset({0, "message", "message_en"}),
    "Failure": frozenset({1, 2, "message", "message_en"}),
}
# Calls that only build a message: every argument, and how many there are, is message text.
# (engine.expressions.vetting: ``refused(zh, en, node)`` words a refusal and places it at the
# node; ``_not_allowed(construct, node)`` names the construct and places it.)
MESSAGE_BUILDERS = frozenset({"refused", "_not_allowed"})


@dataclass
class Score:
    """Killed and total mutants of one module, over all mutants and over rule mutants."""

    path: str
    statuses: Counter[str] = field(default_factory=Counter)
    killed: int = 0
    total: int = 0
    rule_killed: int = 0
    rule_total: int = 0
    rule_survivors: list[str] = field(default_factory=list)

    def add(self, name: str, exit_code: int | None, message_only: bool) -> None:
        """Count one mutant's result."""
        status = KILLED.get(exit_code) if exit_code in KILLED else NOT_KILLED.get(exit_code, "suspicious")
        self.statuses[status or "suspicious"] += 1
        killed = exit_code in KILLED
        self.total += 1
        self.killed += killed
        if not message_only:
            self.rule_total += 1
            self.rule_killed += killed
            if not killed:
                self.rule_survivors.append(name)

    def summary(self) -> str:
        """One line: killed / total, and the same for rule mutants."""
        return (
            f"{self.path}: killed {self.killed}/{self.total} ({percent(self.killed, self.total)}), "
            f"rules {self.rule_killed}/{self.rule_total} ({percent(self.rule_killed, self.rule_total)})"
        )

    def report(self) -> str:
        """The summary, the count per status, and the rule mutants not killed (for ``mutmut show``)."""
        lines = [self.summary(), "  " + ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))]
        lines += [f"  not killed: {name}" for name in self.rule_survivors]
        return "\n".join(lines)


def percent(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with one decimal."""
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _message_positions(call: ast.Call, raised: bool) -> frozenset[int | str]:
    """Which arguments of ``call`` are message text (from the original, unmutated call)."""
    known = MESSAGE_ARGUMENTS.get(_call_name(call) or "")
    if known is not None:
        return known
    if raised:  # raise SomeError("text", ...): its text arguments
        return frozenset(i for i, arg in enumerate(call.args) if _is_text(arg))
    return frozenset()


def same_but_messages(orig: ast.AST, mutant: ast.AST, raised: bool = False) -> bool:
    """Whether two trees are equal once every message argument is disregarded."""
    if type(orig) is not type(mutant):
        return False
    if isinstance(orig, ast.Raise):
        assert isinstance(mutant, ast.Raise)
        return same_but_messages_in(orig.exc, mutant.exc, raised=True) and same_but_messages_in(
            orig.cause, mutant.cause
        )
    if isinstance(orig, ast.Call):
        assert isinstance(mutant, ast.Call)
        if _call_name(orig) in MESSAGE_BUILDERS:
            return same_but_messages(orig.func, mutant.func)
        positions = _message_positions(orig, raised)
        if not same_but_messages(orig.func, mutant.func) or len(orig.args) != len(mutant.args):
            return False
        for index, (a, b) in enumerate(zip(orig.args, mutant.args, strict=True)):
            if index not in positions and not same_but_messages(a, b):
                return False
        kept_a = [k for k in orig.keywords if k.arg not in positions]
        kept_b = [k for k in mutant.keywords if k.arg not in positions]
        return len(kept_a) == len(kept_b) and all(
            a.arg == b.arg and same_but_messages(a.value, b.value)
            for a, b in zip(kept_a, kept_b, strict=True)
        )
    for name, value in ast.iter_fields(orig):
        if name in ("lineno", "col_offset", "end_lineno", "end_col_offset", "ctx"):
            continue
        other = getattr(mutant, name)
        if isinstance(value, list):
            if not isinstance(other, list) or len(value) != len(other):
                return False
            if not all(same_but_messages_in(a, b) for a, b in zip(value, other, strict=True)):
                return False
        elif not same_but_messages_in(value, other):
            return False
    return True


def same_but_messages_in(orig: object, mutant: object, raised: bool = False) -> bool:
    """``same_but_messages`` for a field's value, which need not be a node."""
    if isinstance(orig, ast.AST) and isinstance(mutant, ast.AST):
        return same_but_messages(orig, mutant, raised)
    return orig == mutant


def _functions(mutated_file: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(mutated_file.read_text(encoding="utf-8"))
    return {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def is_message_only(functions: dict[str, ast.FunctionDef], mutant_key: str) -> bool:
    """Whether a mutant (``engine.time.calendar.xǁWorkCalendarǁdescribe__mutmut_3``) changes only messages."""
    generated = mutant_key.rpartition(".")[2]
    original = functions[generated.partition("__mutmut_")[0] + "__mutmut_orig"]
    mutant = functions[generated]
    bodies = zip(original.body, mutant.body, strict=False)
    return len(original.body) == len(mutant.body) and all(same_but_messages(a, b) for a, b in bodies)


def score_module(mutants_dir: Path, path: str) -> Score:
    """Read mutmut's results for the module at ``path`` (relative to the project) and score them."""
    meta = json.loads((mutants_dir / f"{path}.meta").read_text(encoding="utf-8"))
    functions = _functions(mutants_dir / path)
    score = Score(path)
    for key, exit_code in sorted(meta["exit_code_by_key"].items()):
        score.add(key, exit_code, is_message_only(functions, key))
    return score


if __name__ == "__main__":
    print(score_module(Path(sys.argv[1]), sys.argv[2]).report())
