"""Saved drafts of applications (草稿): what an applicant typed and uploaded, kept until they submit.

The application page saves as the applicant types; leaving the page loses nothing, and the
next visit resumes the draft. One draft per applicant and bundle (a second save replaces
the first). Only applicants have drafts, and only their own: every call is keyed by the
actor's username, so there is no id to probe. A draft holds only what the form itself
accepts (the bundle's form fields and material kinds, each material one of the applicant's
own uploads of that kind) and at most ``MAX_DRAFT_BYTES`` of JSON; it is never validated
beyond that, because a draft is by nature unfinished.

Submitting the application deletes the draft in the submission's own transaction
(``discard_on_submit``, subscribed to ``Submitted`` in ``engine.subscribers``), whether the
case came from the page, the REST API or a window clerk receiving it for the applicant.

May import: ``engine.cases``, ``engine.storage``, ``engine.time``, ``engine.errors``, ``forms``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.cases.events import Submitted
from engine.cases.materials import MaterialService
from engine.errors import InvalidInput, MaterialNotFound, NotAllowed, NotFound, Problem, TooLarge
from engine.people.actors import Actor, Role
from engine.storage.db import Database, rowcount
from engine.storage.models import table_of
from engine.storage.portal_tables import ApplicationDraft
from engine.storage.prepared import Prepared
from engine.time.clock import Clock
from forms.merge import MergedForm

_DRAFTS = table_of(ApplicationDraft).c
_DISCARD = Prepared(
    delete(table_of(ApplicationDraft)).where(
        _DRAFTS.applicant == bindparam("applicant"), _DRAFTS.bundle_key == bindparam("bundle")
    )
)
MAX_DRAFT_BYTES = 64 * 1024  # the JSON of data and materials together
MAX_VALUE_CHARS = 10_000  # one answer, as the page's own limit (api.pages.answers.MAX_ANSWER_CHARS)
MAX_MATERIAL_ID = 64

Scalar = str | int | float | bool | None


class DraftNotFound(NotFound):
    """The applicant has no draft for that bundle."""


@dataclass(frozen=True)
class DraftView:
    """One saved draft as its owner sees it."""

    bundle: str
    data: dict[str, Any]
    materials: dict[str, str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ApplicationDraft, form: MergedForm | None = None) -> DraftView:
        """The row's contents, kept to what ``form`` still asks when given (a newer version may ask less)."""
        data = dict(row.data or {})
        materials = {str(k): str(v) for k, v in (row.materials or {}).items()}
        if form is not None:
            data = {k: v for k, v in data.items() if k in form.fields}
            materials = {k: v for k, v in materials.items() if k in form.materials}
        return cls(row.bundle_key, data, materials, row.created_at, row.updated_at)


def _applicant(actor: Actor) -> str:
    if actor.role is not Role.APPLICANT:
        raise NotAllowed("只有申请人有草稿 (only applicants have drafts)")
    return actor.username


def _problem(where: str, zh: str, en: str, rule: str, *, material: bool = False) -> Problem:
    return Problem(zh, where=where, rule=rule, message_en=en, extra={"kind": "material"} if material else {})


