"""The onething runtime: bundles, cases, department queues, timers, audit trail.

SpiffWorkflow is used only inside this package, behind a few facade modules
(``definitions``, ``runtime``, ``serialization``); everything else sees onething's own
typed values.
"""
