"""The division tree in memory: lookups, ancestors, subtrees and names, without the database.

Built from the ``divisions`` rows (``engine.regions.service``) or from the shipped files
(``engine.regions.loading``); immutable, so one tree is shared by every thread of a process
until an edit replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """The levels of GB/T 2260 divisions, highest first (a 直辖市's districts are counties)."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"

    @property
    def rank(self) -> int:
        """0 for a province down to 3 for a township: a child always ranks below its parent."""
        return _RANKS[self]


_RANKS = {Level.PROVINCE: 0, Level.CITY: 1, Level.COUNTY: 2, Level.TOWNSHIP: 3}


@dataclass(frozen=True)
class Division:
    """One division: its code, names, level and parent code (None for a root)."""

    code: str
    name_zh: str
    name_en: str
    level: Level
    parent: str | None


class DivisionTree:
    """Every known division, indexed by code and by parent.

    A parent code not in the tree makes its child a root (an admin's edit or a partial
    file cannot make lookups loop or fail). Codes not in the tree are unknown: they have
    no ancestors, and their subtree is themselves only.
    """

    def __init__(self, divisions: Iterable[Division]) -> None:
        self._by_code: dict[str, Division] = {d.code: d for d in divisions}
        self._children: dict[str, list[str]] = {}
        self._roots: list[str] = []
        for division in self._by_code.values():
            if division.parent is not None and division.parent in self._by_code:
                self._children.setdefault(division.parent, []).append(division.code)
            else:
                self._roots.append(division.code)
        for codes in self._children.values():
            codes.sort()
        self._roots.sort()
        self._ancestors: dict[str, tuple[str, ...]] = {}
        self._subtrees: dict[str, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> Division | None:
        """The division with this code, or None."""
        return self._by_code.get(code)

    def known(self, code: str) -> bool:
        """Whether the code is in the tree."""
        return code in self._by_code

    def level_of(self, code: str) -> Level | None:
        """The division's level, or None for an unknown code."""
        division = self._by_code.get(code)
        return division.level if division else None

    def children(self, code: str) -> tuple[str, ...]:
        """The codes directly below, in code order."""
        return tuple(self._children.get(code, ()))

    def roots(self) -> tuple[str, ...]:
        """The codes without a (known) parent, in code order: the province-level areas."""
        return tuple(self._roots)

    def ancestors(self, code: str) -> tuple[str, ...]:
        """The code itself first, then each parent up to the root; () for an unknown code."""
        cached = self._ancestors.get(code)
        if cached is not None:
            return cached
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in self._by_code and current not in chain:
            chain.append(current)
            current = self._by_code[current].parent
        result = tuple(chain)
        self._ancestors[code] = result
        return result

    def subtree(self, code: str) -> frozenset[str]:
        """The code and every code below it (an unknown code: itself only)."""
        cached = self._subtrees.get(code)
        if cached is not None:
            return cached
        found: set[str] = set()
        pending = [code]
        while pending:
            current = pending.pop()
            if current in found:
                continue
            found.add(current)
            pending.extend(self._children.get(current, ()))
        result = frozenset(found)
        self._subtrees[code] = result
        return result

    def at_level(self, code: str, level: Level) -> str:
        """The nearest of the code and its ancestors at ``level`` or above (the code if unknown).

        ``county`` lifts a township to its county; ``city`` lifts a county to its city, or
        to the province-level root of a 直辖市 (which has no city level); ``province`` goes
        to the root. A tree whose root is below ``level`` answers its root.
        """
        chain = self.ancestors(code)
        for current in chain:
            if self._by_code[current].level.rank <= level.rank:
                return current
        return chain[-1] if chain else code

    def full_name(self, code: str, lang: str = "zh") -> str:
        """The name with its ancestors': "浙江省杭州市西湖区", or "Xihu District, Hangzhou, Zhejiang".

        An unknown code answers itself; a missing English name falls back to the Chinese one.
        """
        chain = self.ancestors(code)
        if not chain:
            return code
        divisions = [self._by_code[c] for c in chain]
        if lang == "zh":
            return "".join(d.name_zh for d in reversed(divisions))
        return ", ".join(d.name_en or d.name_zh for d in divisions)
