"""A web process settles its heap once it has started (``api.heap``), in one-process and in workers mode."""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.heap import settle_heap
from tests.api.support import ServeProcess, ready_workers, start_serve

SETTLED = re.compile(r"heap settled in process (\d+): (\d+) objects frozen")


@pytest.fixture
def gc_as_it_was() -> Iterator[None]:
    """This test process's collector as it was (settling changes it for the whole process)."""
    try:
        yield
    finally:
        gc.unfreeze()


def test_settling_collects_what_start_up_left_and_freezes_the_rest(gc_as_it_was: None) -> None:
    class Cycle:
        def __init__(self) -> None:
            self.me = self

    left = Cycle()  # garbage of the start: collected, never frozen
    del left
    settle_heap()
    assert gc.get_freeze_count() > 10_000  # this process's modules and their objects
    assert not [o for o in gc.get_objects() if type(o) is Cycle]  # collected before the freeze


def settled_lines(served: ServeProcess) -> list[re.Match[str]]:
    served.stop()  # every line written
    messages = [json.loads(line).get("message", "") for line in served.log_lines() if line.strip()]
    return [found for message in messages if (found := SETTLED.fullmatch(message))]


def serve_at_debug(tmp_path: Path, *extra: str) -> ServeProcess:
    """``onething serve --log-level debug`` on a fresh SQLite file (the settling line is at debug)."""
    (tmp_path / "data").mkdir()
    db_url = f"sqlite:///{tmp_path / 'onething.db'}"
    return start_serve(db_url, tmp_path / "data", tmp_path / "serve.log", "--log-level", "debug", *extra)


def test_the_one_web_process_of_serve_settles_its_heap(tmp_path: Path) -> None:
    served = serve_at_debug(tmp_path)
    pid = served.process.pid
    (line,) = settled_lines(served)
    assert int(line[1]) == pid
    assert int(line[2]) > 10_000


def test_each_web_process_of_workers_settles_its_heap(tmp_path: Path) -> None:
    served = serve_at_debug(tmp_path, "--workers", "2")
    with httpx.Client(base_url=served.base_url, timeout=60) as c:
        assert c.get("/healthz").status_code == 200
    web = ready_workers(served, 2)  # each says it serves after it settled
    lines = settled_lines(served)
    pids = {int(line[1]) for line in lines}
    assert len(lines) == 2 and pids == web  # one line from each web process
    assert served.process.pid not in pids  # the supervisor serves no requests: nothing to settle
    assert all(int(line[2]) > 10_000 for line in lines)
