"""Loading bundles: manifest + diagram (+ decision tables) into a runnable definition.

This is one of the few modules that touch SpiffWorkflow. A definition is a *spec*: parsed
once per deployment digest and shared read-only by every case of that version (parsing
costs milliseconds, far more than a task action should).

Every ``bpmn:serviceTask`` becomes an ``ExternalTask``: a manual task spec that waits, as a
user task does, until a department's own system completes it (Camunda 7's external-task
pattern). SpiffWorkflow's own ``ServiceTask`` would run ``call_service`` on the script
engine; this engine calls no service itself, so that path is never built.

May import: ``engine.bpmn.manifest``, ``engine.bpmn.xmlsafe``, ``engine.errors``, lxml, SpiffWorkflow.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ManualTask, ReceiveTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.bpmn.manifest import Manifest, parse_manifest
from engine.bpmn.xmlsafe import DEFAULT_MAX_BYTES, parse_xml
from engine.errors import DefinitionError, Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MANIFEST_NAME = "bundle.yaml"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


@dataclass(frozen=True)
class BundleDefinition:
    """A bundle ready to run: its manifest, the parsed diagram and the SpiffWorkflow specs."""

    manifest: Manifest
    files: Mapping[str, str]
    digest: str
    bpmn: etree._Element
    spec: Any
    subprocess_specs: Mapping[str, Any]
    # Message names whose arrival starts a case (message start events of the process).
    message_starts: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """The bundle key (also the executable process id)."""
        return self.manifest.key

    def external_topic(self, task_id: str) -> str | None:
        """The topic a department system fetches an external task by; None for no external task.

        The diagram's ``camunda:topic`` first, else the binding item's ``topic``, else that
        item's department key (``Manifest.system_topic``); set on the spec at loading.
        """
        spec = external_spec(self, task_id)
        return None if spec is None else spec.topic

    def is_external(self, task_id: str) -> bool:
        """Whether a BPMN task id is an external task (a service task) of this bundle."""
        return external_spec(self, task_id) is not None

    def receive_message(self, task_id: str) -> str | None:
        """The message name a receive task of this bundle waits for; None for no such receive task."""
        for spec in (self.spec, *self.subprocess_specs.values()):
            for task_spec in spec.task_specs.values():
                definition = getattr(task_spec, "event_definition", None)
                if (
                    isinstance(task_spec, ReceiveTask)
                    and task_spec.bpmn_id == task_id
                    and isinstance(definition, MessageEventDefinition)
                ):
                    return str(definition.name)
        return None


def digest_files(files: Mapping[str, bytes]) -> str:
    """A content digest over file names and bytes: equal digests mean an unchanged bundle."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def read_bundle_dir(path: Path) -> dict[str, bytes]:
    """The files of a bundle folder that belong to a deployment (manifest, BPMN, DMN)."""
    files: dict[str, bytes] = {}
    for child in sorted(path.iterdir()):
        if child.is_file() and child.suffix in (".yaml", ".yml", ".bpmn", ".dmn"):
            files[child.name] = child.read_bytes()
    return files


class BusinessRuleTaskParser(TaskParser):  # type: ignore[misc]  # SpiffWorkflow is untyped
    """A business rule task that calls a DMN decision of the bundle.

    Plain BPMN names no decision, so the reference is read from either modeller's
    extension: ``camunda:decisionRef`` (Camunda Modeler) or ``spiffworkflow:calledDecisionId``
    (spiff-arena); the decision's cells run in the same restricted evaluator as every
    other expression (the DMN engine evaluates through the workflow's script engine).
    """

    @staticmethod
    def get_decision_ref(node: etree._Element) -> str:
        """Called by SpiffWorkflow to collect the decisions a diagram depends on."""
        return decision_ref_of(node)

    def create_task(self) -> Any:
        decision_ref = decision_ref_of(self.node)
        if not decision_ref:
            self.raise_validation_exception(
                "业务规则任务未指明决策表 (camunda:decisionRef 或 spiffworkflow:calledDecisionId) / "
                "the business rule task names no decision"
            )
        return BusinessRuleTask(
            self.spec,
            self.bpmn_id,
            dmnEngine=self.process_parser.parser.get_engine(decision_ref, self.node),
            **self.bpmn_attributes,
        )


def decision_ref_of(node: etree._Element) -> str:
    """The DMN decision id a business rule task calls, from either modeller's extension."""
    ref: str = node.get(f"{{{CAMUNDA_NS}}}decisionRef") or ""
    if ref:
        return ref.strip()
    called = node.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
    text: str = "" if called is None else (called.text or "")
    return text.strip()


