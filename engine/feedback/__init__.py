"""Ratings, complaints and rectification (好差评).

``rows`` (the tables), ``views`` (what callers see, and a case's feedback), ``checks``
(text limits, the applicant's case, locks), ``ratings``, ``rectification`` and ``complaints``.
Their timeline lines are typed events emitted on the spine (``engine.cases.events``).

May import: ``engine.deadlines``, ``engine.cases``, ``engine.bpmn``, ``engine.people``,
``engine.regions``, ``engine.storage``, ``engine.time``, ``engine.errors``; never
``engine.analytics`` or ``engine.service``.
"""
