"""SageMaker's own log groups: retention and the project key, created or adopted.

SageMaker writes job logs to account-wide groups it names itself
(``/aws/sagemaker/TrainingJobs``, ``TransformJobs``, ``ProcessingJobs``), creating them
on first use with no retention and no key. A CloudFormation ``AWS::Logs::LogGroup``
cannot own them: in an account that ever ran a SageMaker job they already exist, and
the deployment would fail. This custom resource creates each group when it is missing
and otherwise adopts it, then sets the stage's retention and associates the project
key. On delete the groups stay: other jobs in the account may write to them.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

from driftline_runtime.observability import Observability
from pydantic import BaseModel, ConfigDict, Field


class LogGroupSettings(BaseModel):
    """The custom resource's properties (CloudFormation passes numbers as strings)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    log_groups: list[str] = Field(alias="LogGroups", min_length=1)
    retention_days: int = Field(alias="RetentionDays", gt=0)
    kms_key_arn: str = Field(alias="KmsKeyArn")


@dataclass(frozen=True)
class Services:
    logs: Any
    obs: Observability


class SageMakerLogGroups:
    def __init__(self, services: Services) -> None:
        self.services = services

    def apply(self, settings: LogGroupSettings) -> None:
        logs = self.services.logs
        for name in settings.log_groups:
            try:
                logs.create_log_group(logGroupName=name, kmsKeyId=settings.kms_key_arn)
            except logs.exceptions.ResourceAlreadyExistsException:
                logs.associate_kms_key(logGroupName=name, kmsKeyId=settings.kms_key_arn)
            logs.put_retention_policy(logGroupName=name, retentionInDays=settings.retention_days)
            self.services.obs.logger.info(
                "Log group configured",
                extra={"log_group": name, "retention_days": settings.retention_days},
            )

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answers one CloudFormation request; never raises, so CloudFormation always
        hears back (a failure is reported with its reason)."""
        physical_id = request.get("PhysicalResourceId") or "sagemaker-log-groups"
        status, reason = "SUCCESS", ""
        if request["RequestType"] in ("Create", "Update"):
            try:
                self.apply(LogGroupSettings.model_validate(request["ResourceProperties"]))
            except Exception as error:  # reported to CloudFormation, which fails the stack
                self.services.obs.logger.exception("Log groups not configured")
                status, reason = "FAILED", f"{type(error).__name__}: {error}"
        answer = {
            "Status": status,
            "Reason": reason or "see the function's log",
            "PhysicalResourceId": physical_id,
            "StackId": request["StackId"],
            "RequestId": request["RequestId"],
            "LogicalResourceId": request["LogicalResourceId"],
            "Data": {},
        }
        respond(request["ResponseURL"], answer)
        return answer


def respond(url: str, answer: dict[str, Any]) -> None:
    """PUT the answer to the pre-signed ResponseURL, as CloudFormation expects it."""
    body = json.dumps(answer).encode()
    put = urllib.request.Request(  # noqa: S310 - CloudFormation's own https URL
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(put, timeout=30) as response:  # noqa: S310
        response.read()