class ExternalTask(ManualTask):  # type: ignore[misc]  # SpiffWorkflow is untyped
    """A service task done by a department's own system: waits like a user task (``manual``).

    ``topic`` is ``camunda:topic`` (None when the diagram names none: the manifest's item
    then gives it); ``priority`` is ``camunda:taskPriority`` (0 when absent). Both are
    attributes of the spec, which is never serialized (cases store the instance only).
    """

    def __init__(
        self, wf_spec: Any, bpmn_id: str, topic: str | None = None, priority: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic
        self.priority = priority


class ExternalTaskParser(TaskParser):  # type: ignore[misc]  # SpiffWorkflow is untyped
    """Reads a ``bpmn:serviceTask`` as an ``ExternalTask`` with its Camunda topic and priority."""

    def create_task(self) -> Any:
        topic = (self.node.get(f"{{{CAMUNDA_NS}}}topic") or "").strip() or None
        priority = task_priority(self.node)
        if priority is None:
            self.raise_validation_exception(
                "camunda:taskPriority 须为整数 / camunda:taskPriority must be an integer"
            )
            priority = 0  # not reached: the call above raises
        return ExternalTask(self.spec, self.bpmn_id, topic=topic, priority=priority, **self.bpmn_attributes)


def task_priority(node: etree._Element) -> int | None:
    """A service task's ``camunda:taskPriority`` (0 when absent); None when it is no integer."""
    text = (node.get(f"{{{CAMUNDA_NS}}}taskPriority") or "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        return None


def external_spec(definition: BundleDefinition, task_id: str) -> ExternalTask | None:
    """The external task spec with this BPMN id in the process or its sub-processes, if any."""
    for spec in (definition.spec, *definition.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, ExternalTask) and task_spec.bpmn_id == task_id:
                return task_spec
    return None


def _message_starts(spec: Any) -> frozenset[str]:
    """Names of the messages whose start events start the process."""
    return frozenset(
        str(task_spec.event_definition.name)
        for task_spec in spec.task_specs.values()
        if isinstance(task_spec, StartEvent)
        and isinstance(task_spec.event_definition, MessageEventDefinition)
        and task_spec.event_definition.name
    )


class OneThingParser(BpmnDmnParser):  # type: ignore[misc]  # SpiffWorkflow is untyped
    """SpiffWorkflow's BPMN+DMN parser with business rule tasks bound to the bundle's DMN files."""

    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, tuple[type, type]]] = {
        **BpmnDmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("businessRuleTask"): (BusinessRuleTaskParser, BusinessRuleTask),
        full_tag("serviceTask"): (ExternalTaskParser, ExternalTask),
    }


def build_parser(bpmn: etree._Element, bpmn_name: str, dmns: Mapping[str, etree._Element]) -> BpmnDmnParser:
    """A SpiffWorkflow parser fed with trees we parsed safely ourselves."""
    parser = OneThingParser()
    parser.add_bpmn_xml(bpmn, filename=bpmn_name)
    for name, tree in dmns.items():
        parser.add_dmn_xml(tree, filename=name)
    return parser


def load_definition(files: Mapping[str, bytes], max_bytes: int = DEFAULT_MAX_BYTES) -> BundleDefinition:
    """Parse a bundle's files into a definition; raises ``DefinitionError`` listing the problems.

    This checks only what is needed to run. ``engine.bpmn.validation`` checks everything a
    deployment must satisfy and reports every problem at once.
    """
    if MANIFEST_NAME not in files:
        raise DefinitionError("bundle.yaml is missing", [Problem("缺少 bundle.yaml", file=MANIFEST_NAME)])
    manifest = parse_manifest(files[MANIFEST_NAME], MANIFEST_NAME)
    if manifest.process not in files:
        raise DefinitionError(
            f"{manifest.process} is missing",
            [Problem(f"缺少流程图 {manifest.process}", file=manifest.process, rule="missing-file")],
        )
    bpmn = parse_xml(files[manifest.process], manifest.process, max_bytes)
    dmns = {name: parse_xml(data, name, max_bytes) for name, data in files.items() if name.endswith(".dmn")}
    try:
        parser = build_parser(bpmn, manifest.process, dmns)
        spec = parser.get_spec(manifest.key)
        subprocess_specs = parser.get_subprocess_specs(manifest.key)
    except (ValidationException, SpiffWorkflowException, KeyError, ValueError) as exc:
        element = getattr(exc, "id", "") or ""
        raise DefinitionError(
            f"{manifest.process}: {exc}",
            [
                Problem(
                    f"流程图无法解析: {exc}", file=manifest.process, element=str(element), rule="bpmn-parse"
                )
            ],
        ) from exc
    for each in (spec, *subprocess_specs.values()):
        for task_spec in each.task_specs.values():
            if isinstance(task_spec, ExternalTask) and task_spec.topic is None:
                task_spec.topic = manifest.system_topic(task_spec.bpmn_id)
    texts = {name: data.decode("utf-8") for name, data in files.items()}
    return BundleDefinition(
        manifest, texts, digest_files(files), bpmn, spec, subprocess_specs, _message_starts(spec)
    )


class DefinitionCache:
    """Parsed definitions by deployment digest, shared read-only across threads."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[str, BundleDefinition] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, files: Mapping[str, str]) -> BundleDefinition:
        """The definition for a deployment, parsing it only the first time."""
        with self._lock:
            found = self._items.get(digest)
            if found is not None:
                self._items.move_to_end(digest)
                return found
        definition = load_definition({name: text.encode("utf-8") for name, text in files.items()})
        with self._lock:
            self._items[digest] = definition
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return definition
