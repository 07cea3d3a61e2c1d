"""The body of ``onething validate PATH...``: every problem printed, a verdict per path, an exit code.

Never raises: whatever goes wrong is printed as a problem of the path being checked.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.validation`` (paths, report), ``engine.errors``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from engine.bpmn.checks.facts import problem
from engine.bpmn.validation.paths import validate_paths
from engine.bpmn.validation.report import Report
from engine.errors import Problem


def format_problem(p: Problem) -> str:
    """One problem as the CLI prints it: ``file: element: message (rule)``."""
    message = p.message + (f" / {p.message_en}" if p.message_en and p.message_en != p.message else "")
    parts = [part for part in (p.file, p.element or p.where) if part]
    return ": ".join([*parts, message]) + (f" ({p.rule})" if p.rule else "")


def format_verdict(report: Report) -> str:
    """The closing line for one path: OK or how many problems, and whether the engine can run it."""
    run = "可运行 runnable" if report.runnable else "不可运行 not runnable"
    if report.unsupported:
        run += " — 不支持 unsupported: " + ", ".join(report.unsupported)
    head = "通过 OK" if report.ok else f"{len(report.problems)} 个问题 problem(s)"
    return f"{report.path}: {head}; {run} [checked: {', '.join(report.checked)}]"


def _write(out: TextIO, text: str) -> None:
    try:
        out.write(text + "\n")
    except UnicodeEncodeError:  # a terminal without UTF-8 still gets every problem
        out.write(text.encode("ascii", "backslashreplace").decode("ascii") + "\n")


def run_validate(paths: Sequence[str], out: TextIO, as_json: bool = False) -> int:
    """The body of ``onething validate PATH...``: every problem, a verdict per path; 1 if any problem.

    Never raises: whatever goes wrong is printed as a problem of the path being checked.
    """
    reports: list[Report] = []
    if not paths:
        reports.append(
            Report(
                "", (problem("", "", "path", "请给出要校验的路径", "give a path to validate"),), False, (), ()
            )
        )
    for raw in paths:
        try:
            reports.extend(validate_paths([Path(raw)]))
        except Exception as exc:  # never a traceback: the failure is reported like any problem
            reports.append(
                Report(
                    raw,
                    (problem(raw, "", "internal", f"校验器内部错误: {exc!r}", f"internal error: {exc!r}"),),
                    False,
                    (),
                    (),
                )
            )
    failed = any(not report.ok for report in reports)
    if as_json:
        _write(
            out,
            json.dumps(
                {"ok": not failed, "reports": [r.as_dict() for r in reports]}, ensure_ascii=False, indent=2
            ),
        )
    else:
        for report in reports:
            for p in report.problems:
                _write(out, format_problem(p))
            _write(out, format_verdict(report))
    return 1 if failed else 0
