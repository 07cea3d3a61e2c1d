"""Offices and divisions as the pages name them: full names in both languages, never codes.

The pages show where a task is handled (an office: a department at a division) and let
people pick a division (the inbox filter of a supervisor, the 办理地区 of an application).
The engine's regions service knows the tree and the offices; these helpers turn them into
``Label`` values and select options for the templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.cases.views import Label, office_label
from engine.cases.visibility import TaskReach
from engine.regions.service import Regions


@dataclass(frozen=True)
class Choice:
    """One option of a division select: the code posted back and the name shown."""

    code: str
    name: Label


@dataclass(frozen=True)
class ChoiceGroup:
    """The options under one province-level division (an ``<optgroup>``)."""

    name: Label
    choices: tuple[Choice, ...]


def division_label(regions: Regions, code: str) -> Label:
    """A division's full name in both languages ("上海市黄浦区", "Huangpu District, Shanghai")."""
    return Label(regions.full_name(code, "zh"), regions.full_name(code, "en"))


def own_offices(regions: Regions, departments: frozenset[str], division: str | None) -> list[Label]:
    """The names of a clerk's offices: each of their departments at their own division."""
    own = regions.own(division)
    return [office_label(regions, d, own) for d in sorted(departments)]


def reach_divisions(regions: Regions, reach: TaskReach) -> list[Choice]:
    """The divisions with an office of the reach's departments inside the reach, by code.

    What a supervisor (or a scoped admin) may narrow their inbox to: their own division and
    the offices below it.
    """
    codes = {
        o.division
        for o in regions.offices()
        if (reach.departments is None or o.department in reach.departments)
        and (reach.divisions is None or o.division in reach.divisions)
    }
    return [Choice(code, division_label(regions, code)) for code in sorted(codes)]


def several_divisions(reach: TaskReach) -> bool:
    """Whether the reach spans more than one division (then each task says its office)."""
    return reach.divisions is None or len(reach.divisions) > 1


def division_groups(regions: Regions) -> list[ChoiceGroup]:
    """Every known division for the 办理地区 select, grouped under its province-level root.

    Within a group, the root first and then each division in tree order (a city before its
    counties), each named with its full name so a county is never mistaken for another.
    """
    tree = regions.tree()
    groups: list[ChoiceGroup] = []
    for root in sorted(tree.roots()):
        codes: list[str] = []
        pending = [root]
        while pending:
            code = pending.pop(0)
            codes.append(code)
            pending[0:0] = sorted(tree.children(code))
        groups.append(
            ChoiceGroup(
                division_label(regions, root), tuple(Choice(c, division_label(regions, c)) for c in codes)
            )
        )
    return groups
