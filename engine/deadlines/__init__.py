"""The SLA clock (限时办结): overdue tasks, escalation, pauses while the applicant has the case.

``supervision`` (the escalations table, the supervisor queues and department alerts),
``schedule`` (when a task's entries fire), ``tracking`` (the sweep the worker runs) and
``pauses`` (clocks stopped while a case waits for the applicant). Their timeline lines are
typed events emitted on the spine (``engine.cases.events``).

May import: ``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``, ``engine.time``,
``engine.errors``;
never ``engine.feedback`` or ``engine.analytics``.
"""
