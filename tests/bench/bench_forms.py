"""Forms and materials: merging and validating the largest shipped form, and upload throughput.

Figures:
- the largest shipped bundle (by applicant fields of its merged form), picked from
  ``processes/*/bundle.yaml`` at run time, and its size;
- median time to merge its items into one form (catalog already loaded, as in the engine);
- median time to validate a complete valid application, and one with a problem in every
  field it can (the work of the all-problems-at-once answer);
- upload throughput (MB/s) through the materials store (stream, size limit, type check from
  the bytes, sha256, fsync, atomic rename, metadata row in SQLite) next to a plain
  ``shutil.copyfileobj`` + ``fsync`` of the same bytes into the same folder, and their ratio
  (aim >= 0.5: the store's checks cost less than half the copy);
- the upload answer's p50 for a business licence with pre-review (智能预审) off and on, and on
  while the worker reads the queued licences in the same process (the upload only queues).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.bpmn.manifest import Manifest, form_request
from engine.cases.materials import FileBlobStore, MaterialService
from engine.storage.db import Database
from forms.catalog import Catalog, ElementType, load_catalog
from forms.merge import MergedForm, merge_form
from tests.bundles import shipped

Report = Callable[[str, float, str], None]
MB = 1024 * 1024
UPLOAD_KIND = "premises_proof"  # accepts PDF, 10 MB limit
FILE_BYTES = 8 * MB
FILES = 8  # 64 MB per side and round
ROUNDS = 2


def largest_bundle(catalog: Catalog) -> tuple[Manifest, MergedForm]:
    """The shipped bundle whose merged form asks the most fields (ties: the most materials)."""
    best: tuple[tuple[int, int, str], Manifest, MergedForm] | None = None
    for key in shipped.bundle_keys():
        manifest = shipped.manifest(key)
        form = merge_form(catalog, form_request(manifest))
        rank = (len(form.fields), len(form.materials), manifest.key)
        if best is None or rank > best[0]:
            best = (rank, manifest, form)
    if best is None:
        raise RuntimeError("no shipped bundles under processes/")
    return best[1], best[2]


def median_seconds(action: Callable[[], Any], budget: float = 1.5, at_least: int = 20) -> float:
    """Median wall time of ``action`` over repeated runs within about ``budget`` seconds."""
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < at_least or time.perf_counter() - started < budget:
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def spoiled(form: MergedForm, data: dict[str, Any]) -> dict[str, Any]:
    """The answers with every field wrong in a way its type allows (wrong type, format or range)."""
    bad: dict[str, Any] = {}
    for name in form.fields:
        element = form.element(name)
        if element.type is ElementType.STRING:
            bad[name] = "x" if element.format or element.enum or element.pattern else ""
        elif element.type is ElementType.BOOLEAN:
            bad[name] = "perhaps"
        elif element.type is ElementType.DATE:
            bad[name] = "2023-02-30"
        else:
            bad[name] = "many"
    return {**data, **bad, "not_a_field": 1}


def pdf_body(seed: int) -> bytes:
    """An accepted PDF of ``FILE_BYTES`` whose bytes differ per seed (no dedup shortcut)."""
    head = b"%PDF-1.7\n%" + hashlib.sha256(str(seed).encode()).hexdigest().encode() + b"\n"
    return head + os.urandom(FILE_BYTES - len(head))


def plain_copy_rate(bodies: list[bytes], folder: Path) -> float:
    """MB/s of copying the bytes to new files with ``shutil.copyfileobj`` and ``fsync``."""
    folder.mkdir()
    started = time.perf_counter()
    for index, body in enumerate(bodies):
        with (folder / f"copy-{index}").open("wb") as out:
            shutil.copyfileobj(io.BytesIO(body), out)
            out.flush()
            os.fsync(out.fileno())
    return len(bodies) * FILE_BYTES / MB / (time.perf_counter() - started)


def store_rate(bodies: list[bytes], root: Path) -> float:
    """MB/s of uploading the bytes through the materials store (SQLite metadata)."""
    db = Database(f"sqlite:///{root / 'bench.db'}")
    db.upgrade()
    service = MaterialService(db, FileBlobStore(root / "materials"), load_catalog(), max_bytes=20 * MB)
    try:
        started = time.perf_counter()
        for index, body in enumerate(bodies):
            service.upload("bench", UPLOAD_KIND, f"scan-{index}.pdf", io.BytesIO(body))
        return len(bodies) * FILE_BYTES / MB / (time.perf_counter() - started)
    finally:
        db.dispose()


def run(report: Report) -> None:
    """Measure and report the forms and materials figures."""
    catalog = load_catalog()
    manifest, form = largest_bundle(catalog)
    request = form_request(manifest)
    print(f"  largest bundle: {manifest.key}", flush=True)
    report(f"largest bundle fields ({manifest.key})", len(form.fields), "fields")
    report(f"largest bundle items ({manifest.key})", len(manifest.items), "items")
    report(
        "merged-form computation (median)", median_seconds(lambda: merge_form(catalog, request)) * 1e3, "ms"
    )

    sample = manifest.examples[0] if manifest.examples else None
    data = dict(sample.data) if sample else {}
    materials = list(sample.materials) if sample else []
    if form.validate(data, materials):
        raise RuntimeError(f"the first example of {manifest.key} is not a valid application")
    report(
        "validation, valid application (median)",
        median_seconds(lambda: form.validate(data, materials)) * 1e3,
        "ms",
    )
    wrong = spoiled(form, data)
    found = len(form.validate(wrong, []))
    report(
        "validation, every field wrong (median)", median_seconds(lambda: form.validate(wrong, [])) * 1e3, "ms"
    )
    report("problems reported in that one answer", found, "problems")

    if catalog.materials[UPLOAD_KIND].max_bytes < FILE_BYTES:
        raise RuntimeError(f"{UPLOAD_KIND} no longer takes {FILE_BYTES // MB} MB files; pick another kind")
    bodies = [pdf_body(i) for i in range(FILES)]
    baseline = stored = 0.0
    with tempfile.TemporaryDirectory(prefix="onething-bench-forms-") as tmp:
        root = Path(tmp)
        # Alternate the two sides and keep each one's best round, so neither gets a colder disk.
        for round_no in range(ROUNDS):
            baseline = max(baseline, plain_copy_rate(bodies, root / f"copy-{round_no}"))
            (root / f"store-{round_no}").mkdir()
            stored = max(stored, store_rate(bodies, root / f"store-{round_no}"))
    report(f"plain copy + fsync ({FILES} x {FILE_BYTES // MB} MB)", baseline, "MB/s")
    report(f"upload through the materials store ({FILES} x {FILE_BYTES // MB} MB)", stored, "MB/s")
    report("store / plain copy (aim >= 0.5)", stored / baseline, "ratio")
    pre_review_upload_figures(report)


PRE_REVIEW_UPLOADS = 60


def _licence_bodies(count: int) -> list[bytes]:
    """``count`` distinct PNG licences (one rendering, a different trailer each: distinct bytes)."""
    from tests.review.documents import licence_png

    body = licence_png(
        {
            "name": "上海一件事科技有限公司",
            "uscc": "91310115MA1K4LXX18",
            "legal_rep": "张三",
            "address": "上海市浦东新区世纪大道1号",
        }
    )
    return [body + f"#{index}".encode() for index in range(count)]


def _upload_p50(service: MaterialService, owner: str, bodies: list[bytes]) -> float:
    """The median seconds of one upload answer (stream, store, row and queued review)."""
    took = []
    for index, body in enumerate(bodies):
        started = time.perf_counter()
        service.upload(owner, "business_licence", f"licence-{index}.png", io.BytesIO(body))
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def pre_review_upload_figures(report: Report) -> None:
    """Upload p50 of a licence: pre-review off (the kind reads nothing) vs on, and on while the worker reads.

    "On while reading" is what ``onething serve`` does: its worker thread runs the OCR of the
    queued uploads in the same process while new uploads come in.
    """
    import copy
    import threading
    from types import MappingProxyType

    from engine.service import Engine
    from engine.storage.settings import Settings

    bodies = _licence_bodies(PRE_REVIEW_UPLOADS * 3)
    with tempfile.TemporaryDirectory(prefix="onething-bench-prereview-") as tmp:
        root = Path(tmp)
        engine = Engine(Settings(database_url=f"sqlite:///{root / 'bench.db'}", data_dir=root / "var"))
        engine.upgrade()
        try:
            off = copy.copy(engine.catalog)
            spec = off.materials["business_licence"]
            off.materials = MappingProxyType(
                {**off.materials, "business_licence": spec.model_copy(update={"reads": None})}
            )
            baseline = MaterialService(engine.db, engine.materials.store, off, max_bytes=20 * MB)
            _upload_p50(baseline, "bench-warm", bodies[:5])
            p50_off = _upload_p50(baseline, "bench-off", bodies[:PRE_REVIEW_UPLOADS])
            p50_on = _upload_p50(
                engine.materials, "bench-on", bodies[PRE_REVIEW_UPLOADS : 2 * PRE_REVIEW_UPLOADS]
            )
            stop = threading.Event()

            def read_queue() -> None:
                while not stop.is_set():
                    if not engine.run_review_jobs(1):
                        stop.wait(0.05)

            reader = threading.Thread(target=read_queue, name="bench-pre-review")
            reader.start()
            try:
                p50_busy = _upload_p50(engine.materials, "bench-busy", bodies[2 * PRE_REVIEW_UPLOADS :])
            finally:
                stop.set()
                reader.join(120)
        finally:
            engine.close()
    report("licence upload p50, pre-review off (baseline)", p50_off * 1e3, "ms")
    report("licence upload p50, pre-review on (queued)", p50_on * 1e3, "ms")
    report("licence upload p50, pre-review on, worker reading meanwhile", p50_busy * 1e3, "ms")
    report("upload p50 on / off", p50_on / p50_off, "ratio")
