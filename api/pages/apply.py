"""The application page (/apply/{key}): one form, one set of materials, saved as a draft while typed.

- GET shows the merged form. Its starting answers, weakest first: what the applicant's
  finished cases and certificates say (智能预填), then their saved draft (草稿: what they
  typed last time), then the answers of the guide (/guide/{key}, 情形引导) passed as query
  parameters named after form fields, which fill only fields the draft left empty, so a
  draft's answer is never overwritten silently. The page says which of these it used.
- The page's script saves the draft about 1.5 s after the last change and when the page is
  hidden (POST /apply/{key}/draft); "清空重填" discards it (POST /apply/{key}/draft/discard).
  Submitting the application discards the draft in the submission's transaction (engine).
- Checks are the server's: POST /apply/{key}/check answers the validator's problems as JSON
  (the script shows each under its field on leaving it), and a POST of the form re-renders the
  page with every problem listed at the top and each next to its field (一次性告知). The form
  has ``novalidate`` and no ``pattern``, so the browser never speaks for the server.
- A division-code field and the 办理地区 are chosen from the division tree, never typed.

Only applicants use these pages, and only for themselves (the engine keys drafts and
uploads by the signed-in applicant).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData, UploadFile

from api.pages import materials as docs
from api.pages import reviews as review_parts
from api.pages.answers import (
    MATERIAL_PREFIX,
    MAX_ANSWER_CHARS,
    PROMISE_FIELD,
    by_where,
    display_value,
    field_problems,
    form_labels,
    posted_answers,
    posted_materials,
    posted_promises,
    problem_json,
)
from api.pages.base import Ctx, PageContext, PageRoute, redirect
from api.pages.i18n import CHINA
from api.pages.offices import ChoiceGroup, division_groups, division_label
from api.pages.params import BundleKey
from engine.cases.views import BundleDetail
from engine.errors import InvalidInput, TooLarge
from engine.people.actors import Actor, Role
from engine.portal.drafts import DraftNotFound, DraftView
from forms.checks import Format
from forms.coerce import coerce_values
from forms.merge import MergedForm
from forms.prefill import Prefilled, PrefillSource, prefill, prefilled_values
from forms.render import form_view
from forms.validate import FieldProblem

router = APIRouter(route_class=PageRoute)

PREFILL_CASES = 5
DIVISION_FIELD = "division"  # the 办理地区 select of a bundle whose form asks no division


def _prefill(ctx: PageContext, actor: Actor, form: MergedForm) -> dict[str, Prefilled]:
    """Answers from the applicant's finished cases and from the certificates issued to them (智能预填).

    Only finished cases: an answer still under correction may be the wrong one. Certificates
    come last, so the data an authority certified wins over what was typed before.
    """
    cases = [c for c in ctx.engine.list_cases(actor, limit=PREFILL_CASES).items if c.status == "completed"]
    names = ctx.svc.catalog.names() if cases else {}
    sources = [
        PrefillSource(
            f"办件 {case.id}（{names[case.bundle].zh if case.bundle in names else case.bundle}）",
            f"case {case.id} ({names[case.bundle].en if case.bundle in names else case.bundle})",
            case.data or {},
            "case",
        )
        for case in reversed(cases)  # oldest first: later cases win
    ]
    sources += ctx.engine.materials.certificate_sources(actor.username)
    return prefill(form, sources)


def _held(ctx: PageContext, actor: Actor, values: dict[str, Any]) -> set[str]:
    """Certificate kinds the applicant holds that fit these answers: exempt on the checklist."""
    return set(ctx.engine.materials.certificates_for(actor.username, values))


def _asks_division(detail: BundleDetail, form: MergedForm) -> bool:
    """Whether the bundle's own form says where the applicant is (a division-code field).

    Those bundles are decided where that field says; the others get a 办理地区 select.
    """
    if detail.manifest.get("division_field"):
        return True
    return any(form.element(name).format == Format.DIVISION_CODE for name in form.fields)


def _posted_division(ctx: PageContext, posted: FormData) -> tuple[str, list[FieldProblem]]:
    """The 办理地区 posted (a known division code, or "" for none) and its problem, if any."""
    value = posted.get(DIVISION_FIELD)
    code = value.strip() if isinstance(value, str) else ""
    if code and not ctx.engine.regions.tree().known(code):
        return "", [
            FieldProblem(
                DIVISION_FIELD, "请从列表中选择办理地区", "Choose a division from the list", "division"
            )
        ]
    return code, []


def pick_divisions(fields: Iterable[dict[str, Any]], groups: list[ChoiceGroup]) -> None:
    """Make each division-code field of these field views (``forms.render``) a picker of ``groups``.

    The form macros then render a select by name (two steps with apply.js) instead of a text
    input for a code. Other pages with such fields (a supplement, a clerk's decision) may call it
    with ``api.pages.offices.division_groups(engine.regions)``.
    """
    for f in fields:
        if f["format"] == Format.DIVISION_CODE.value:
            f["option_groups"] = _option_groups(groups, f["value"])
            # Chosen from the list: the catalog's help about typing a six-digit code does not apply.
            f["help"] = {"zh": "请从列表中选择所在区县", "en": "Choose the district from the list"}


def _option_groups(groups: list[ChoiceGroup], value: Any) -> list[dict[str, Any]]:
    """The division tree as the form macros' ``option_groups`` (a value outside the tree kept, by name)."""
    out = [
        {
            "label": {"zh": g.name.zh, "en": g.name.en},
            "options": [{"value": c.code, "zh": c.name.zh, "en": c.name.en} for c in g.choices],
        }
        for g in groups
    ]
    known = {c.code for g in groups for c in g.choices}
    if isinstance(value, str) and value and value not in known:
        out.insert(
            0,
            {
                "label": {"zh": "您的填写", "en": "Your answer"},
                "options": [
                    {"value": value, "zh": "（已填写，不在列表中）", "en": "(given earlier, not in the list)"}
                ],
            },
        )
    return out


def _saved_at(ctx: PageContext, moment: datetime) -> str:
    """When a draft was saved, as the note says it: HH:MM today, else the date too (China time)."""
    local = moment.astimezone(CHINA)
    today = ctx.engine.clock.now().astimezone(CHINA).date()
    return local.strftime("%H:%M" if local.date() == today else "%Y-%m-%d %H:%M")


def _apply_page(
    ctx: PageContext,
    key: str,
    form: MergedForm,
    values: dict[str, Any],
    materials: dict[str, str],
    promised: list[str],
    problems: list[FieldProblem] | None = None,
    status: int = 200,
    *,
    filled: dict[str, Prefilled] | None = None,
    held: set[str] | None = None,
    division: str = "",
    draft: DraftView | None = None,
    from_query: list[str] | None = None,
    kept: list[str] | None = None,
) -> Response:
    actor = ctx.actor
    detail = ctx.engine.bundle_detail(key)
    if filled is None:
        filled = _prefill(ctx, actor, form)
    if held is None:
        held = _held(ctx, actor, values)
    problems = problems or []
    divisions = division_groups(ctx.engine.regions)
    groups = form_view(form, values, problems, filled)
    pick_divisions((f for group in groups for f in group["fields"]), divisions)
    return ctx.render(
        "apply.html",
        status=status,
        bundle=detail.summary,
        key=key,
        groups=groups,
        checklist=[
            e.as_dict() | {"shown": e.condition is None or form.asked(e.kind, values)}
            for e in form.checklist(values, held=held)
        ],
        materials=materials,
        material_files=docs.describe(ctx.engine, actor, materials),
        promised=promised,
        problems=problems,
        problems_by=by_where(problems),
        labels=form_labels(form, form.fields) | {DIVISION_FIELD: {"zh": "办理地区", "en": "Division"}},
        material_prefix=MATERIAL_PREFIX,
        promise_field=PROMISE_FIELD,
        departments=ctx.engine.deployments.departments,
        division_field=DIVISION_FIELD,
        division_groups=[] if _asks_division(detail, form) else divisions,
        division=division,
        draft=draft,
        draft_saved_at=_saved_at(ctx, draft.updated_at) if draft is not None else "",
        from_query=[form_labels(form, [n])[n] for n in from_query or []],
        kept_from_draft=[form_labels(form, [n])[n] for n in kept or []],
        draft_cleared=ctx.request.query_params.get("draft") == "cleared",
        review=review_parts.apply_part(ctx.engine, form, materials, values),
    )


def _query_answers(ctx: PageContext, form: MergedForm) -> dict[str, str]:
    """Answers passed in the address (the guide's 情形引导), only for fields of this form."""
    params = ctx.request.query_params
    found: dict[str, str] = {}
    for name in form.fields:
        text = params.get(name)
        if text is not None and text.strip():
            found[name] = text.strip()[:MAX_ANSWER_CHARS]
    return found


@router.get("/apply/{key}")
def apply_form(ctx: Ctx, key: BundleKey) -> Response:
    """The merged form: earlier answers prefilled, the saved draft resumed, the guide's answers added."""
    actor = ctx.require(Role.APPLICANT)
    form = ctx.engine.form_for(key)
    filled = _prefill(ctx, actor, form)
    values = prefilled_values(filled)
    materials: dict[str, str] = {}
    draft: DraftView | None = None
    try:
        draft = ctx.engine.drafts.load(actor, key)
    except DraftNotFound:
        draft = None
    if draft is not None:
        values.update(coerce_values(form, {**values, **draft.data}))
        owned = docs.check_owned(ctx.engine, actor, draft.materials)
        stale = {p.where for p in owned}
        materials = {k: v for k, v in draft.materials.items() if k not in stale}
    asked = _query_answers(ctx, form)
    drafted = set(draft.data) if draft is not None else set()
    from_query = [name for name in asked if name not in drafted]
    kept = [name for name in asked if name in drafted]
    if from_query:
        values = {**values, **coerce_values(form, {**values, **{n: asked[n] for n in from_query}})}
    return _apply_page(
        ctx, key, form, values, materials, [], filled=filled, draft=draft, from_query=from_query, kept=kept
    )


def _read_application(
    ctx: PageContext, actor: Actor, form: MergedForm, posted: FormData
) -> tuple[dict[str, Any], dict[str, str], list[str], list[FieldProblem]]:
    """Answers, material ids and promises of a post; files posted without scripts are stored here."""
    data = posted_answers(form, posted)
    materials = posted_materials(posted, form.materials)
    problems: list[FieldProblem] = []
    for kind in form.materials:
        upload = posted.get(MATERIAL_PREFIX + kind)
        if isinstance(upload, UploadFile) and upload.filename:
            try:
                materials[kind] = docs.upload(ctx.engine, actor, kind, upload)["id"]
            except (InvalidInput, TooLarge) as exc:
                found = getattr(exc, "problems", None)
                problems += (
                    field_problems(found)
                    if found
                    else [FieldProblem(kind, *exc.in_languages(), "too-large", "material")]
                )
    promised = posted_promises(posted, form.request.promises)
    return data, materials, promised, problems


@router.post("/apply/{key}")
def apply_submit(ctx: Ctx, key: BundleKey) -> Response:
    """Review (check everything, show a summary), go back to edit, or submit for real."""
    actor = ctx.require(Role.APPLICANT)
    form = ctx.engine.form_for(key)
    posted = ctx.posted
    data, materials, promised, upload_problems = _read_application(ctx, actor, form, posted)
    division, division_problems = _posted_division(ctx, posted)
    upload_problems += division_problems
    step = posted.get("step")
    chosen = posted.get(review_parts.PREFILL_FIELD)
    if isinstance(chosen, str) and chosen:  # 智能填表: the applicant confirmed values read from a document
        confirmed = review_parts.confirm_offers(ctx.engine, form, materials, data, chosen)
        filled = {**_prefill(ctx, actor, form), **confirmed}
        return _apply_page(ctx, key, form, data, materials, promised, filled=filled, division=division)
    if step == "edit":
        return _apply_page(ctx, key, form, data, materials, promised, division=division)
    if step == "submit" and not upload_problems:
        try:
            case = ctx.engine.start_case(
                actor,
                key,
                data,
                materials,
                promised,
                division=division or None,
                confirm_duplicate=posted.get("confirm_duplicate") == "yes",  # H4: duplicate warning
            )
        except InvalidInput as exc:
            problems = field_problems(exc.problems)
            return _apply_page(ctx, key, form, data, materials, promised, problems, 422, division=division)
        return redirect(f"/cases/{case.id}?msg=submitted")
    held = _held(ctx, actor, data)
    problems = upload_problems + form.validate(data, materials.keys() | held, promised)
    problems += ctx.engine.plausibility(form, data)  # H4: cross-field rules on today's date
    problems += field_problems(docs.check_owned(ctx.engine, actor, materials))
    problems += field_problems(ctx.engine.reviews.blocking(form, data, materials))  # 智能预审
    if problems:
        return _apply_page(
            ctx, key, form, data, materials, promised, problems, 422, held=held, division=division
        )
    detail = ctx.engine.bundle_detail(key)
    return ctx.render(
        "review.html",
        bundle=detail.summary,
        key=key,
        groups=form.layout,
        values=data,
        shown_values={n: _shown(ctx, form, n, v) for n, v in data.items()},
        checklist=form.checklist(data, held=held),
        materials=materials,
        material_files=docs.describe(ctx.engine, actor, materials),
        promised=promised,
        material_prefix=MATERIAL_PREFIX,
        promise_field=PROMISE_FIELD,
        division_field=DIVISION_FIELD,
        division=division,
        division_name=division_label(ctx.engine.regions, division) if division else None,
        duplicates=ctx.engine.duplicates(actor, key, data),  # H4: shown by _duplicates.html
    )


def _shown(ctx: PageContext, form: MergedForm, name: str, value: Any) -> str:
    """An answer as the review shows it: a division by its full name, never its code."""
    regions = ctx.engine.regions
    division = form.element(name).format == Format.DIVISION_CODE and isinstance(value, str)
    if division and regions.tree().known(value):
        return ctx.words.label(division_label(regions, value))
    return display_value(form, name, value, ctx.words.lang)


@router.post("/apply/{key}/check")
def apply_check(ctx: Ctx, key: BundleKey) -> Response:
    """Inline validation: the server's own validator on the answers so far (same messages)."""
    ctx.require(Role.APPLICANT)
    form = ctx.engine.form_for(key)
    posted = ctx.posted
    data = posted_answers(form, posted)
    materials = posted_materials(posted, form.materials)
    promised = posted_promises(posted, form.request.promises)
    problems = form.validate(data, materials.keys(), promised) + ctx.engine.plausibility(form, data)  # H4
    return JSONResponse({"problems": [problem_json(p) for p in problems]})


@router.post("/apply/{key}/upload")
def apply_upload(ctx: Ctx, key: BundleKey) -> Response:
    """Store one material (content-addressed: the same bytes give the same id) and answer its id."""
    actor = ctx.require(Role.APPLICANT)
    form = ctx.engine.form_for(key)
    posted = ctx.posted
    kind = posted.get("kind")
    upload = posted.get("file")
    if not isinstance(kind, str) or kind not in form.materials or not isinstance(upload, UploadFile):
        problem = FieldProblem(
            "file", "请选择要上传的文件和材料类型", "Choose a file and a material kind", "missing"
        )
        return JSONResponse({"detail": [problem_json(problem)]}, status_code=422)
    try:
        stored = docs.upload(ctx.engine, actor, kind, upload)
    except InvalidInput as exc:
        return JSONResponse(
            {"detail": [problem_json(p) for p in field_problems(exc.problems)]}, status_code=422
        )
    except TooLarge as exc:
        return JSONResponse({"detail": exc.message}, status_code=413)
    return JSONResponse(stored, status_code=201)


def _posted_texts(form: MergedForm, posted: FormData) -> dict[str, str]:
    """The answers as typed (not yet read as their types): a draft keeps unfinished text as it is."""
    texts: dict[str, str] = {}
    for name in form.fields:
        value = posted.get(name)
        if isinstance(value, str) and value.strip():
            texts[name] = value.strip()[:MAX_ANSWER_CHARS]
    return texts


@router.post("/apply/{key}/draft")
def save_draft(ctx: Ctx, key: BundleKey) -> Response:
    """Save the form as it stands as the applicant's draft (the page's script calls this as they type)."""
    actor = ctx.require(Role.APPLICANT)
    form = ctx.engine.form_for(key)
    posted = ctx.posted
    try:
        draft = ctx.engine.drafts.save(
            actor, key, _posted_texts(form, posted), posted_materials(posted, form.materials)
        )
    except InvalidInput as exc:
        return JSONResponse(
            {"detail": [problem_json(p) for p in field_problems(exc.problems)]}, status_code=422
        )
    except TooLarge as exc:
        return JSONResponse({"detail": exc.message}, status_code=413)
    return JSONResponse(
        {"saved_at": _saved_at(ctx, draft.updated_at), "updated_at": draft.updated_at.isoformat()}
    )


@router.post("/apply/{key}/draft/discard")
def discard_draft(ctx: Ctx, key: BundleKey) -> Response:
    """Discard the applicant's draft (清空重填) and go back where they were: the form, or their cases."""
    actor = ctx.require(Role.APPLICANT)
    # Already gone (another tab, or the application was submitted): the outcome is the same.
    with suppress(DraftNotFound):
        ctx.engine.drafts.delete(actor, key)
    back = ctx.posted.get("next")
    if back == "cases":
        return redirect("/cases?draft=cleared")
    return redirect(f"/apply/{key}?draft=cleared")
