"""Numbers that find bottlenecks (堵点): waits, work times, late steps, returns, ratings, reductions.

Queries must stay fast as history grows, so nothing here scans the history per request:
aggregates are kept up to date. Ratings, complaints and tasks gone overdue are counted in
the transaction of the change; completed tasks and finished cases, the hot ones, are queued
by their change and added in batches before any read (``projection``), so a clerk's action
never waits on a row every other completion of the item shares.

- ``sketch``: the quantile sketch (medians and p90s from log-sized buckets);
- ``rows``: the five aggregate tables (per task, per case, per day, rating counts, rating
  counts per office), each keyed by division too, and the queue of facts for them;
- ``totals``: what one finished task or case adds to them (shared by recording and rebuild);
- ``recording``: what case events count for (``engine.subscribers`` subscribes it to the
  spine); ``statements``: the upserts and locked updates that change the rows;
- ``projection``: the queue of completions and finished cases, and its batches into the rows;
- ``views`` and ``queries``: what analysts read, and the queries that build it;
- ``grouping``: which divisions a query reads (a division's subtree) and how it groups them
  (per division, or rolled up to the ancestor at a level);
- ``rebuild``: recomputing every aggregate from the rows and the audit trail.

Definitions:

- **wait** = working time from a task's creation to its claim; **work** = working time from
  the claim to completion (``engine.time.calendar``: 09:00-17:00 on working days), minus the time
  the case's department clocks were stopped while it waited for the applicant. A task
  completed without a claim has wait = creation to completion, work = 0.
- **median** is the sample median (the mean of the two middle values for an even count, as
  ``statistics.median``); **p90** is the nearest-rank 90th percentile: the ⌈0.9·n⌉-th smallest.
  Both come from a log-bucket sketch (relative accuracy 1 %: every estimate is within 1 % of
  the exact value, or within 1 second for values under a second), so their cost does not
  grow with the number of tasks.
- **overdue** = the task was marked overdue by the SLA clock, or completed after its due time.
- **return** = the clerk's outcome was ``return``; problems are counted by what they name
  (``field:<key>`` / ``material:<key>``).

- **division**: a task counts for the division of the office that handled it, a case (its
  duration, ratings, complaints) for the division that decided it; the office ranking
  attributes a case's rating to the offices that served it (``rows.OfficeRatingStats``).

May import: ``engine.cases``, ``engine.bpmn``, ``engine.feedback.rows``, ``engine.regions``,
``engine.storage``, ``engine.time``, ``engine.errors``; never ``engine.service``, ``engine.subscribers`` or
``engine.deadlines``.
"""
