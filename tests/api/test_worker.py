"""The worker inside ``onething serve`` also keeps house: leftovers of crashed uploads go."""

from __future__ import annotations

import os
import time
from pathlib import Path

from api.worker import TimerWorker
from engine.cases.materials import FileBlobStore
from tests.support.engines import make_engine


def test_a_worker_tick_removes_an_upload_a_crash_left_half_written(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url, tmp_path)
    store = engine.materials.store
    assert isinstance(store, FileBlobStore)
    store.temp_dir.mkdir(parents=True, exist_ok=True)
    stale = store.temp_dir / "upload-crashed.part"
    stale.write_bytes(b"%PDF-1.4 half of a document")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    fresh = store.temp_dir / "upload-now.part"  # an upload still streaming in must stay
    fresh.write_bytes(b"%PDF-1.4 arriving")
    TimerWorker(engine, interval=1.0).run_once()
    assert not stale.exists() and fresh.exists()
    engine.close()
