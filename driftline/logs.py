"""What ``driftline logs TARGET`` reads, on the local cloud and on AWS alike.

TARGET is one of:

- a function of the app (``ingest``, ``prepare-training``, ...; the folders of
  ``functions/``): its log group;
- ``train`` / ``infer``: the newest execution of the training / batch inference state
  machine, as below;
- a state-machine execution (its name or ARN): the execution's history (states entered,
  failures with their error and cause), the lines of every function invocation whose
  correlation id is the execution, and the logs of the SageMaker jobs it ran;
- a SageMaker training or transform job (its name): the job's status and failure
  reason, and its log streams;
- a dropped object's key (``transactions/...csv``): the ingest function's lines whose
  correlation id is that key.

Names come from the deployed app (stack outputs, the stage's function names), never
from a particular dataset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from driftline_runtime import names

from driftline import status as status_of
from driftline.errors import PreconditionFailed
from driftline.localcloud import ROOT
from driftline.loglines import LineParser, LogLine, milliseconds
from driftline.target import Target

FUNCTIONS = ROOT / "functions"
# `driftline logs train` / `infer`: the newest execution of what `driftline train` /
# `infer` start.
NEWEST_EXECUTION = {"train": "training", "infer": "batch_inference"}
JOB_LOG_GROUPS = {
    "training": f"{names.SAGEMAKER_LOGS_PREFIX}TrainingJobs",
    "transform": f"{names.SAGEMAKER_LOGS_PREFIX}TransformJobs",
}
JOB_DONE = frozenset({"Completed", "Failed", "Stopped"})
# A function's lines by default: as far back as `aws logs tail`.
FUNCTION_WINDOW = timedelta(minutes=10)
# Lines of an invocation can be stamped a little before the execution or object that
# caused it was (clocks, batching): the windows open this much earlier.
SLACK = timedelta(seconds=5)


class LogSource(Protocol):
    title: str

    def default_start(self) -> datetime: ...

    def fetch(self, start: datetime) -> list[LogLine]: ...

    def finished(self) -> bool: ...


def function_names() -> list[str]:
    """The app's functions as users name them: ``prepare-training`` for ``prepare_training``."""
    return sorted(p.name.replace("_", "-") for p in FUNCTIONS.iterdir() if p.is_dir())


