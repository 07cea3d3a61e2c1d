"""The engine: one ``Engine`` per process, used by the API, the pages, the CLI and tests.

This is the composition root. ``Engine`` builds the collaborators of the case facade
(``engine.cases.facade``: every operation on bundles, cases and tasks), and subscribes the
parts that follow cases (analytics, the SLA clock) to the event spine of its database
(``engine.subscribers``), so they act in the transaction of each change they follow.

Every method takes the acting person (``Actor``) and enforces what they may see and do, so
the rules hold the same everywhere. Mutations of a case run in one transaction with the
case row locked (see ``engine.cases.store``); claims are a single conditional UPDATE, so exactly
one of many concurrent claimers wins.

May import: anything in ``engine``, ``forms``.
"""

from __future__ import annotations

from engine.bpmn.deployments import Deployments
from engine.bpmn.runtime import Runner
from engine.cases.facade import CaseFacade
from engine.cases.materials import FileBlobStore, MaterialService
from engine.cases.store import CaseStore
from engine.cases.workflow_cache import WorkflowCache
from engine.documents.service import Documents
from engine.portal.drafts import Drafts
from engine.portal.notifications import MessageCentre
from engine.regions.service import Regions
from engine.review.pipeline import PreReview
from engine.review.submission import subscribe_reviews
from engine.review.views import Reviews
from engine.storage.db import Database
from engine.storage.settings import Settings
from engine.subscribers import subscribe_followers
from engine.time.calendar import WorkCalendar
from engine.time.clock import Clock, SystemClock
from forms.catalog import load_catalog


class Engine(CaseFacade):
    """The onething engine of one process."""

    def __init__(self, settings: Settings, *, db: Database | None = None, clock: Clock | None = None) -> None:
        db = db or Database(settings.database_url, settings.sqlite_synchronous)
        clock = clock or SystemClock()
        catalog = load_catalog()
        calendar = WorkCalendar.load(settings)
        # The division tree and offices: routing, visibility, admin scopes and variants read them.
        regions = Regions(db, settings)
        deployments = Deployments(db, settings, catalog, regions=regions)
        runner = Runner(clock, calendar.local_date)
        super().__init__(
            settings,
            db=db,
            clock=clock,
            catalog=catalog,
            calendar=calendar,
            deployments=deployments,
            materials=MaterialService(
                db,
                FileBlobStore(settings.materials_dir),
                catalog,
                max_bytes=settings.max_upload_bytes,
                clock=clock,
            ),
            runner=runner,
            store=CaseStore(
                deployments,
                runner,
                clock,
                calendar.due_for,
                WorkflowCache(settings.workflow_cache_size, settings.workflow_cache_bytes),
                regions=regions,
            ),
            regions=regions,
        )
        # Applications saved as the applicant types (草稿); a submission discards its draft.
        self.drafts = Drafts(db, clock, self.form_for, self.materials)
        # The message centre (消息中心): what the subscribers wrote, read and marked by its recipients.
        self.messages = MessageCentre(db, clock)
        # Certificates and receipts as PDF, public verification and revocation (engine.documents).
        self.documents = Documents(self)
        subscribe_followers(db.spine, calendar, catalog, settings.default_division, regions)
        # Material pre-review (智能预审): the worker reads uploads; views answer what was read.
        self.pre_review = PreReview(db, self.materials, clock)
        self.reviews = Reviews(db, catalog)
        subscribe_reviews(db.spine, catalog)

    def run_review_jobs(self, limit: int = 4) -> int:
        """Read up to ``limit`` pending uploads (the worker's job, never a request's); how many stored."""
        return self.pre_review.run_pending(limit)

    def upgrade(self) -> None:
        """Bring the database schema up to date."""
        self.db.upgrade()

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()
