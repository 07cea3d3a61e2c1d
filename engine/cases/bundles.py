"""Bundles as the facade shows them: deploying, listing, and one bundle's form, checklist and examples.

A deployed bundle version is a spec (cached by ``engine.bpmn.deployments``); this part of the
facade turns it into the summaries and details the catalogue pages and the API show.

May import: ``engine.cases``, ``engine.bpmn``, ``engine.storage``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn.deployments import PUBLISHED, Deployed
from engine.bpmn.model_metrics import model_reductions, promised_days
from engine.bpmn.review import ReviewAction, Reviewed
from engine.cases.bundle_search import BundleIndex, BundleSource, SearchAnswer
from engine.cases.core import CaseCore
from engine.cases.views import BundleDetail, BundleSummary, BundleVersion, Label
from engine.errors import NotAllowed
from engine.people.actors import Actor, Role
from engine.storage.models import Deployment
from forms.merge import MergedForm


class Bundles(CaseCore):
    """Deploying bundles and reading what is deployed."""

    # The search index of the published bundles, with the deployments marker it was built for.
    _search_index: tuple[tuple[int, int, int], BundleIndex] | None = None

    def deploy_shipped(self) -> list[Deployed]:
        """Load the shipped divisions (new codes only), then deploy the shipped bundles that changed."""
        self.regions.load_shipped(self.settings.processes_dir / "divisions")
        return self.deployments.deploy_shipped()

    def deploy_files(
        self, files: Mapping[str, bytes], by: str, scope: str | None = None, *, draft: bool = False
    ) -> Deployed:
        """Validate and deploy a bundle or a regional variant given as files.

        ``scope`` is the deploying analyst's division (None: the whole platform); a scoped
        analyst deploys variants inside its subtree only (``NotAllowed`` otherwise). A
        ``draft`` waits for review (``review_version``) before new cases start on it.
        """
        return self.deployments.deploy_files(files, by, scope=scope, draft=draft)

    def deploy_zip(self, data: bytes, by: str, scope: str | None = None, *, draft: bool = False) -> Deployed:
        """Validate and deploy a bundle or a regional variant uploaded as a zip (``scope``, ``draft``)."""
        return self.deployments.deploy_zip(data, by, scope=scope, draft=draft)

    def review_version(
        self, actor: Actor, key: str, version: int, action: ReviewAction, note: str | None = None
    ) -> Reviewed:
        """Submit, publish, return or withdraw a bundle version (four eyes: see ``engine.bpmn.review``).

        Analysts and admins only; the rules of who may do what to whose version, and the
        analyst's division, are the deployments' (``Deployments.review``).
        """
        if actor.role not in (Role.ANALYST, Role.ADMIN):
            raise NotAllowed(
                "只有分析员或管理员可以审核事项包版本 (analysts and admins review bundle versions)"
            )
        return self.deployments.review(
            key,
            version,
            action,
            actor.username,
            now=self.clock.now(),
            is_admin=actor.role is Role.ADMIN,
            scope=actor.division,
            note=note,
        )

    def _pick(self, s: Session, key: str, version: int | None, division: str | None) -> Deployment:
        """The given version; else the variant that applies in the division; else the newest base."""
        if version is None and division is not None:
            return self.deployments.for_division(s, key, self.regions.chain(division))
        return self.deployments.latest(s, key, version)

    def _variants(self, s: Session, key: str) -> tuple[dict[str, Any], ...]:
        """The variants in force for a bundle, as the catalogue lists them."""
        return tuple(
            {
                "division": row.division,
                "version": row.version,
                "name": {
                    "zh": self.regions.full_name(str(row.division)),
                    "en": self.regions.full_name(str(row.division), "en"),
                },
            }
            for row in self.deployments.variants(s, key)
        )

    def _summary(self, row: Deployment, variants: tuple[dict[str, Any], ...] = ()) -> BundleSummary:
        definition = self.deployments.definition(row)
        manifest = definition.manifest
        form = self.deployments.form(row)
        return BundleSummary(
            key=row.key,
            version=row.version,
            name=Label(manifest.name.zh, manifest.name.en),
            departments=manifest.departments,
            items=tuple(
                {
                    "key": i.key,
                    "name": {"zh": i.name.zh, "en": i.name.en},
                    "department": i.department,
                    "department_name": self.deployments.department_label(i.department),
                    "time_limit_days": i.time_limit_days,
                }
                for i in manifest.items
            ),
            time_limit_days=promised_days(definition),
            reductions=model_reductions(definition, form),
            division=row.division,
            variants=variants,
            catalog=manifest.catalog.model_dump(mode="json") if manifest.catalog is not None else None,
        )

    def list_bundles(self) -> list[BundleSummary]:
        """The newest base version of every deployed bundle, with the regional variants in force."""
        with self.db.read() as s:
            return [self._summary(row, self._variants(s, row.key)) for row in self.deployments.latest_all(s)]

    def bundle_detail(
        self, key: str, version: int | None = None, division: str | None = None
    ) -> BundleDetail:
        """A bundle with its merged form, materials checklist, reductions, examples and office contacts.

        ``division`` (the applicant's 行政区划) picks the regional variant that applies there;
        a given ``version`` wins over it.
        """
        with self.db.read() as s:
            row = self._pick(s, key, version, division)
            variants = self._variants(s, key) if row.division is None else ()
        manifest = self.deployments.definition(row).manifest
        form = self.deployments.form(row)
        examples = tuple(
            {
                "name": {"zh": e.name.zh, "en": e.name.en},
                "data": dict(e.data),
                "materials": list(e.materials),
                "decisions": {k: dict(v) for k, v in e.decisions.items()},
                "route": list(e.route),
            }
            for e in manifest.examples
        )
        first = examples[0] if examples else {"data": {}, "materials": []}
        return BundleDetail(
            summary=self._summary(row, variants),
            form=form.json_schema,
            layout=tuple(form.layout),
            materials=tuple(_checklist_json(form)),
            example={"data": first["data"], "materials": first["materials"]},
            examples=examples,
            manifest=dict(row.manifest),
            offices={department: c.model_dump() for department, c in manifest.offices.items()},
        )

    def diagram(self, key: str, version: int | None = None, division: str | None = None) -> str:
        """The BPMN XML of a bundle version (or of the variant that applies in ``division``)."""
        with self.db.read() as s:
            row = self._pick(s, key, version, division)
        return str(row.files[self.deployments.definition(row).manifest.process])

    def versions(self, key: str | None = None) -> list[BundleVersion]:
        """Every deployed version of every bundle (or of one), by key, newest version first (variants say
        their division)."""
        query = select(
            Deployment.key,
            Deployment.version,
            Deployment.created_at,
            Deployment.created_by,
            Deployment.division,
            Deployment.status,
            Deployment.submitted_by,
            Deployment.reviewed_by,
            Deployment.reviewed_at,
            Deployment.review_note,
        )
        if key is not None:
            query = query.where(Deployment.key == key)
        with self.db.read() as s:
            rows = s.execute(query.order_by(Deployment.key, Deployment.version.desc())).all()
        return [BundleVersion(**row._asdict()) for row in rows]

    def version_status(self, key: str, version: int) -> str:
        """Where one version stands in review (``BundleNotFound`` when there is no such version)."""
        with self.db.read() as s:
            return self.deployments.review_state(s, key, version)

    def deployments_marker(self) -> tuple[int, int, int]:
        """How many versions are deployed, the newest one's id and how many are published.

        It changes whenever a version is deployed or published (a draft going live adds no row).
        """
        published = func.count(Deployment.id).filter(Deployment.status == PUBLISHED)
        with self.db.read() as s:
            count, newest, live = s.execute(
                select(func.count(Deployment.id), func.max(Deployment.id), published)
            ).one()
        return int(count or 0), int(newest or 0), int(live or 0)

    def search_bundles(self, query: str) -> SearchAnswer:
        """智能导办: the published bundles (and their 情形) a plain-language question is about, with why.

        The index is built once per set of published bundles: rebuilt only when a version is
        deployed or published (``deployments_marker``), so a question costs one small query
        and the ranking itself.
        """
        marker = self.deployments_marker()
        held = self._search_index
        if held is None or held[0] != marker:
            with self.db.read() as s:
                rows = self.deployments.latest_all(s)
            labels = {
                key: Label(named["zh"], named.get("en", key))
                for key, named in self.deployments.departments.items()
            }
            index = BundleIndex([BundleSource(self.deployments.definition(r).manifest, labels) for r in rows])
            held = self._search_index = (marker, index)
        return held[1].search(query)

    def deploy_diagram(
        self,
        key: str,
        version: int | None,
        xml: str,
        by: str,
        scope: str | None = None,
        *,
        draft: bool = False,
    ) -> Deployed:
        """Deploy a bundle version's files with its diagram replaced: the next version (the modeller's save).

        The whole bundle goes through the full validation again, as any deployment does (a
        variant's deployed files are refused: its folder is what gets deployed). ``scope`` is
        the analyst's division: a scoped analyst saves no base bundle. ``version`` may be a
        draft (the next save builds on the one just saved); ``draft`` as for ``deploy_files``.
        """
        with self.db.read() as s:
            row = self.deployments.latest(s, key, version)
        files = {name: str(text).encode("utf-8") for name, text in row.files.items()}
        files[self.deployments.definition(row).manifest.process] = xml.encode("utf-8")
        return self.deploy_files(files, by, scope, draft=draft)

    def form_for(self, key: str, version: int | None = None, division: str | None = None) -> MergedForm:
        """The merged form of a bundle version, or of the variant that applies in ``division``."""
        with self.db.read() as s:
            row = self._pick(s, key, version, division)
        return self.deployments.form(row)


def _checklist_json(form: MergedForm) -> list[dict[str, Any]]:
    return [
        {
            "kind": e.kind,
            "name": {"zh": e.zh, "en": e.en},
            "required": e.required,
            "exempt": e.exempt,
            "why": {"zh": e.why_zh, "en": e.why_en} if e.exempt else None,
            "promise_days": e.promise_days,
            "condition": e.condition,
            "accept": list(e.accept),
            "max_bytes": e.max_bytes,
            "items": list(e.items),
        }
        for e in form.checklist()
    ]
