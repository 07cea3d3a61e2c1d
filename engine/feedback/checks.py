"""What ratings, rectifications and complaints share: text limits, the applicant's case, locks.

Rows of a case are locked after the case row, the order every writer of a case follows, so
two answers to one rectification or complaint never both see it open.

May import: ``engine.feedback.rows``, ``engine.deadlines``, ``engine.bpmn``, ``engine.people``,
``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.manifest import Manifest
from engine.deadlines.supervision import GENERAL_DEPARTMENT
from engine.errors import CaseNotFound, NotAllowed, Problem
from engine.feedback.rows import Complaint, Rectification
from engine.people.actors import Actor, Role
from engine.storage.models import Case, Deployment

MAX_TEXT = 2000


def text_problems(text: str, where: str, *, required: bool) -> list[Problem]:
    """Problems of a free text: empty when ``required``, or longer than ``MAX_TEXT``."""
    if required and not text.strip():
        return [Problem("请填写内容", where=where, rule="required", message_en="required")]
    if len(text) > MAX_TEXT:
        return [
            Problem(
                f"不能超过 {MAX_TEXT} 字",
                where=where,
                rule="max-length",
                message_en=f"at most {MAX_TEXT} characters",
            )
        ]
    return []


def locked_case(session: Session, case_id: int) -> Case | None:
    """The case row, locked for this transaction (the order every writer of a case follows)."""
    return session.scalars(
        select(Case).where(Case.id == case_id).with_for_update(key_share=True)
    ).one_or_none()


Answerable = TypeVar("Answerable", Rectification, Complaint)


def locked_with_case(session: Session, model: type[Answerable], row_id: int) -> Answerable | None:
    """A rectification or complaint, locked after its case (the order every writer of a case follows)."""
    case_id = session.scalar(select(model.case_id).where(model.id == row_id))
    if case_id is not None:
        locked_case(session, case_id)
    return session.scalars(
        select(model).where(model.id == row_id).with_for_update().execution_options(populate_existing=True)
    ).one_or_none()


def owned_case(session: Session, actor: Actor, case_id: int) -> Case:
    """The case, locked, if the actor is its applicant (others' cases are not there for applicants)."""
    case = locked_case(session, case_id)
    if case is None or (actor.role is Role.APPLICANT and case.applicant != actor.username):
        raise CaseNotFound(f"没有这个办件 (no case {case_id})")
    if case.applicant != actor.username:
        raise NotAllowed("只有申请人本人可以这样做 (only the applicant may do this)")
    return case


def manifest_of(session: Session, deployment_id: int) -> Manifest:
    """The manifest (bundle.yaml) of a deployment."""
    raw = session.scalar(select(Deployment.manifest).where(Deployment.id == deployment_id))
    return Manifest.model_validate(raw)


def lead_department(manifest: Manifest) -> str:
    """The first item's department, which answers for the bundle (首问负责)."""
    return manifest.items[0].department if manifest.items else GENERAL_DEPARTMENT
