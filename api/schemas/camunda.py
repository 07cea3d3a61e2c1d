"""Camunda 7.20's REST shapes for external tasks and messages (``/engine-rest``).

Field names are Camunda's (camelCase), so a department system's existing worker (the Java
or JavaScript external-task client, or plain HTTP) runs against onething unchanged. Request
bodies accept keys Camunda knows but onething does not use (tenants, process definition
filters) and ignore keys it does not know, as a newer client may send them. Answers carry
every field of Camunda's DTO, ``null`` where onething has nothing to say (tenants, version
tags), plus ``materials`` on a fetched task: the case's documents the department's view
holds, with the path to download each (Camunda clients ignore fields they do not know).

Variables travel in Camunda's typed form ``{"name": {"value": ..., "type": "String"}}``;
``api.camunda_values`` decodes and encodes them.

May import: pydantic, api.schemas.common.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.schemas.common import RequestBody

# Camunda's cap on asyncResponseTimeout (30 minutes).
MAX_ASYNC_RESPONSE_TIMEOUT = 1_800_000
MAX_TASKS = 100


CAMUNDA_CONFIG = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class CamundaModel(BaseModel):
    """An answer: camelCase on the wire."""

    model_config = CAMUNDA_CONFIG


class CamundaRequest(RequestBody):
    """A request body: camelCase, unknown keys ignored (newer clients send some), and text no
    database can store (NUL, lone surrogates, NaN) refused as every request body's is."""

    model_config = CAMUNDA_CONFIG


class VariableValue(CamundaRequest):
    """A typed value: Camunda's VariableValueDto."""

    value: Any = None
    type: str | None = None
    value_info: dict[str, Any] | None = None


Variables = dict[str, VariableValue]


class TopicRequest(CamundaRequest):
    """One topic of a fetch: its name, how long to lock, which variables to return."""

    topic_name: str = Field(min_length=1, max_length=128)
    lock_duration: int = Field(gt=0, le=2**62, description="毫秒 (milliseconds)")
    variables: list[str] | None = None
    local_variables: bool = False
    business_key: str | None = None
    process_definition_id: str | None = None
    process_definition_id_in: list[str] | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_definition_version_tag: str | None = None
    process_variables: dict[str, Any] | None = None
    without_tenant_id: bool = False
    tenant_id_in: list[str] | None = None
    deserialize_values: bool = False
    include_extension_properties: bool = False


class FetchAndLock(CamundaRequest):
    """Camunda's FetchExternalTasksExtendedDto."""

    model_config = ConfigDict(
        **CAMUNDA_CONFIG,
        json_schema_extra={
            "examples": [
                {
                    "workerId": "tax-system-1",
                    "maxTasks": 10,
                    "usePriority": True,
                    "asyncResponseTimeout": 30000,
                    "topics": [{"topicName": "tax", "lockDuration": 60000, "variables": ["company_name"]}],
                }
            ]
        },
    )

    worker_id: str = Field(min_length=1, max_length=255)
    max_tasks: int = Field(
        ge=0, le=2**31 - 1, description=f"至多返回 {MAX_TASKS} 个 (at most {MAX_TASKS} are handed out)"
    )
    use_priority: bool = False
    async_response_timeout: int | None = Field(default=None, ge=0, le=2**62)
    topics: list[TopicRequest] = Field(default_factory=list, max_length=64)


class CompleteExternalTask(CamundaRequest):
    """Camunda's CompleteExternalTaskDto (a missing workerId is the route's 400, after the task id)."""

    worker_id: str | None = Field(default=None, max_length=255)
    variables: Variables | None = None
    local_variables: Variables | None = None


class ExternalTaskFailure(CamundaRequest):
    """Camunda's ExternalTaskFailureDto."""

    worker_id: str | None = Field(default=None, max_length=255)
    error_message: str | None = Field(default=None, max_length=4000)
    error_details: str | None = Field(default=None, max_length=1_000_000)
    retries: int = Field(default=0, ge=0, le=2**31 - 1)
    retry_timeout: int = Field(default=0, ge=0, le=2**62)
    variables: Variables | None = None
    local_variables: Variables | None = None


