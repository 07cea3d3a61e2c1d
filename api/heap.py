"""The garbage collector of a web process, set once the process has started.

A web process keeps what its start built (modules, parsed diagrams, SQLAlchemy's mappers,
about 200,000 containers) for as long as it runs, and each of CPython's full collections
walks all of it: about 130 ms a collection on these 2-core machines. Requests add to the old
generations whenever a case's workflow is not in the process's cache (after a restart, or
when another process took the case's last action): the tree restored from its text outlives
the young collections that run during the action, so it is promoted, and the longer the case,
the more often the old generations fill and a full collection runs. On the long-review bundle
with no cache (``make bench``: bench_long; 9 cases of 200 actions) the collector took 2.5 s
of the walk, 2.7 ms an action near the 200th, more than the restore's JSON parse.

So, once started, a web process collects what its start left, freezes the rest out of the
collector's sight (``gc.freeze``: full collections walk only what requests made), and lets
the young generation grow to ``YOUNG_OBJECTS`` containers before it is collected, so that an
action's restored tree is mostly garbage by then and dies young instead of being promoted.
The same walk then spent 0.56 s in the collector.
"""

from __future__ import annotations

import gc
import logging
import os

# CPython's default is 700: a restore of a 200-entry case allocates several thousand.
YOUNG_OBJECTS = 10_000
log = logging.getLogger("onething.serve")


def settle_heap() -> None:
    """Collect what start-up left, freeze the rest, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)
    log.debug(
        "heap settled in process %d: %d objects frozen, young generation %d",
        os.getpid(),
        gc.get_freeze_count(),
        YOUNG_OBJECTS,
    )
