"""The garbage collector of a web process, set once the process has started.

A web process keeps what its start built (modules, parsed diagrams, SQLAlchemy's mappers,
about 200,000 containers) for as long as it runs, and each of CPython's full collections
walks all of it: about 130 ms a collection on these 2-core machines. Requests add to the old
generations whenever a case's workflow is not in the process's cache (after a restart, or
when another process took the case's last action): the tree restored from its text outlives
the young collections that run during the action, so it is promoted, and the longer the case,
the more often the old generations fill and a full collection runs. On the long-review bundle
with no cache (``make bench``: bench_long; 9 cases of 200 actions) the collector took 2.2 ms
an action near the 200th.

So, once started, a web process collects what its start left and freezes the rest out of the
collector's sight (``gc.freeze``, as CPython's documentation advises for this): a full
collection then walks only what requests made, and the same walk's collector took 0.5 ms an
action near the 200th. Collecting the young generation less often (at 10,000 containers
instead of 700) cut the collector's time a little further, but the garbage it left longer in
the heap fragmented it: bench_memory's server grew from 250 to 350 MiB between 1,000 and
10,000 cases, against 242 to 250 MiB with the freeze alone. So the thresholds stay.
"""

from __future__ import annotations

import gc
import logging
import os

log = logging.getLogger("onething.serve")


def settle_heap() -> None:
    """Collect what start-up left and freeze the rest out of the collector's sight."""
    gc.collect()
    gc.freeze()
    log.debug("heap settled in process %d: %d objects frozen", os.getpid(), gc.get_freeze_count())
