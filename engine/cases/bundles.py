"""Bundles as the facade shows them: deploying, listing, and one bundle's form, checklist and examples.

A deployed bundle version is a spec (cached by ``engine.bpmn.deployments``); this part of the
facade turns it into the summaries and details the catalogue pages and the API show.

May import: ``engine.cases``, ``engine.bpmn``, ``engine.storage``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from engine.bpmn.deployments import Deployed
from engine.bpmn.model_metrics import model_reductions, promised_days
from engine.cases.core import CaseCore
from engine.cases.views import BundleDetail, BundleSummary, BundleVersion, Label
from engine.storage.models import Deployment
from forms.merge import MergedForm


class Bundles(CaseCore):
    """Deploying bundles and reading what is deployed."""

    def deploy_shipped(self) -> list[Deployed]:
        """Load the shipped divisions (new codes only), then deploy the shipped bundles that changed."""
        self.regions.load_shipped(self.settings.processes_dir / "divisions")
        return self.deployments.deploy_shipped()

    def deploy_files(self, files: Mapping[str, bytes], by: str) -> Deployed:
        """Validate and deploy a bundle given as files."""
        return self.deployments.deploy_files(files, by)

    def deploy_zip(self, data: bytes, by: str) -> Deployed:
        """Validate and deploy a bundle uploaded as a zip."""
        return self.deployments.deploy_zip(data, by)

    def _summary(self, row: Deployment) -> BundleSummary:
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
        )

    def list_bundles(self) -> list[BundleSummary]:
        """The newest version of every deployed bundle."""
        with self.db.read() as s:
            return [self._summary(row) for row in self.deployments.latest_all(s)]

    def bundle_detail(self, key: str, version: int | None = None) -> BundleDetail:
        """A bundle with its merged form, materials checklist, reductions and examples."""
        with self.db.read() as s:
            row = self.deployments.latest(s, key, version)
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
            summary=self._summary(row),
            form=form.json_schema,
            layout=tuple(form.layout),
            materials=tuple(_checklist_json(form)),
            example={"data": first["data"], "materials": first["materials"]},
            examples=examples,
            manifest=dict(row.manifest),
        )

    def diagram(self, key: str, version: int | None = None) -> str:
        """The BPMN XML of a bundle version."""
        with self.db.read() as s:
            row = self.deployments.latest(s, key, version)
        return str(row.files[self.deployments.definition(row).manifest.process])

    def versions(self, key: str | None = None) -> list[BundleVersion]:
        """Every deployed version of every bundle (or of one), by key, newest version first."""
        query = select(Deployment.key, Deployment.version, Deployment.created_at, Deployment.created_by)
        if key is not None:
            query = query.where(Deployment.key == key)
        with self.db.read() as s:
            rows = s.execute(query.order_by(Deployment.key, Deployment.version.desc())).all()
        return [BundleVersion(*row) for row in rows]

    def deployments_marker(self) -> tuple[int, int]:
        """How many versions are deployed and the newest one's id: changes whenever one is deployed."""
        with self.db.read() as s:
            count, newest = s.execute(select(func.count(Deployment.id), func.max(Deployment.id))).one()
        return int(count or 0), int(newest or 0)

    def deploy_diagram(self, key: str, version: int | None, xml: str, by: str) -> Deployed:
        """Deploy a bundle version's files with its diagram replaced: the next version (the modeller's save).

        The whole bundle goes through the full validation again, as any deployment does.
        """
        with self.db.read() as s:
            row = self.deployments.latest(s, key, version)
        files = {name: str(text).encode("utf-8") for name, text in row.files.items()}
        files[self.deployments.definition(row).manifest.process] = xml.encode("utf-8")
        return self.deploy_files(files, by)

    def form_for(self, key: str, version: int | None = None) -> MergedForm:
        """The merged form of a bundle version (for rendering and prefill)."""
        with self.db.read() as s:
            row = self.deployments.latest(s, key, version)
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
