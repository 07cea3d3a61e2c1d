"""Who is acting: the engine checks visibility and rights against an ``Actor``.

Visibility lives in the engine (not in each route) so the API, the pages and the CLI all
apply the same rules: applicants see their own cases; clerks see tasks of their
departments and case data only through their item's view; analysts read everything;
admins manage accounts and bundles; a department's system account sees and works only its
department's external tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """The roles of design.md."""

    APPLICANT = "applicant"
    CLERK = "clerk"
    ANALYST = "analyst"
    ADMIN = "admin"
    # A department's own back-office system (登记系统, 税务系统, ...): bound to exactly one
    # department, it fetches and completes that department's external tasks through
    # /engine-rest and reads nothing meant for people.
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """A signed-in person as the engine sees them."""

    username: str
    role: Role
    departments: frozenset[str] = field(default_factory=frozenset)
    supervisor: bool = False
    # The account's division (行政区划 code): a clerk's office, a supervisor's or system's
    # subtree, an analyst's or admin's scope; None is the default division (clerks, systems)
    # or the whole platform (analysts, admins). Read through engine.regions, never here.
    division: str | None = None

    @classmethod
    def system(cls) -> Actor:
        """The engine itself (timers, simulations, follow-on cases)."""
        return cls("system", Role.ADMIN)

    def system_of(self, department: str) -> bool:
        """Whether this is the system account of the department (its external tasks are its own)."""
        return self.role is Role.SYSTEM and department in self.departments

    def in_department(self, department: str) -> bool:
        """Whether this clerk works in the department's queue."""
        return self.role is Role.CLERK and department in self.departments
