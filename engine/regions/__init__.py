"""Regions: the 行政区划 (division) tree, department offices, and routing of tasks to offices.

A task waits in the queue of one office, a (department, division) pair; ``Regions.route``
walks the tree upwards from a case's division to the level the item is decided at, then to
the nearest division with an office of the department (the default division has every
department's office). Scope checks for administrators (分级授权) are subtree membership.

Sits below ``engine.bpmn`` and ``engine.people`` (which call it) and above ``engine.storage``;
it never imports people or cases: callers pass plain values (codes, departments, scopes).
"""

from __future__ import annotations

from engine.regions.service import OfficeView, Regions
from engine.regions.tree import Division, DivisionTree, Level

__all__ = ["Division", "DivisionTree", "Level", "OfficeView", "Regions"]