def log_events(
    target: Target, group: str, start: datetime, stream_prefix: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every event of ``group`` from ``start`` on (none if the group does not exist yet)."""
    logs = target.client("logs")
    arguments: dict[str, Any] = {"logGroupName": group, "startTime": milliseconds(start)}
    if stream_prefix:
        arguments["logStreamNamePrefix"] = stream_prefix
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**arguments):
            # The local cloud ignores logStreamNamePrefix: the prefix is applied here too.
            yield from (
                event
                for event in page.get("events", [])
                if str(event.get("logStreamName", "")).startswith(stream_prefix or "")
            )
    except logs.exceptions.ResourceNotFoundException:
        return


@dataclass
class FunctionLogs:
    target: Target
    name: str
    # Only the invocations whose correlation id is this (an object key, an execution ARN).
    correlation: str | None = None
    parser: LineParser = field(init=False)

    def __post_init__(self) -> None:
        self.function_name = f"driftline-{self.target.stage}-{self.name}"
        self.parser = LineParser(self.name, f"{names.FUNCTION_LOGS_PREFIX}{self.function_name}")
        self.title = f"function {self.name}"

    def default_start(self) -> datetime:
        return datetime.now(UTC) - FUNCTION_WINDOW

    def fetch(self, start: datetime) -> list[LogLine]:
        lines = self.parser.parse(log_events(self.target, self.parser.group, start))
        if self.correlation is None:
            return lines
        return [line for line in lines if line.correlation_id == self.correlation]

    def finished(self) -> bool:
        return False


@dataclass
class ObjectLogs(FunctionLogs):
    """The ingest function's lines about one dropped object (its key is the correlation id)."""

    arrived: datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.title = f"ingestion of {self.correlation}"

    def default_start(self) -> datetime:
        return self.arrived - SLACK if self.arrived else datetime.now(UTC) - timedelta(days=1)


@dataclass
class JobLogs:
    target: Target
    kind: str  # "training" or "transform"
    name: str

    def __post_init__(self) -> None:
        self.title = f"{self.kind} job {self.name}"
        self.parser = LineParser(self.title, JOB_LOG_GROUPS[self.kind])

    def describe(self) -> dict[str, Any]:
        sagemaker = self.target.client("sagemaker")
        if self.kind == "training":
            return dict(sagemaker.describe_training_job(TrainingJobName=self.name))
        return dict(sagemaker.describe_transform_job(TransformJobName=self.name))

    def default_start(self) -> datetime:
        return _aware(self.describe()["CreationTime"]) - SLACK

    def fetch(self, start: datetime) -> list[LogLine]:
        events = log_events(self.target, self.parser.group, start, f"{self.name}/")
        return [*self.parser.parse(events), self._status_line()]

    def _status_line(self) -> LogLine:
        job = self.describe()
        status = job.get("TrainingJobStatus") or job.get("TransformJobStatus") or "?"
        ended = job.get("TrainingEndTime") or job.get("TransformEndTime")
        reason = f": {job['FailureReason']}" if job.get("FailureReason") else ""
        return LogLine(
            time=_aware(ended or job.get("LastModifiedTime") or job["CreationTime"]),
            source=self.title,
            message=f"{self.title} {status}{reason}",
            level="ERROR" if status == "Failed" else "INFO",
            key=f"{self.title}/status/{status}",
        )

    def finished(self) -> bool:
        job = self.describe()
        return (job.get("TrainingJobStatus") or job.get("TransformJobStatus")) in JOB_DONE


@dataclass
class ExecutionLogs:
    target: Target
    arn: str

    def __post_init__(self) -> None:
        self.name = self.arn.rsplit(":", 1)[-1]
        self.title = f"execution {self.name}"
        self.label = "execution"
        self.functions = [FunctionLogs(self.target, n, self.arn) for n in function_names()]
        self.jobs: dict[str, JobLogs] = {}

    def describe(self) -> dict[str, Any]:
        client = self.target.client("stepfunctions")
        return dict(client.describe_execution(executionArn=self.arn))

    def default_start(self) -> datetime:
        return _aware(self.describe()["startDate"]) - SLACK

    def fetch(self, start: datetime) -> list[LogLine]:
        history = self._history()
        lines = [line for line in (self._history_line(e) for e in history) if line]
        for function in self.functions:
            lines += function.fetch(start)
        for job in self._jobs(history):
            lines += job.fetch(start)
        return sorted((line for line in lines if line.time >= start), key=lambda x: x.time)

    def finished(self) -> bool:
        return bool(self.describe()["status"] != "RUNNING")

    def _history(self) -> list[dict[str, Any]]:
        client = self.target.client("stepfunctions")
        pages = client.get_paginator("get_execution_history").paginate(executionArn=self.arn)
        return [event for page in pages for event in page["events"]]

    def _history_line(self, event: dict[str, Any]) -> LogLine | None:
        kind = str(event["type"])
        details: dict[str, Any] = next(
            (v for k, v in event.items() if k.endswith("EventDetails")), {}
        )
        if kind.endswith("StateEntered"):
            message, level = f"{kind} {details.get('name')}", "INFO"
        elif kind.endswith(("Failed", "TimedOut", "Aborted")):
            message, level = f"{kind} {details.get('error')}: {_cause(details)}", "ERROR"
        elif kind in ("ExecutionStarted", "ExecutionSucceeded"):
            message, level = kind, "INFO"
        else:
            return None
        return LogLine(
            time=_aware(event["timestamp"]),
            source=self.label,
            message=message,
            correlation_id=self.arn,
            level=level,
            key=f"{self.arn}/{event['id']}",
        )

    def _jobs(self, history: list[dict[str, Any]]) -> list[JobLogs]:
        """The SageMaker jobs the execution ran, as its history names them."""
        found: dict[str, set[str]] = {"TrainingJobName": set(), "TransformJobName": set()}
        prefixes: set[str] = set()
        for event in history:
            for key, value in _walk(event):
                if key in found and isinstance(value, str):
                    found[key].add(value)
                elif key == "job_prefix" and isinstance(value, str):
                    prefixes.add(value)
        sagemaker = self.target.client("sagemaker")
        for prefix in prefixes:  # the transform jobs of a Distributed Map
            for page in sagemaker.get_paginator("list_transform_jobs").paginate(
                NameContains=prefix
            ):
                found["TransformJobName"] |= {
                    j["TransformJobName"] for j in page["TransformJobSummaries"]
                }
        for key, kind in (("TrainingJobName", "training"), ("TransformJobName", "transform")):
            for name in found[key]:
                self.jobs.setdefault(name, JobLogs(self.target, kind, name))
        return list(self.jobs.values())


def _cause(details: dict[str, Any]) -> str:
    cause = details.get("cause") or ""
    parsed = _json(cause)
    if isinstance(parsed, dict) and parsed.get("FailureReason"):
        return str(parsed["FailureReason"])  # a SageMaker job's description
    return str(cause)


def _json(text: Any) -> Any:
    if isinstance(text, str) and text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return None
    return None


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) in a history event, JSON held in strings included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
    elif (parsed := _json(value)) is not None:
        yield from _walk(parsed)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- finding the target ----------------------------------------------------------------
