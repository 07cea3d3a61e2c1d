"""Four-eyes review of bundle versions: draft -> in review -> published (or returned, or withdrawn).

An analyst's save in the studio is a *draft*: stored, numbered in the key's one version
sequence, validated like any deployment, but not offered to applicants. Its author submits it
for review; another analyst or an admin (never the author, never who submitted it) publishes
it, or returns it to draft with a note. Only published versions start new cases. Direct
deployments (``POST /api/bundles``, the shipped bundles at start) publish at once, as before.

This module holds the states and the rules of moving between them, as plain values; the
rows change in ``engine.bpmn.deployments``.

May import: ``engine.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from engine.errors import Conflict, InvalidInput, NotAllowed, Problem


class VersionStatus(StrEnum):
    """Where a deployed version stands in review (the ``deployments.status`` column)."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class ReviewAction(StrEnum):
    """What a reviewer or the author does to a version."""

    SUBMIT = "submit"
    PUBLISH = "publish"
    RETURN = "return"
    WITHDRAW = "withdraw"


# The state each action needs, and the state it leaves.
_MOVES: dict[ReviewAction, tuple[frozenset[VersionStatus], VersionStatus]] = {
    ReviewAction.SUBMIT: (frozenset({VersionStatus.DRAFT}), VersionStatus.IN_REVIEW),
    ReviewAction.PUBLISH: (frozenset({VersionStatus.IN_REVIEW}), VersionStatus.PUBLISHED),
    ReviewAction.RETURN: (frozenset({VersionStatus.IN_REVIEW}), VersionStatus.DRAFT),
    ReviewAction.WITHDRAW: (
        frozenset({VersionStatus.DRAFT, VersionStatus.IN_REVIEW}),
        VersionStatus.WITHDRAWN,
    ),
}

STATUS_WORDS: dict[VersionStatus, tuple[str, str]] = {
    VersionStatus.DRAFT: ("草稿", "draft"),
    VersionStatus.IN_REVIEW: ("待审核", "in review"),
    VersionStatus.PUBLISHED: ("已发布", "published"),
    VersionStatus.WITHDRAWN: ("已撤回", "withdrawn"),
}

MAX_NOTE = 2000


@dataclass(frozen=True)
class ReviewState:
    """One version's review columns as they stand: the input of ``next_status``."""

    key: str
    version: int
    status: VersionStatus
    author: str
    submitted_by: str | None


@dataclass(frozen=True)
class Reviewed:
    """A version after a review action: its new state and who did what, when."""

    key: str
    version: int
    status: VersionStatus
    division: str | None
    author: str
    submitted_by: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None
    # A published base re-applies the divisions' variants onto itself: their new versions.
    variants: tuple[int, ...] = ()


def next_status(state: ReviewState, action: ReviewAction, by: str, *, is_admin: bool) -> VersionStatus:
    """The status ``action`` by ``by`` leads to, or the reason it may not happen.

    Four eyes: publishing and returning are for someone other than the author and whoever
    submitted the version (``NotAllowed``, 403). Withdrawing is the author's, or an admin's.
    An action the current status does not allow is a ``Conflict`` (409).
    """
    allowed_from, to = _MOVES[action]
    label = f"{state.key} v{state.version}"
    if state.status not in allowed_from:
        zh, en = STATUS_WORDS[state.status]
        raise Conflict(f"{label} 当前状态为{zh}，不能执行此操作 ({label} is {en}: cannot {action.value} it)")
    if action in (ReviewAction.PUBLISH, ReviewAction.RETURN) and by in _authors(state):
        raise NotAllowed(
            f"四眼原则：{label} 由您起草或提交，须由另一位分析员或管理员审核发布 "
            f"(four eyes: you drafted or submitted {label}; another analyst or an admin must review it)"
        )
    if action is ReviewAction.WITHDRAW and by != state.author and not is_admin:
        raise NotAllowed(
            f"只有起草人或管理员可以撤回 {label} (only its author or an admin may withdraw {label})"
        )
    return to


def _authors(state: ReviewState) -> set[str]:
    return {state.author} | ({state.submitted_by} if state.submitted_by else set())


def clean_note(note: str | None, *, required: bool) -> str | None:
    """A review note stripped and bounded; a return must say why (``InvalidInput``, 422)."""
    text = (note or "").strip()
    if required and not text:
        raise InvalidInput(
            "退回须写明原因 (a return needs a note)",
            [Problem("请写明退回原因", where="note", rule="required", message_en="Say why it is returned")],
        )
    if len(text) > MAX_NOTE:
        raise InvalidInput(
            f"说明过长 (the note is over {MAX_NOTE} characters)",
            [
                Problem(
                    f"说明不能超过 {MAX_NOTE} 字",
                    where="note",
                    rule="max-length",
                    message_en=f"At most {MAX_NOTE} characters",
                )
            ],
        )
    return text or None
