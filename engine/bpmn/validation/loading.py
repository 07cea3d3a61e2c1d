"""SpiffWorkflow loading the diagram as a deployment would; its refusals as problems.

The last gate before a verdict of runnable: the engine's own parser builds the specs of
the executable processes (or, with a usable manifest, ``load_definition`` loads the whole
bundle, and that definition runs the examples).

May import: ``engine.bpmn.definitions``, ``engine.bpmn.manifest``, ``engine.bpmn.checks.facts``,
``engine.errors``, lxml, SpiffWorkflow (its exceptions).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.bpmn.checks.facts import DiagramFacts, problem
from engine.bpmn.definitions import BundleDefinition, build_parser, load_definition
from engine.bpmn.manifest import Manifest
from engine.errors import DefinitionError, Problem


def spiff_load(
    root: etree._Element, name: str, dmns: Mapping[str, etree._Element], process_ids: Sequence[str]
) -> list[Problem]:
    """Whether SpiffWorkflow builds specs for these processes, its refusals as problems."""
    problems: list[Problem] = []
    try:
        parser = build_parser(copy.deepcopy(root), name, {n: copy.deepcopy(t) for n, t in dmns.items()})
    except Exception as exc:  # SpiffWorkflow raises anything from ValidationException to AttributeError
        return [load_problem(name, exc)]
    for process_id in process_ids:
        try:
            parser.get_spec(process_id)
            parser.get_subprocess_specs(process_id)
        except Exception as exc:  # as above
            problems.append(load_problem(name, exc, process_id))
    return problems


def load_problem(name: str, exc: Exception, element: str = "") -> Problem:
    """A SpiffWorkflow refusal as a problem, at the element and file it names when it names them."""
    if isinstance(exc, ValidationException):
        element = str(getattr(exc, "id", "") or element)
        name = str(getattr(exc, "file_name", "") or name)
    return problem(
        name,
        element,
        "bpmn-parse",
        f"SpiffWorkflow 无法加载流程图: {exc}",
        f"SpiffWorkflow cannot load the diagram: {exc}",
    )


def load_as_deployed(
    files: Mapping[str, bytes],
    manifest: Manifest | None,
    facts: DiagramFacts,
    root: etree._Element,
    process_name: str,
    dmns: Mapping[str, etree._Element],
    max_bytes: int,
) -> tuple[list[Problem], BundleDefinition | None]:
    """Load as a deployment would; without a usable manifest, load the diagram's executable processes.

    The definition comes back when the whole bundle loaded, for running its examples.
    """
    if manifest is None or manifest.key not in facts.executable:
        return spiff_load(root, process_name, dmns, facts.executable), None
    try:
        return [], load_definition(files, max_bytes)
    except DefinitionError as exc:
        if isinstance(exc.__cause__, Exception):
            return [load_problem(process_name, exc.__cause__)], None
        found = [replace(p, rule=p.rule or "bpmn-parse", file=p.file or process_name) for p in exc.problems]
        return found, None
    except Exception as exc:  # SpiffWorkflow raises more than load_definition translates
        return [load_problem(process_name, exc)], None


def new_problems(load_problems: Sequence[Problem], facts: DiagramFacts) -> list[Problem]:
    """The load problems at elements the diagram checks have not already named.

    SpiffWorkflow refuses some diagrams the checks already explained (a message reference
    to no message, a task priority that is no integer): its terser words would only repeat
    them. The verdict still counts every load problem.
    """
    named = {(p.file, p.element) for p in facts.problems if p.element}
    return [p for p in load_problems if (p.file, p.element) not in named]
