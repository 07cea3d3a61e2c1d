"""Checks on a BPMN diagram and its DMN decision tables that need no manifest.

``engine.bpmn.validation`` runs these on every bundle and on a lone ``.bpmn`` file from any
modeller: ``diagram.check_diagram`` and ``dmn.check_dmn`` are the entry points. Each check
appends ``Problem``s carrying the file and the element id and never stops the others. On
the way it gathers the facts the manifest checks need (``facts``): the human tasks and
their lanes, the service tasks, the names the diagram gives values to, and the names its
expressions read.

What this engine runs (SpiffWorkflow 3.2 parses more; this is what the engine drives):

- events: the process's none start event and message start events; none, terminate,
  error and message end events; timer and message intermediate catch events; none and
  message intermediate throw events; timer, error and message boundary events
  (interrupting or not); every message event names a ``bpmn:message`` with a name;
- activities: user and manual tasks (both are a department's work item, so both need a
  lane and an item), service tasks as external tasks for a department's own system
  (``camunda:type="external"`` with a topic, or bound by a ``handled_by: system`` item),
  send and receive tasks, none tasks, script tasks in the restricted expression language,
  business rule tasks (DMN) when the engine's parser reads their decision reference,
  embedded sub-processes, call activities to an executable process of the same file,
  standard and multi-instance loops;
- gateways: exclusive, parallel, inclusive, event-based (followed by timer or message
  catch events or receive tasks);
- lanes (a lane is a department queue), pools, data objects, text annotations, groups.

Everything else is refused, each with its reason (``elements``).

Modules: ``facts`` (names, node kinds, the facts gathered), ``schema`` (XSD), ``vet``
(expressions as problems), ``elements`` (supported and refused), ``lanes``, ``activities``
(scripts, decisions, calls, timers, loops), ``gateways`` (flows and conditions), ``shape``
(the graph), ``diagram`` (the entry point), ``dmn``.

May import: ``engine.bpmn.definitions``, ``engine.bpmn.expressions``, ``engine.errors``,
lxml, SpiffWorkflow; never ``engine.bpmn.validation`` (it builds on these).
"""