def resolve(target: Target, name: str) -> LogSource:
    """The log source ``name`` stands for; PreconditionFailed when it is none of them."""
    if name.startswith("arn:aws:states:"):
        return _execution(target, name)
    if name.replace("_", "-") in function_names():
        return FunctionLogs(target, name.replace("_", "-"))
    if name in NEWEST_EXECUTION:
        return _newest_execution(target, NEWEST_EXECUTION[name], name)
    if "/" in name:
        return _object(target, name)
    for label, output in status_of.STATE_MACHINES.items():
        arn = target.outputs(names.PIPELINE_STACK)[output]
        for execution in status_of.executions(target, arn, label):
            if execution["name"] == name:
                return ExecutionLogs(target, execution["arn"])
    job = _job(target, name)
    if job is not None:
        return job
    raise PreconditionFailed(
        f"{name!r} is not a function, execution, SageMaker job or dropped object of stage "
        f"{target.stage}",
        f"Functions: {', '.join(function_names())}; `train` and `infer` name the newest "
        "runs; `driftline status` lists executions, jobs and dropped files.",
        code="unknown_log_target",
    )


def _execution(target: Target, arn: str) -> ExecutionLogs:
    source = ExecutionLogs(target, arn)
    client = target.client("stepfunctions")
    try:
        source.describe()
    except (client.exceptions.ExecutionDoesNotExist, client.exceptions.InvalidArn) as error:
        raise PreconditionFailed(
            f"There is no execution {arn}",
            "`driftline status` lists the executions.",
            code="unknown_log_target",
        ) from error
    return source


def _newest_execution(target: Target, label: str, alias: str) -> ExecutionLogs:
    arn = target.outputs(names.PIPELINE_STACK)[status_of.STATE_MACHINES[label]]
    runs = status_of.executions(target, arn, label)
    if not runs:
        raise PreconditionFailed(
            f"The {label.replace('_', ' ')} state machine has not run yet",
            f"Start it with `driftline {alias} DATASET`, or drop a file.",
            code="no_execution",
        )
    return ExecutionLogs(target, runs[-1]["arn"])


def _object(target: Target, key: str) -> ObjectLogs:
    s3 = target.client("s3")
    try:
        head = s3.head_object(
            Bucket=target.outputs(names.DATA_STACK)[names.RAW_BUCKET_OUTPUT], Key=key
        )
        arrived: datetime | None = _aware(head["LastModified"])
    except s3.exceptions.ClientError as error:
        if _code(error) not in ("404", "NoSuchKey", "403"):
            raise
        arrived = None  # expired or never there: search the last day
    return ObjectLogs(target, "ingest", correlation=key, arrived=arrived)


def _job(target: Target, name: str) -> JobLogs | None:
    sagemaker = target.client("sagemaker")
    for kind in ("training", "transform"):
        job = JobLogs(target, kind, name)
        try:
            job.describe()
        except sagemaker.exceptions.ClientError as error:
            if _code(error) not in ("ValidationException", "ResourceNotFound"):
                raise
            continue  # not a job of this kind
        return job
    return None


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code"))
