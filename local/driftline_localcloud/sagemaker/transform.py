"""A batch transform job: the model's inference code over S3 objects, as SageMaker runs it.

The model's container is set up as SageMaker's scikit-learn serving container expects
(``model_setup.py``: model data, code, entry file). ``serving_shim.py`` runs that code in the
framework environment and answers requests over a pipe; this module plays SageMaker's
batch side: it reads each input object, splits it into records (SplitType), packs them
into requests (BatchStrategy, MaxPayloadInMB), sends them, and assembles the answers
(AssembleWith) into ``<S3OutputPath>/<key relative to the input prefix>.out``. A serving
process that answered a whole job serves the next job of the same model warm
(``serving.WarmShims``).

As on AWS, an object's output is uploaded only if every request for it succeeded, the
other objects still run, and any failed object fails the job; its FailureReason names
the object and the error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from driftline_localcloud.faults import Fault, faults
from driftline_localcloud.sagemaker.containers import (
    JobFailure,
    JobStopped,
    Processes,
    S3Uri,
    data_objects,
    decompress,
    framework_python,
    get_object,
)
from driftline_localcloud.sagemaker.job_host import JobHost, JobRun, job_root
from driftline_localcloud.sagemaker.model_setup import prepare_model, primary_container
from driftline_localcloud.sagemaker.requirements import requirements_problem
from driftline_localcloud.sagemaker.serving import (
    Shim,
    ShimError,
    ShimTimeout,
    Warm,
    WarmShims,
    last_line,
)
from driftline_localcloud.sagemaker.store import Description, Stores, now

LOG = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/TransformJobs"
SHIM = Path(__file__).with_name("serving_shim.py")
MODEL_LOAD_TIMEOUT_SECONDS = 600.0
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 600.0
FAILURE_REASON_LIMIT = 1024


def split_records(data: bytes, split_type: str | None) -> list[bytes]:
    if split_type in (None, "", "None"):
        return [data] if data else []
    if split_type == "Line":
        return [line for line in data.splitlines(keepends=True) if line.strip()]
    raise JobFailure(f"ClientError: SplitType {split_type!r} is not supported locally.")


def batches(records: list[bytes], multi: bool, max_bytes: int) -> Iterator[bytes]:
    """Requests: one record each, or as many records as fit in MaxPayloadInMB."""
    batch: list[bytes] = []
    size = 0
    for record in records:
        if max_bytes and len(record) > max_bytes:
            raise JobFailure(
                f"ClientError: a record of {len(record)} bytes is larger than MaxPayloadInMB"
            )
        if batch and (not multi or (max_bytes and size + len(record) > max_bytes)):
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield b"".join(batch)


def assemble(answers: list[bytes], assemble_with: str | None) -> bytes:
    if assemble_with == "Line":
        return b"".join(a if a.endswith(b"\n") else a + b"\n" for a in answers)
    return b"".join(answers)


class TransformRun(JobRun):
    """Runs one transform job to its final status; a thread pool calls it."""

    name_field = "TransformJobName"

    def __init__(
        self,
        stores: Stores,
        processes: Processes,
        host: JobHost,
        account: str,
        region: str,
        job: Description,
        model: Description,
        stop: threading.Event,
        warm: WarmShims,
    ) -> None:
        super().__init__(stores, processes, host, account, region, job, stop)
        self.model = model
        self.warm = warm
        self.fault: Fault | None = None

    @property
    def role_arn(self) -> str | None:
        role: str | None = self.model.get("ExecutionRoleArn")
        return role

    def __call__(self) -> None:
        root: Path | None = None
        try:
            if self.stop.is_set():
                raise JobStopped
            self.stores.update(self.job, TransformStartTime=now())
            self.fault = faults().take("transform-job", subject=self.name)
            if self.fault is not None and self.fault.action == "fail":
                raise JobFailure(self.fault.reason)
            container = primary_container(self.model)
            python = framework_python(container["Image"])
            root = job_root(self.host, "transform", self.name)
            self._run(python, container, root)
            self._finish("Completed")
        except JobStopped:
            self._finish("Stopped")
        except JobFailure as failure:
            self._finish("Failed", FailureReason=str(failure)[:FAILURE_REASON_LIMIT])
        except Exception as error:
            LOG.exception("Transform job %s failed in the local cloud itself", self.name)
            self._finish("Failed", FailureReason=f"InternalServerError: {error}")
        finally:
            if self.logs is not None:
                self.logs.close()
            if root is not None and self.job.get("TransformJobStatus") == "Completed":
                shutil.rmtree(root, ignore_errors=True)

    def _run(self, python: Path, container: dict[str, Any], root: Path) -> None:
        s3 = self.client("s3")
        self.logs = self.log_stream(LOG_GROUP, f"{self.name}/algo-1-{int(time.time())}")
        key = serving_key(python, container, self.spec, self.role_arn)
        warm = self.warm.take(key)
        if warm is None:
            warm = self._start_serving(s3, python, container)
        else:
            warm.shim.logs = self.logs
            self.logs.write(f"Reusing the warm serving process {warm.shim.process.pid}\n")
        finished = False
        try:
            finished = self._transform_all(s3, warm.shim)
        except ShimError as error:
            raise JobFailure(f"ClientError: the model could not be loaded: {error}") from error
        finally:
            if finished:
                self.warm.give(key, warm)
            else:
                self.warm.close(warm, graceful=False)

    def _start_serving(self, s3: Any, python: Path, container: dict[str, Any]) -> Warm:
        """A serving process with the model loaded; its folder lives as long as it does."""
        folder = job_root(self.host, "serving", self.name)
        environment: dict[str, str] = dict(container.get("Environment") or {})
        try:
            model_dir, code_dir = prepare_model(s3, container, folder)
            problem = requirements_problem(code_dir, python, "the model's code")
            if problem is not None:
                raise JobFailure(problem)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        assert self.logs is not None
        env = {
            **self.environment(python),
            **environment,
            **(self.spec.get("Environment") or {}),
            "SM_MODEL_DIR": str(model_dir),
        }
        shim = Shim([str(python), "-I", str(SHIM)], code_dir, env, self.logs)
        warm = self.warm.start(folder.name, folder, shim)
        try:
            ready, _ = shim.wait_reply(MODEL_LOAD_TIMEOUT_SECONDS, self.stop)
        except (ShimError, JobStopped) as error:
            self.warm.close(warm, graceful=False)
            if isinstance(error, JobStopped):
                raise
            raise JobFailure(f"ClientError: the model could not be loaded: {error}") from error
        if not ready.get("ok"):
            self.warm.close(warm, graceful=False)
            reason = last_line(str(ready.get("error")))
            raise JobFailure(f"ClientError: Loading the model failed: {reason}")
        return warm

    def _transform_all(self, s3: Any, shim: Shim) -> bool:
        """Every input object; True if all of them were transformed."""
        source = self.spec["TransformInput"]["DataSource"]["S3DataSource"]
        objects = data_objects(s3, source.get("S3DataType"), source["S3Uri"])
        output = S3Uri.parse(self.spec["TransformOutput"]["S3OutputPath"])
        failures: list[str] = []
        done = 0
        for uri, relative in objects:
            done += 1
            try:
                result = self._transform_object(s3, shim, uri)
            except (JobFailure, ShimError) as error:
                failures.append(f"{uri}: {error}")
                if isinstance(error, ShimTimeout) or shim.process.poll() is not None:
                    break  # nothing more can be answered (reliably)
                continue
            target = output.child(f"{relative}.out")
            s3.put_object(Bucket=target.bucket, Key=target.key, Body=result)
        if failures:
            untried = (
                f" ({len(objects) - done} not tried after that)" if done < len(objects) else ""
            )
            raise JobFailure(
                f"ClientError: {len(failures)} of {len(objects)} input objects failed{untried}. "
                + " | ".join(failures)
            )
        return True

    def _transform_object(self, s3: Any, shim: Shim, uri: S3Uri) -> bytes:
        transform_input = self.spec["TransformInput"]
        data = decompress(get_object(s3, uri), transform_input.get("CompressionType"), str(uri))
        records = split_records(data, transform_input.get("SplitType"))
        max_mb = self.spec.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)
        multi = self.spec.get("BatchStrategy") == "MultiRecord"
        client = self.spec.get("ModelClientConfig") or {}
        timeout = float(
            client.get("InvocationsTimeoutInSeconds") or DEFAULT_INVOCATION_TIMEOUT_SECONDS
        )
        if self.fault is not None and self.fault.action == "timeout":
            timeout = float(self.fault.seconds or 0)
        content_type = transform_input.get("ContentType") or "application/octet-stream"
        accept = self.spec["TransformOutput"].get("Accept") or ""
        answers = [
            shim.invoke(body, content_type, accept, timeout, self.stop)
            for body in batches(records, multi, int(max_mb) * 1024 * 1024)
        ]
        return assemble(answers, self.spec["TransformOutput"].get("AssembleWith"))

    def _finish(self, status: str, **fields: Any) -> None:
        if self.logs is not None:  # every line is in CloudWatch before the job is seen to end
            self.logs.close()
        self.stores.update(self.job, TransformJobStatus=status, TransformEndTime=now(), **fields)


def serving_key(
    python: Path, container: dict[str, Any], spec: dict[str, Any], role: str | None
) -> str:
    """What shapes a serving process: jobs with equal keys may share a warm one. The role
    is part of it: the process holds that role's session credentials (12 hours, far
    beyond how long a process waits)."""
    shaped = {
        "role": role,
        "python": str(python),
        "image": container.get("Image"),
        "model": container.get("ModelDataUrl"),
        "container": container.get("Environment") or {},
        "job": spec.get("Environment") or {},
    }
    return hashlib.sha256(json.dumps(shaped, sort_keys=True).encode()).hexdigest()
