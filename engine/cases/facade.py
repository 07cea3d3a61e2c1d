"""The case facade: every operation on bundles, cases and tasks, as one class of mixins by concept.

Each part is a mixin over one shared base (``engine.cases.core.CaseCore``, which holds the
collaborators and the locked-case transaction), in its own module:

- ``bundles``: deploying, listing, one bundle's detail;
- ``reading``: one case and lists of cases, as their viewer may see them;
- ``queues``: department queues and a task's department view;
- ``applying``: apply, supplement, withdraw, and how a case moves on (finish, one notice,
  follow-on cases);
- ``task_actions``: claim, unclaim, approve or return, certificates;
- ``handover``: reassign (转办), delegate (委托), release a clerk's tasks to the queue;
- ``bulk``: claim, release or approve several tasks at once, one transaction each;
- ``external``: external tasks of departments' own systems (fetch and lock, complete, fail,
  BPMN errors, retries and incidents, hand-over to clerks);
- ``timers``: BPMN timers that came due;
- ``messages``: messages from department systems, correlated to a waiting case or starting one;
- ``guide``: 情形引导, the questions of a bundle and what a set of answers means;
- ``send_back``: sending a case back to an earlier department step, a supervisor's move.
- ``suspending``: suspend and resume (挂起/恢复) a case, its clocks stopped meanwhile.

Mixins rather than composed objects: the callers (API, pages, CLI, tests) see one object
with every operation, the parts share one set of collaborators and helpers without passing
them around, and each part reads on its own. The facade does not build its collaborators:
``engine.service.Engine`` (the composition root) builds them and subscribes the followers
of cases; nothing here imports analytics, deadlines or feedback.

May import: ``engine.cases``.
"""

from __future__ import annotations

from engine.cases.bulk import BulkActions
from engine.cases.bundles import Bundles
from engine.cases.external import ExternalTasks
from engine.cases.guide import Guiding
from engine.cases.handover import Handover
from engine.cases.messages import Messages
from engine.cases.migrations import Migrations
from engine.cases.queues import Queues
from engine.cases.send_back import SendingBack
from engine.cases.suspending import Suspending
from engine.cases.task_actions import TaskActions
from engine.cases.timers import Timers


class CaseFacade(
    ExternalTasks,
    Bundles,
    Queues,
    Messages,
    Handover,
    BulkActions,
    TaskActions,
    Timers,
    Guiding,
    SendingBack,
    Suspending,
    Migrations,
):
    """Every operation of the engine on bundles, cases and tasks (see the module docstring)."""