class ExternalTaskBpmnError(CamundaRequest):
    """Camunda's ExternalTaskBpmnError."""

    worker_id: str | None = Field(default=None, max_length=255)
    error_code: str | None = Field(default=None, max_length=255)
    error_message: str | None = Field(default=None, max_length=4000)
    variables: Variables | None = None


class ExtendLock(CamundaRequest):
    """Camunda's ExtendLockOnExternalTaskDto."""

    worker_id: str | None = Field(default=None, max_length=255)
    new_duration: int | None = Field(default=None, le=2**62, description="毫秒 (milliseconds)")


class Retries(CamundaRequest):
    """Camunda's RetriesDto."""

    retries: int | None = Field(default=None, ge=0, le=2**31 - 1)


class CorrelationMessage(CamundaRequest):
    """Camunda's CorrelationMessageDto."""

    model_config = ConfigDict(
        **CAMUNDA_CONFIG,
        json_schema_extra={
            "examples": [
                {
                    "messageName": "birth-certificate-issued",
                    "businessKey": "BJ-20260302-00000017",
                    "processVariables": {"certificate_no": {"value": "N440123456", "type": "String"}},
                    "resultEnabled": True,
                }
            ]
        },
    )

    message_name: str | None = Field(default=None, max_length=255)
    business_key: str | None = Field(default=None, max_length=255)
    tenant_id: str | None = None
    without_tenant_id: bool = False
    process_instance_id: str | None = Field(default=None, max_length=64)
    correlation_keys: Variables | None = None
    local_correlation_keys: Variables | None = None
    process_variables: Variables | None = None
    process_variables_local: Variables | None = None
    all: bool = False
    result_enabled: bool = False
    variables_in_result_enabled: bool = False


class MaterialLink(CamundaModel):
    """A document of the case in the department's view, and where the system downloads it."""

    kind: str
    name: str
    id: str
    sha256: str
    size: int
    mime: str
    href: str


class ExternalTaskOut(CamundaModel):
    """Camunda's ExternalTaskDto (``GET /external-task``)."""

    activity_id: str
    activity_instance_id: str
    error_message: str | None
    execution_id: str
    id: str
    lock_expiration_time: str | None
    create_time: str
    process_definition_id: str
    process_definition_key: str
    process_definition_version_tag: str | None
    process_instance_id: str
    tenant_id: str | None
    retries: int | None
    suspended: bool
    worker_id: str | None
    topic_name: str
    priority: int
    business_key: str | None


class LockedExternalTaskOut(ExternalTaskOut):
    """Camunda's LockedExternalTaskDto (``fetchAndLock``): with details, variables and materials."""

    error_details: str | None
    variables: dict[str, dict[str, Any]]
    extension_properties: dict[str, str] | None
    materials: list[MaterialLink]


class CountOut(CamundaModel):
    """Camunda's CountResultDto."""

    count: int


class ExecutionOut(CamundaModel):
    """Camunda's ExecutionDto in a correlation result: the case that took the message."""

    id: str
    process_instance_id: str
    ended: bool
    tenant_id: str | None = None


class ProcessInstanceOut(CamundaModel):
    """Camunda's ProcessInstanceDto in a correlation result: the case a message started."""

    links: list[dict[str, Any]] = Field(default_factory=list)
    id: str
    definition_id: str | None
    business_key: str | None
    case_instance_id: str | None = None
    ended: bool
    suspended: bool = False
    tenant_id: str | None = None


class CorrelationResultOut(CamundaModel):
    """Camunda's MessageCorrelationResultWithVariableDto."""

    result_type: Literal["Execution", "ProcessDefinition"]
    execution: ExecutionOut | None
    process_instance: ProcessInstanceOut | None
    variables: dict[str, dict[str, Any]] | None = None


class CamundaErrorOut(BaseModel):
    """Camunda's ExceptionDto: the exception's class name, its message and its code."""

    type: str
    message: str
    code: int | None = None
