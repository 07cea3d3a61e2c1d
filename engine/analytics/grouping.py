"""Which divisions a query reads, and the division each aggregate row is rolled up to.

Every aggregate row keeps the division it counts for (``engine.analytics.rows``). A query
reads either every division or one division's subtree (a city reads its districts too),
and reports either one figure over all of them, one per division (``by division``), or one
per ancestor at a level (``level=county`` gathers a county's townships; ``level=city``
gathers a city's counties, and a 直辖市's districts into the 直辖市, which has no city
level; rows above the level stay as they are: a province office at ``level=county`` is
its own group). Grouping never needs the history: it maps codes of the rows already read.

May import: ``engine.regions``, ``engine.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InvalidInput, Problem
from engine.regions.tree import DivisionTree, Level


@dataclass(frozen=True)
class DivisionScope:
    """The divisions a query reads (``codes``, None = all) and how it groups them."""

    codes: frozenset[str] | None = None
    level: Level | None = None
    by_division: bool = False
    tree: DivisionTree | None = None

    @property
    def grouped(self) -> bool:
        """Whether each row carries a division (one figure per group) instead of one over all."""
        return self.by_division or self.level is not None

    def group(self, code: str) -> str | None:
        """The division a row of ``code`` counts for: itself, its ancestor at the level, or None."""
        if self.level is not None and self.tree is not None:
            return self.tree.at_level(code, self.level)
        return code if self.by_division else None

    def name(self, code: str | None, lang: str = "zh") -> str:
        """A group's full name ("浙江省杭州市"); '' for the ungrouped figure."""
        if code is None:
            return ""
        return self.tree.full_name(code, lang) if self.tree is not None else code


def division_scope(
    tree: DivisionTree | None,
    division: str | None = None,
    level: str | None = None,
    group_by_division: bool = False,
    *,
    reach: str | None = None,
) -> DivisionScope:
    """The scope of a query: ``division``'s subtree (None = all), rolled up to ``level`` or per division.

    ``reach`` is the asking person's own division (an analyst scoped to a subtree, 分级授权;
    None = the whole platform): the scope is the part of ``division``'s subtree inside it,
    so asking outside it reads nothing, as the scoped queues and case lists answer an empty
    page. An unknown division is its own subtree only (it reads nothing either). An unknown
    level is refused (``InvalidInput``). Without a tree (a database with no regions yet)
    only the unfiltered, ungrouped scope exists.
    """
    if division is None and reach is None and level is None and not group_by_division:
        return DivisionScope(tree=tree)
    if tree is None:
        raise ValueError("grouping or filtering by division needs the division tree")
    codes = None
    for code in (division, reach):
        if code is not None:
            below = tree.subtree(code)
            codes = below if codes is None else codes & below
    parsed = None
    if level is not None:
        try:
            parsed = Level(level)
        except ValueError:
            en = "level must be province, city, county or township"
            raise InvalidInput(
                en, [Problem("层级须为 province、city、county 或 township", where="level", message_en=en)]
            ) from None
    return DivisionScope(codes, parsed, group_by_division, tree)
