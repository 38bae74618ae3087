"""The typed seams between state-machine steps: one pydantic model per step input and output.

A Lambda task receives the ``Payload`` its ASL ``Parameters`` build and returns a result
that its ``ResultSelector`` (``{"result.$": "$.Payload"}``) and ``ResultPath`` put into
the state data, where the next steps' ``Parameters`` pick it up. Each side of that seam
has a model here: handlers validate their event on entry and their result on exit
(:func:`step`), contract tests walk both ASL files and check that every payload a state
builds validates against the input model of the step it calls and every event a
``Publish*`` state puts validates against its model in ``driftline_runtime.events``, and
``driftline status`` reads finished executions through the state models
(:class:`~driftline_runtime.steps.training.TrainingState`,
:class:`~driftline_runtime.steps.batch_inference.BatchInferenceState`).

A new step is a model for its input and one for its output in the module of its state
machine, a handler decorated with :func:`step`, and its state in the ASL file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StepModel(BaseModel):
    """A step's input or output: frozen, no unknown keys, revalidated when passed on."""

    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")


class AwsAnswer(BaseModel):
    """A service's own answer that a state passes on (a job description, say): the fields
    the pipeline reads are declared, everything else the service sends is kept."""

    model_config = ConfigDict(frozen=True, extra="allow")


class LambdaResult[T: BaseModel](BaseModel):
    """What a Lambda task leaves in the state data: ``{"result": <its Payload>}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    result: T


class StepError(BaseModel):
    """What a ``Catch`` with ``ResultPath: "$.error"`` leaves in the state data."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    error: str = Field(alias="Error")
    cause: str = Field(alias="Cause")


class JobNetwork(StepModel):
    """A job's or model's ``VpcConfig``: the stage's subnets and security groups."""

    Subnets: list[str] = Field(min_length=1)
    SecurityGroupIds: list[str] = Field(min_length=1)


class Tag(StepModel):
    Key: str
    Value: str


class Container(StepModel):
    Image: str
    ModelDataUrl: str
    Environment: dict[str, str] = {}


class CreateModelRequest(StepModel):
    """SageMaker's CreateModel request, which a ``sagemaker:createModel`` task passes on
    whole (``InputPath``), so optional fields appear only when the stage sets them.

    The model runs with network isolation: its serving code travels inside the model
    artefact (``code/``), so the container needs no network, and in a VPC it is placed
    in the stage's subnets.
    """

    ModelName: str
    ExecutionRoleArn: str
    PrimaryContainer: Container
    EnableNetworkIsolation: bool
    Tags: list[Tag]
    VpcConfig: JobNetwork | None = None


class ModelSettings(StepModel):
    """What a function that builds a CreateModel request is given by the stage."""

    role_arn: str
    vpc_config: JobNetwork | None = None


class CreatedModel(AwsAnswer):
    """A ``sagemaker:createModel`` task's result, as its ``ResultSelector`` keeps it."""

    ModelArn: str


def step[I: BaseModel, O: BaseModel](
    inputs: type[I], outputs: type[O]
) -> Callable[[Callable[[I, Any], O]], Callable[[dict[str, Any], Any], dict[str, Any]]]:
    """A Lambda handler that takes ``inputs`` and returns ``outputs``, validated both ways.

    The event is validated before the work starts (a malformed payload fails the task
    with pydantic's ``ValidationError``, which the state machine catches into its
    failure event), and the result is validated again before it is serialised for Step
    Functions, so no step hands the next one something its model does not describe.
    Fields that are None are left out (an optional field defaults to None, so nothing is
    lost), as AWS APIs that the state machine calls with a result refuse nulls.
    """

    def decorate(work: Callable[[I, Any], O]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        @functools.wraps(work)
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            result = work(inputs.model_validate(event), context)
            checked = outputs.model_validate(result)
            dumped: dict[str, Any] = checked.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
            return dumped

        return handler

    return decorate
