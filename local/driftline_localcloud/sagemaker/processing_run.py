"""A Processing job run as a host process under SageMaker's Processing container contract.

The job folder stands in for ``/opt/ml``: each ``ProcessingInputs`` S3 input is
downloaded to its ``LocalPath`` (under ``/opt/ml/processing/``), the entry point runs,
and each ``ProcessingOutputConfig`` output's ``LocalPath`` is uploaded to its S3 URI
when the job completes. ``AppSpecification.ContainerEntrypoint`` must start with a
Python interpreter (``python3``): it runs with the image's stand-in environment (the
``pytorch-training`` image's is ``local/frameworks/pytorch.txt``; scikit-learn and
XGBoost as for training). Paths under ``/opt/ml/`` in the entry point, its arguments
and the job's ``Environment`` are remapped into the job folder, so the job finds its
inputs and ``/opt/ml/output/message`` where it looks.

Statuses follow DescribeProcessingJob: InProgress, then Completed; Failed with a
FailureReason (``AlgorithmError: `` and what the job wrote to ``/opt/ml/output/message``,
which is also its ExitMessage, or its last lines); Stopped when StopProcessingJob asked
for it (after Stopping) or when ``MaxRuntimeInSeconds`` ended it.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from driftline_localcloud.faults import Fault, faults
from driftline_localcloud.sagemaker.containers import (
    JobFailure,
    JobStopped,
    Outcome,
    Processes,
    S3Uri,
    data_objects,
    download,
    framework_python,
    run_process,
    upload,
)
from driftline_localcloud.sagemaker.job_host import JobHost, JobRun, job_root
from driftline_localcloud.sagemaker.store import Description, Stores, now

LOG = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
HOST = "algo-1"
CONTAINER_ROOT = "/opt/ml/"
PROCESSING_ROOT = "/opt/ml/processing/"
MESSAGE_LIMIT = 1024
INTERPRETERS = ("python", "python3", "python3.13")
# Images only Processing jobs run here, with the environment standing in for each (the
# rest: containers.SUPPORTED_IMAGES, as for training).
PROCESSING_IMAGES = {"pytorch-training": "pytorch"}
MAX_RUNTIME_MESSAGE = "Processing job runtime exceeded MaxRuntimeInSeconds provided"


class ProcessingRun(JobRun):
    """Runs one Processing job from InProgress to its final status; a thread pool calls it."""

    name_field = "ProcessingJobName"

    def __init__(
        self,
        stores: Stores,
        processes: Processes,
        host: JobHost,
        account: str,
        region: str,
        job: Description,
        stop: threading.Event,
    ) -> None:
        super().__init__(stores, processes, host, account, region, job, stop)
        self.fault: Fault | None = None
        self.root: Path | None = None

    def __call__(self) -> None:
        try:
            if self.stop.is_set():
                raise JobStopped
            self.fault = faults().take("processing-job", subject=self.name)
            if self.fault is not None and self.fault.action == "fail":
                raise JobFailure(self.fault.reason)
            python = framework_python(self.spec["AppSpecification"]["ImageUri"], PROCESSING_IMAGES)
            self.root = job_root(self.host, "processing", self.name)
            self._process(python)
        except JobStopped:
            self._finish("Stopped")
        except JobFailure as failure:
            self._finish("Failed", FailureReason=str(failure)[:MESSAGE_LIMIT])
        except Exception as error:
            LOG.exception("Processing job %s failed in the local cloud itself", self.name)
            self._finish("Failed", FailureReason=f"InternalServerError: {error}"[:MESSAGE_LIMIT])
        finally:
            if self.logs is not None:
                self.logs.close()
            completed = self.job.get("ProcessingJobStatus") == "Completed"
            if self.root is not None and completed:
                shutil.rmtree(self.root, ignore_errors=True)

    def local(self, path: str) -> str:
        """A container path as the job folder holds it (other values unchanged)."""
        if self.root is None or not path.startswith(CONTAINER_ROOT):
            return path
        return str(self.root / path.removeprefix(CONTAINER_ROOT))

    def _process(self, python: Path) -> None:
        started = time.monotonic()
        self.stores.update(self.job, ProcessingStartTime=now())
        s3 = self.client("s3")
        self._download_inputs(s3)
        if self.stop.is_set():
            raise JobStopped
        app = self.spec["AppSpecification"]
        # The entry point's interpreter (checked at creation) is the stand-in's.
        _, *rest = [self.local(part) for part in app["ContainerEntrypoint"]]
        command = [str(python), *rest, *(self.local(a) for a in app.get("ContainerArguments", []))]
        message = Path(self.local("/opt/ml/output/message"))
        message.parent.mkdir(parents=True, exist_ok=True)
        self.logs = self.log_stream(LOG_GROUP, f"{self.name}/{HOST}-{int(time.time())}")
        environment = {
            name: self.local(value) for name, value in (self.spec.get("Environment") or {}).items()
        }
        outcome = run_process(
            command,
            cwd=self.root or Path.cwd(),
            env={**self.environment(python), **environment},
            on_line=self.logs.write,
            deadline=started + self._max_runtime(),
            stop=self.stop,
            processes=self.processes,
        )
        self.logs.close()  # every line is in CloudWatch before the job is seen to end
        exit_message = message.read_text(errors="replace").strip() if message.is_file() else ""
        if exit_message:
            self.stores.update(self.job, ExitMessage=exit_message[:MESSAGE_LIMIT])
        if outcome.timed_out:
            self._finish("Stopped", FailureReason=MAX_RUNTIME_MESSAGE)
        elif outcome.stopped:
            self._finish("Stopped")
        elif outcome.exit_code != 0:
            self._finish("Failed", FailureReason=self._failure_reason(exit_message, outcome))
        else:
            self._upload_outputs(s3)
            self._finish("Completed")

    def _max_runtime(self) -> float:
        if self.fault is not None and self.fault.action == "max_runtime":
            return float(self.fault.seconds or 0)
        condition = self.spec.get("StoppingCondition") or {}
        return float(condition.get("MaxRuntimeInSeconds") or 86400)

    def _download_inputs(self, s3: Any) -> None:
        for processing_input in self.spec.get("ProcessingInputs") or []:
            source = processing_input["S3Input"]
            target = Path(self.local(source["LocalPath"]))
            target.mkdir(parents=True, exist_ok=True)
            for uri, relative in data_objects(s3, source.get("S3DataType"), source["S3Uri"]):
                if self.stop.is_set():
                    raise JobStopped
                download(s3, uri, target / relative)

    def _upload_outputs(self, s3: Any) -> None:
        config = self.spec.get("ProcessingOutputConfig") or {}
        for output in config.get("Outputs") or []:
            destination = S3Uri.parse(output["S3Output"]["S3Uri"])
            folder = Path(self.local(output["S3Output"]["LocalPath"]))
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                upload(s3, path, destination.child(path.relative_to(folder).as_posix()))

    def _failure_reason(self, exit_message: str, outcome: Outcome) -> str:
        if exit_message:
            return f"AlgorithmError: {exit_message}"[:MESSAGE_LIMIT]
        last_lines = "\n".join(list(outcome.tail)[-10:])
        reason = f"AlgorithmError: exit code {outcome.exit_code}\n{last_lines}"
        if len(reason) > MESSAGE_LIMIT:  # keep the end, where the error is
            reason = reason[:200] + "\n...\n" + reason[-(MESSAGE_LIMIT - 205) :]
        return reason

    def _finish(self, status: str, **fields: Any) -> None:
        self.stores.update(self.job, ProcessingJobStatus=status, ProcessingEndTime=now(), **fields)
