"""The guard of every action that would move a suspended case (挂起): one refusal, one text.

May import: ``engine.cases.states``, ``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from engine.cases.states import CaseStatus
from engine.errors import CaseSuspendedError
from engine.storage.models import Case

SUSPENDED_TEXT = "办件已暂停办理（挂起），恢复后方可继续 (the case is suspended; it goes on once resumed)"


def refuse_if_suspended(case: Case) -> None:
    """Raise ``CaseSuspendedError`` (409) for a suspended case."""
    if case.status == CaseStatus.SUSPENDED:
        raise CaseSuspendedError(SUSPENDED_TEXT)
