"""The per-process cache of deserialized workflows, bounded in entries and in bytes.

Restoring a workflow from its stored text costs more than running a task, so each process
keeps recently used workflows alive, keyed by case id and ``state_version``; an entry is
used only while the database still holds that version, and is taken out while a
transaction mutates it. A case evicted here is simply restored from the database on its
next action (``engine.cases.store``).

A count of entries alone does not bound memory: a long case (a loop or a multi-instance
step over hundreds of items) keeps every finished task in its tree, so one workflow may
weigh a hundred times another. Each entry is therefore accounted by the length of the
state text its save just wrote (the engine has it anyway), times ``LIVE_BYTES_PER_CHAR``:
a restored workflow's Python objects, with what the codec remembers of it, measured here
at 5.3-5.5 times its text (tracemalloc, 5 KB and 45 KB states). The least recently used
entries leave until both bounds hold; a workflow larger than the whole byte bound is not kept.

May import: SpiffWorkflow and the standard library only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

# Live bytes of a restored workflow per character of its state text (measured 5.3-5.5; rounded up).
LIVE_BYTES_PER_CHAR = 6


class CachedWorkflow(NamedTuple):
    """A workflow handed out of the cache, with the bytes it was accounted at."""

    workflow: BpmnWorkflow
    size: int


class _Entry(NamedTuple):
    version: int
    workflow: BpmnWorkflow
    size: int


def accounted_size(state_chars: int) -> int:
    """The bytes a workflow whose state text has ``state_chars`` characters is accounted at."""
    return max(state_chars, 1) * LIVE_BYTES_PER_CHAR


class WorkflowCache:
    """Deserialized workflows by case id, valid only for the state version they were saved at.

    At most ``size`` entries and ``max_bytes`` accounted bytes (``accounted_size``).
    """

    def __init__(self, size: int, max_bytes: int) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._items: OrderedDict[int, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def accounted_bytes(self) -> int:
        """The accounted size of every workflow held now."""
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def take(self, case_id: int, version: int) -> CachedWorkflow | None:
        """Remove and return the workflow if it is at ``version`` (the caller now owns it)."""
        with self._lock:
            found = self._items.pop(case_id, None)
            if found is not None:
                self._bytes -= found.size
        if found is None or found.version != version:
            return None
        return CachedWorkflow(found.workflow, found.size)

    def put(self, case_id: int, version: int, workflow: BpmnWorkflow, size: int) -> None:
        """Keep a workflow that the database now holds at ``version``, accounted at ``size`` bytes."""
        with self._lock:
            old = self._items.pop(case_id, None)
            if old is not None:
                self._bytes -= old.size
            if self._size <= 0 or size > self._max_bytes:
                return
            self._items[case_id] = _Entry(version, workflow, size)
            self._bytes += size
            while len(self._items) > self._size or self._bytes > self._max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.size

    def forget(self, case_id: int) -> None:
        """Drop a workflow whose in-memory state may differ from the database."""
        with self._lock:
            found = self._items.pop(case_id, None)
            if found is not None:
                self._bytes -= found.size
