"""Checks before an application is accepted: plausibility on today's date, and duplicate cases.

- Plausibility (``forms.plausibility``): the catalog's cross-field rules, judged on today's
  date in China from the engine's clock; their problems join the form's (一次性告知).
- Duplicates: the catalog's ``identities`` name what an application is about (the company
  name, the mother and birth date of a newborn ...). A bundle whose form asks all fields of
  an identity looks for open cases of the same bundle with the same values, and, where the
  bundle issues a certificate carrying those fields (the business licence carries the
  company name), for a certificate already issued and not revoked. A duplicate is a warning,
  not a refusal: the application goes ahead once the applicant confirms
  (``confirm_duplicate``); unconfirmed, ``DuplicateCase`` lists the duplicates (REST 409).

The warning never shows another applicant's data: it says that such a case exists, and
names the case (its code) only when it is the applicant's own.

May import: ``engine.cases``, ``engine.storage``, ``engine.errors``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.core import CaseCore
from engine.cases.states import FINISHED_CASE_STATES, CaseStatus
from engine.errors import Conflict, InvalidInput, Problem
from engine.people.actors import Actor
from engine.storage.models import Case, Material
from forms.catalog import Catalog, Identity
from forms.checks import china_today
from forms.merge import MergedForm
from forms.plausibility import plausibility_problems
from forms.validate import FieldProblem

DUPLICATE_RULE = "duplicate_case"


@dataclass(frozen=True)
class Duplicate:
    """One earlier case like this application: an open case, or a certificate already issued.

    ``own_case_id``/``own_case_code`` are set only when that case is the applicant's own;
    another applicant's case is never identified.
    """

    identity: str
    fields: tuple[str, ...]
    state: Literal["open", "registered"]
    message: str
    message_en: str
    own_case_id: int | None = None
    own_case_code: str | None = None

    def problem(self) -> Problem:
        """The duplicate as a problem at its first field, as the application's answers list problems."""
        extra: dict[str, Any] = {"kind": "field", "fields": list(self.fields), "state": self.state}
        if self.own_case_id is not None:
            extra["case_id"] = self.own_case_id
        return Problem(
            self.message, where=self.fields[0], rule=DUPLICATE_RULE, message_en=self.message_en, extra=extra
        )


class DuplicateCase(Conflict, InvalidInput):
    """An application like an open case (or an issued certificate), not yet confirmed.

    A conflict with what exists (HTTP 409), which also carries its problems as invalid input
    does, so every caller that lists problems shows it next to the fields concerned.
    """

    def __init__(self, duplicates: list[Duplicate]) -> None:
        InvalidInput.__init__(
            self,
            "可能重复申请，请确认后再提交 (a similar application exists; confirm to submit anyway)",
            [d.problem() for d in duplicates],
        )
        self.duplicates = duplicates


def identities_of(catalog: Catalog, fields: Collection[str]) -> list[Identity]:
    """The identities a form can tell: those whose every field it asks."""
    return [i for i in catalog.identities.values() if all(name in fields for name in i.fields)]


def _values(identity: Identity, data: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The identity's values in the answers (None when one is missing or empty)."""
    values = tuple(data.get(name) for name in identity.fields)
    if any(v is None or v == "" for v in values):
        return None
    return tuple(v.strip() if isinstance(v, str) else v for v in values)


def find_duplicates(
    session: Session,
    form: MergedForm,
    bundle: str,
    bundle_name: tuple[str, str],
    applicant: str,
    data: Mapping[str, Any],
) -> list[Duplicate]:
    """Open cases of ``bundle`` and issued certificates with the same identity as ``data``."""
    catalog = form.catalog
    found: list[Duplicate] = []
    wanted = {i.key: v for i in identities_of(catalog, form.fields) if (v := _values(i, data)) is not None}
    if not wanted:
        return found
    identities = {key: catalog.identities[key] for key in wanted}
    rows = session.execute(
        select(Case.id, Case.code, Case.applicant, Case.data).where(
            Case.bundle_key == bundle, Case.status.not_in([str(s) for s in FINISHED_CASE_STATES])
        )
    ).all()
    seen: set[str] = set()
    for case_id, code, owner, case_data in rows:
        for key, values in wanted.items():
            if key in seen or _values(identities[key], case_data or {}) != values:
                continue
            seen.add(key)
            found.append(_open_duplicate(identities[key], bundle_name, case_id, code, owner == applicant))
    issued = {kind for item in form.items.values() for kind in item.outputs}
    for kind in sorted(issued):
        material = catalog.materials[kind]
        carried = set(material.certificate.fields) if material.certificate else set()
        keys = [key for key in wanted if set(identities[key].fields) <= carried]
        if not keys:
            continue
        certificates = session.execute(
            select(Case.data)
            .join(Material, Material.issued_by_case == Case.id)
            .where(
                Material.kind == kind,
                Material.revoked_at.is_(None),
                Case.status == str(CaseStatus.COMPLETED),
            )
        ).scalars()
        for case_data in certificates:
            for key in keys:
                if f"{key}@{kind}" not in seen and _values(identities[key], case_data or {}) == wanted[key]:
                    seen.add(f"{key}@{kind}")
                    identity = identities[key]
                    found.append(
                        Duplicate(
                            identity.key,
                            identity.fields,
                            "registered",
                            f"{identity.zh}的{material.zh}已经核发，请核对是否重复申请",
                            f"a {material.en} with {identity.en} has already been issued; "
                            "please check this is not the same application again",
                        )
                    )
    return found


def _open_duplicate(
    identity: Identity, bundle_name: tuple[str, str], case_id: int, code: str | None, own: bool
) -> Duplicate:
    zh_name, en_name = bundle_name
    if own:
        shown = code or str(case_id)
        return Duplicate(
            identity.key,
            identity.fields,
            "open",
            f"您已有一件{identity.zh}的{zh_name}申请正在办理(办件编号 {shown})，请勿重复申请",
            f"you already have an application for {en_name} with {identity.en} in progress (case {shown})",
            case_id,
            code,
        )
    return Duplicate(
        identity.key,
        identity.fields,
        "open",
        f"已有一件{identity.zh}的{zh_name}申请正在办理，请核对是否重复申请",
        f"an application for {en_name} with {identity.en} is already in progress; "
        "please check this is not the same application again",
    )


class ApplicationChecks(CaseCore):
    """What is checked before an application is accepted, for the engine and for the pages' live checks."""

    def today(self) -> date:
        """Today in China by the engine's clock (applicants' dates are Chinese dates)."""
        return china_today(self.clock.now())

    def plausibility(self, form: MergedForm, data: Mapping[str, Any]) -> list[FieldProblem]:
        """The catalog's cross-field rules over this form's answers, on today's date in China."""
        return plausibility_problems(form.catalog, form.fields, data, self.today())

    def duplicates(self, actor: Actor, bundle: str, data: Mapping[str, Any]) -> list[Duplicate]:
        """Earlier cases like this application of ``actor`` (for the pages, before submitting)."""
        with self.db.read() as s:
            row = self.deployments.latest(s, bundle)
            form = self.deployments.form(row)
            name = self.deployments.definition(row).manifest.name
            return find_duplicates(s, form, bundle, (name.zh, name.en), actor.username, data)