class Drafts:
    """Save, load, list and discard an applicant's drafts (see the module docstring for the rules)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        form_for: Callable[[str], MergedForm],
        materials: MaterialService,
    ) -> None:
        self.db = db
        self.clock = clock
        self._form_for = form_for
        self._materials = materials

    def _problems(
        self, username: str, form: MergedForm, data: Mapping[str, Any], materials: Mapping[str, Any]
    ) -> list[Problem]:
        problems: list[Problem] = []
        for name, value in data.items():
            if name not in form.fields:
                problems.append(
                    _problem(name, "此表单没有该项", "the form has no such field", "unknown-field")
                )
            elif not isinstance(value, Scalar):
                problems.append(
                    _problem(name, "草稿只能保存文字或数字", "a draft keeps text or numbers", "type")
                )
            elif isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
                problems.append(
                    _problem(
                        name,
                        f"内容过长（最多 {MAX_VALUE_CHARS} 字）",
                        f"too long (at most {MAX_VALUE_CHARS} characters)",
                        "max-length",
                    )
                )
        for kind, material_id in materials.items():
            if kind not in form.materials:
                problems.append(
                    _problem(
                        kind,
                        "此表单没有该材料",
                        "the form asks no such material",
                        "unknown-material",
                        material=True,
                    )
                )
                continue
            owned = isinstance(material_id, str) and 0 < len(material_id) <= MAX_MATERIAL_ID
            if owned:
                try:
                    owned = self._materials.get(material_id, owner=username).kind == kind
                except MaterialNotFound:
                    owned = False
            if not owned:
                problems.append(
                    _problem(
                        kind,
                        "材料未找到，请重新上传",
                        "material not found; please upload it again",
                        "material-unknown",
                        material=True,
                    )
                )
        return problems

    def save(
        self, actor: Actor, bundle: str, data: Mapping[str, Any], materials: Mapping[str, Any] | None = None
    ) -> DraftView:
        """Keep the applicant's answers and material ids so far (replacing their earlier draft of the bundle).

        ``InvalidInput`` lists every key the form does not have and every material that is not
        the applicant's own upload of that kind; ``TooLarge`` above ``MAX_DRAFT_BYTES``.
        """
        username = _applicant(actor)
        form = self._form_for(bundle)  # BundleNotFound for a bundle that is not deployed
        materials = dict(materials or {})
        problems = self._problems(username, form, data, materials)
        if problems:
            raise InvalidInput("草稿内容有误 (the draft has problems)", problems)
        size = len(json.dumps({"data": data, "materials": materials}, ensure_ascii=False).encode())
        if size > MAX_DRAFT_BYTES:
            raise TooLarge(
                f"草稿过大（最多 {MAX_DRAFT_BYTES // 1024} KB） (draft above {MAX_DRAFT_BYTES} bytes)"
            )
        now = self.clock.now()
        for attempt in range(2):
            try:
                with self.db.write() as session:
                    row = session.scalars(
                        select(ApplicationDraft)
                        .where(ApplicationDraft.applicant == username, ApplicationDraft.bundle_key == bundle)
                        .with_for_update()
                    ).first()
                    if row is None:
                        row = ApplicationDraft(applicant=username, bundle_key=bundle, created_at=now)
                        session.add(row)
                    row.data = dict(data)
                    row.materials = {str(k): str(v) for k, v in materials.items()}
                    row.updated_at = now
                    session.flush()
                    return DraftView.of(row)
            except IntegrityError:
                # Two saves of a new draft at once (two tabs): the other inserted first; update it.
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def load(self, actor: Actor, bundle: str) -> DraftView:
        """The applicant's draft of a bundle, kept to the fields the current form asks (``DraftNotFound``)."""
        username = _applicant(actor)
        with self.db.read() as session:
            row = session.scalars(
                select(ApplicationDraft).where(
                    ApplicationDraft.applicant == username, ApplicationDraft.bundle_key == bundle
                )
            ).first()
        if row is None:
            raise DraftNotFound(f"没有该事项的草稿 (no draft of {bundle})")
        try:
            form: MergedForm | None = self._form_for(bundle)
        except NotFound:
            form = None  # the bundle is gone: the owner may still read and discard what they saved
        return DraftView.of(row, form)

    def list(self, actor: Actor) -> list[DraftView]:
        """The applicant's drafts, most recently saved first."""
        username = _applicant(actor)
        with self.db.read() as session:
            rows = session.scalars(
                select(ApplicationDraft)
                .where(ApplicationDraft.applicant == username)
                .order_by(ApplicationDraft.updated_at.desc(), ApplicationDraft.id.desc())
            ).all()
        return [DraftView.of(row) for row in rows]

    def delete(self, actor: Actor, bundle: str) -> None:
        """Discard the applicant's draft of a bundle (``DraftNotFound`` when there is none)."""
        username = _applicant(actor)
        with self.db.write() as session:
            gone = rowcount(
                session.execute(
                    delete(ApplicationDraft).where(
                        ApplicationDraft.applicant == username, ApplicationDraft.bundle_key == bundle
                    )
                )
            )
        if not gone:
            raise DraftNotFound(f"没有该事项的草稿 (no draft of {bundle})")


def discard_on_submit(session: Session, event: Submitted) -> None:
    """The application was submitted: its draft is done with (in the submission's transaction).

    A Core statement on the driver: the submission holds no draft object, so the ORM's
    autoflush and its session synchronisation would only cost every application their time.
    """
    _DISCARD.rows(session, {"applicant": event.actor, "bundle": event.bundle})
