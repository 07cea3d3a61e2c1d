"""Start a case, work the department queues, print the timeline — the engine embedded, no server.

Run it with ``.venv/bin/python examples/embedded_case.py [BUNDLE]`` (default
``enterprise-startup``). It uses a throwaway SQLite file, deploys the shipped bundles, applies
with the bundle's first example application, lets a clerk of each department claim and
approve what lands in their queue (and each department's own system do its steps), and prints
the route and the audit trail. Read it next
to ``engine/service.py``: every call here is a call a page or REST route makes.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.cases.states import Outcome
from engine.demo import demo_pdf, department_systems_work
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.settings import Settings

ANALYST = Actor("analyst", Role.ANALYST)
BEIJING = ZoneInfo("Asia/Shanghai")


def main(bundle: str = "enterprise-startup") -> str:
    """Run one case of ``bundle`` to its end; returns the final status."""
    with tempfile.TemporaryDirectory(prefix="onething-example-") as tmp:
        engine = Engine(Settings(database_url=f"sqlite:///{Path(tmp) / 'example.db'}", data_dir=Path(tmp)))
        engine.upgrade()
        engine.deploy_shipped()
        detail = engine.bundle_detail(bundle)
        example = detail.examples[0]
        print(f"{detail.summary.name.zh} ({bundle}) v{detail.summary.version}: {example['name']['zh']}")

        # 1. The applicant uploads one set of materials and fills one form.
        applicant = Actor("applicant1", Role.APPLICANT)
        materials = {
            kind: engine.materials.upload(
                applicant.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))
            ).id
            for kind in example["materials"]
        }
        case = engine.start_case(applicant, bundle, example["data"], materials)
        print(f"case {case.id}: {case.status}, promised by {case.due_at:%Y-%m-%d}")

        # 2. Each department's clerk takes what is in their queue and decides it. A step that a
        #    department's own system does (the tax system's registration) is done by the demo's
        #    in-process worker, with the calls that /engine-rest makes for a real system.
        while True:
            by_systems = department_systems_work(engine, case.id, example["decisions"])
            for step in by_systems:
                print(f"  {step.department:<34} {step.clerk} done {step.item}")
            open_tasks = engine.list_tasks(ANALYST, bundle=bundle, state="ready").items
            if not open_tasks and not by_systems:
                break
            for task in open_tasks:
                clerk = Actor(f"clerk.{task.department}", Role.CLERK, frozenset({task.department}))
                engine.claim(clerk, task.id)
                decision = example["decisions"].get(task.item, {})
                engine.complete(clerk, task.id, Outcome.APPROVE, decision, "材料齐全，同意")
                print(f"  {task.department:<34} approved {task.item}")

        # 3. The applicant follows one case: its status, its certificates, its audit trail.
        case = engine.get_case(applicant, case.id)
        print(f"case {case.id}: {case.status}; certificates: {', '.join(sorted(case.outputs)) or '-'}")
        for entry in case.timeline:
            at = entry.at.astimezone(BEIJING)
            print(f"  {at:%m-%d %H:%M} {entry.actor:<38} {entry.kind:<20} {entry.detail.get('item', '')}")
        engine.close()
        return case.status


if __name__ == "__main__":
    sys.exit(0 if main(*sys.argv[1:2]) == "completed" else 1)
