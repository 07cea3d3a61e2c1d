"""A validation run and its verdict: the names of the checks, the ``Report``, and the ``Run`` that gathers it.

Every check runs inside ``Run.check``: a check that crashes becomes a problem of its own
instead of hiding the others, and a check that finishes is listed in ``Report.checked``.

May import: ``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engine.errors import Problem

# The names of the checks, as a report lists the ones that ran.
CHECK_FILES = "files"
CHECK_XML = "xml"
CHECK_DIAGRAM = "diagram"
CHECK_DMN = "dmn"
CHECK_MANIFEST = "manifest"
CHECK_BINDINGS = "bindings"
CHECK_FORM = "form"
CHECK_EXAMPLES = "examples"
CHECK_NAMES = "names"
CHECK_LOAD = "load"
CHECK_ROUTES = "routes"
CHECK_VARIANT = "variant"


@dataclass(frozen=True)
class Report:
    """The verdict on one bundle or BPMN file.

    ``runnable``: SpiffWorkflow loads the diagram and the engine supports every element in
    it (problems elsewhere, e.g. in the manifest, still block a deployment);
    ``unsupported``: each element the engine cannot run, as ``id (what)``;
    ``checked``: the checks that ran to the end (a lone ``.bpmn`` has no manifest checks).
    """

    path: str
    problems: tuple[Problem, ...]
    runnable: bool
    unsupported: tuple[str, ...]
    checked: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when there is nothing to fix."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for the CLI and the API."""
        return {
            "path": self.path,
            "ok": self.ok,
            "runnable": self.runnable,
            "unsupported": list(self.unsupported),
            "checked": list(self.checked),
            "problems": [p.as_dict() for p in self.problems],
        }


class Run:
    """Problems and finished checks of one report; a check that crashes becomes a problem."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.checked: list[str] = []
        self.unsupported: list[str] = []

    @contextmanager
    def check(self, name: str, file: str = "") -> Iterator[None]:
        """Run one check; its crash is a problem at ``file``, its end a name in ``checked``."""
        try:
            yield
        except Exception as exc:  # a bug in one check must not hide the other problems
            self.problems.append(
                Problem(
                    f"校验器内部错误 ({name}): {exc!r}",
                    file=file,
                    rule="internal",
                    message_en=f"internal error in the {name} check: {exc!r}",
                )
            )
        else:
            if name not in self.checked:
                self.checked.append(name)

    def report(self, path: str, runnable: bool) -> Report:
        """The verdict: each problem once, grouped by file in the order found."""
        unique = list({(p.file, p.element, p.rule, p.message, p.where): p for p in self.problems}.values())
        unique.sort(key=lambda p: p.file)
        return Report(
            path, tuple(unique), runnable, tuple(dict.fromkeys(self.unsupported)), tuple(self.checked)
        )
