"""Material pre-review (智能预审): the worker's reading job, its stored results, and who sees them.

An upload whose kind declares ``reads`` is queued in the upload's transaction
(``engine.cases.review_queue``); the worker (``pipeline``) claims a pending review with a
lease, reads the document with ``engine.reading`` outside any transaction, and stores the
fields, confidence and findings against the application's form data at that time.
``views`` answers a review as its viewer may see it (a clerk only their item's fields) and
recomputes the findings from the stored fields when the form data has changed (no second
reading); ``submission`` writes the audit line on the case that a submission creates.

May import: ``engine.cases``, ``engine.reading``, ``engine.storage``, ``engine.time``, ``forms``.
"""
