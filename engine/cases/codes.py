"""办件编码 (case codes): the number a case is known by outside onething, from a configured pattern.

A code is assigned once, when the application is accepted and the case id is known, from
``Settings.case_code_pattern`` (checked when the settings load): ``{date:%Y%m%d}`` is the
China-local date of submission (a case filed at 07:00 Beijing time on 3 March carries
0303, although it is still 2 March in UTC), ``{id:08d}`` the case id (which makes codes
unique), ``{bundle}`` the bundle key. Department systems use the code as the business key
of messages, and the national 办件 data reports it.

Cases from before codes existed may have none (``None``): every view tolerates that.

May import: ``engine.storage``, ``engine.time``, ``engine.errors``.
"""

from __future__ import annotations

from datetime import date

from engine.errors import DefinitionError
from engine.storage.models import Case
from engine.storage.settings import CASE_CODE_MAX
from engine.time.calendar import WorkCalendar


def case_code(pattern: str, *, case_id: int, bundle: str, day: date) -> str:
    """The code a pattern gives one case (``day`` is the China-local date of submission)."""
    code = pattern.format(date=day, id=case_id, bundle=bundle)
    if len(code) > CASE_CODE_MAX:
        # The pattern was checked with a bundle key of a usual length; this one is longer.
        raise DefinitionError(
            f"办件编码过长 (case code {code!r} is longer than {CASE_CODE_MAX} characters: "
            f"shorten case_code_pattern {pattern!r} or the bundle key)"
        )
    return code


def assign_code(case: Case, pattern: str, calendar: WorkCalendar) -> str:
    """Give a just-inserted case (its id known) its code, dated by the calendar's local date."""
    case.code = case_code(
        pattern, case_id=case.id, bundle=case.bundle_key, day=calendar.local_date(case.created_at)
    )
    return case.code
