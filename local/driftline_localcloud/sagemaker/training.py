"""A training job run as a host process under SageMaker's container contract.

The job folder stands in for ``/opt/ml``: ``input/config/`` holds
``hyperparameters.json`` (every value a string, as SageMaker passes them),
``resourceconfig.json`` and ``inputdataconfig.json``; ``input/data/<channel>/`` holds
each channel's S3 objects; ``code/`` the extracted ``sagemaker_submit_directory``;
``model/``, ``output/`` and ``output/data/`` are the script's to fill. The script runs
the way the prebuilt framework images run it (the sagemaker-training toolkit's script
mode): ``python <sagemaker_program> --<hyperparameter> <value> ...`` in ``code/``, with
the toolkit's ``SM_*`` variables. Afterwards ``model/`` becomes ``model.tar.gz`` and
``output/data/`` ``output.tar.gz`` under ``<S3OutputPath>/<job>/output/``.

Statuses follow DescribeTrainingJob: InProgress (Starting, Downloading, Training,
Uploading), then Completed; Failed with a FailureReason (``output/failure`` if the
script wrote one); Stopped (Stopped, or MaxRuntimeExceeded when the time limit ended
it), after Stopping when StopTrainingJob asked for it.
"""

from __future__ import annotations

import json
import logging
import os
import re
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
    extract_tarball,
    framework_python,
    make_tarball,
    run_process,
    upload,
)
from driftline_localcloud.sagemaker.job_host import JobHost, JobRun, job_root
from driftline_localcloud.sagemaker.requirements import requirements_problem
from driftline_localcloud.sagemaker.store import Description, Stores, now, transition
from driftline_localcloud.sagemaker.toolkit import (
    command_arguments,
    decode_hyperparameter,
    env_value,
)

LOG = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
HOST = "algo-1"
FAILURE_REASON_LIMIT = 1024
# The toolkit's own hyperparameters: framework settings, not the script's arguments.
SAGEMAKER_PREFIX = "sagemaker_"
MAX_RUNTIME_MESSAGE = "Training job runtime exceeded MaxRuntimeInSeconds provided"


class JobFolder:
    """The ``/opt/ml`` of one job."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.input = root / "input"
        self.config = self.input / "config"
        self.data = self.input / "data"
        self.model = root / "model"
        self.output = root / "output"
        self.output_data = self.output / "data"
        self.code = root / "code"
        for folder in (self.config, self.data, self.model, self.output_data, self.code):
            folder.mkdir(parents=True, exist_ok=True)

    def channel(self, name: str) -> Path:
        return self.data / name


class TrainingRun(JobRun):
    """Runs one training job from Starting to its final status; a thread pool calls it."""

    name_field = "TrainingJobName"

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
        self.started = time.monotonic()
        self.fault: Fault | None = None
        self.metrics: dict[str, dict[str, Any]] = {}
        self.patterns = [
            (m["Name"], re.compile(m["Regex"]))
            for m in self.spec["AlgorithmSpecification"].get("MetricDefinitions", [])
        ]

    # -- entry -------------------------------------------------------------------------
    def __call__(self) -> None:
        folder: JobFolder | None = None
        try:
            if self.stop.is_set():
                raise JobStopped
            self.fault = faults().take("training-job", subject=self.name)
            if self.fault is not None and self.fault.action == "fail":
                raise JobFailure(self.fault.reason)
            python = framework_python(self.spec["AlgorithmSpecification"]["TrainingImage"])
            folder = JobFolder(job_root(self.host, "training", self.name))
            self._train(python, folder)
        except JobStopped:
            self._finish_stopped(folder, timed_out=False)
        except JobFailure as failure:
            self._fail(str(failure))
        except Exception as error:
            LOG.exception("Training job %s failed in the local cloud itself", self.name)
            self._fail(f"InternalServerError: {type(error).__name__}: {error}")
        finally:
            if self.logs is not None:
                self.logs.close()
            if folder is not None and self.job.get("TrainingJobStatus") == "Completed":
                shutil.rmtree(folder.root, ignore_errors=True)

    def _train(self, python: Path, folder: JobFolder) -> None:
        self._transition("Downloading", "Downloading input data", TrainingStartTime=now())
        self.started = time.monotonic()
        s3 = self.client("s3")
        hyperparameters: dict[str, str] = self.spec.get("HyperParameters") or {}
        self._write_config(folder, hyperparameters)
        self._download_channels(s3, folder)
        program = self._prepare_code(s3, folder, hyperparameters)
        # What the container would pip-install first must already be there.
        problem = requirements_problem(folder.code, python, "sagemaker_submit_directory")
        if problem is not None:
            raise JobFailure(problem)
        if self.stop.is_set():
            raise JobStopped
        self._transition("Training", "Training image download completed. Training in progress.")
        self.logs = self.log_stream(LOG_GROUP, f"{self.name}/{HOST}-{int(time.time())}")
        user_hyperparameters = {
            name: decode_hyperparameter(value)
            for name, value in hyperparameters.items()
            if not name.startswith(SAGEMAKER_PREFIX)
        }
        command = [str(python), program, *command_arguments(user_hyperparameters)]
        outcome = run_process(
            command,
            cwd=folder.code,
            env=self._environment(python, folder, hyperparameters, user_hyperparameters),
            on_line=self._on_line,
            deadline=self.started + self._max_runtime(),
            stop=self.stop,
            processes=self.processes,
        )
        self._record_metrics()
        if outcome.stopped or outcome.timed_out:
            self._finish_stopped(folder, timed_out=outcome.timed_out)
        elif outcome.exit_code != 0:
            self._fail(self._failure_reason(folder, outcome, command))
        else:
            self._transition("Uploading", "Uploading generated training model")
            self._upload_artifacts(folder)
            self._finish("Completed", "Completed", "Training job completed")

    # -- before the script -------------------------------------------------------------
    def _max_runtime(self) -> float:
        if self.fault is not None and self.fault.action == "max_runtime":
            return float(self.fault.seconds or 0)
        condition = self.spec.get("StoppingCondition") or {}
        return float(condition.get("MaxRuntimeInSeconds") or 86400)

    def _write_config(self, folder: JobFolder, hyperparameters: dict[str, str]) -> None:
        resources = self.spec.get("ResourceConfig") or {}
        instance_type = resources.get("InstanceType", "local")
        channels = {
            channel["ChannelName"]: {
                "ContentType": channel.get("ContentType", ""),
                "TrainingInputMode": channel.get("InputMode")
                or self.spec["AlgorithmSpecification"].get("TrainingInputMode", "File"),
                "S3DistributionType": channel.get("DataSource", {})
                .get("S3DataSource", {})
                .get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
            for channel in self.spec.get("InputDataConfig") or []
        }
        resource_config = {
            "current_host": HOST,
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": [HOST],
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": instance_type,
                    "hosts": [HOST],
                }
            ],
            "network_interface_name": "eth0",
        }
        files = {
            "hyperparameters.json": hyperparameters,
            "inputdataconfig.json": channels,
            "resourceconfig.json": resource_config,
        }
        for file_name, content in files.items():
            (folder.config / file_name).write_text(json.dumps(content))

    def _download_channels(self, s3: Any, folder: JobFolder) -> None:
        for channel in self.spec.get("InputDataConfig") or []:
            source = channel.get("DataSource", {}).get("S3DataSource")
            if source is None:
                raise JobFailure(
                    f"ClientError: Channel {channel['ChannelName']!r}: only S3DataSource "
                    "channels are supported by the local cloud."
                )
            target = folder.channel(channel["ChannelName"])
            target.mkdir(parents=True, exist_ok=True)
            for uri, relative in data_objects(s3, source.get("S3DataType"), source["S3Uri"]):
                if self.stop.is_set():
                    raise JobStopped
                download(s3, uri, target / relative)

    def _prepare_code(self, s3: Any, folder: JobFolder, hyperparameters: dict[str, str]) -> str:
        """Script mode: the entry file, from the extracted source directory."""
        program = decode_hyperparameter(hyperparameters.get("sagemaker_program", ""))
        submit = decode_hyperparameter(hyperparameters.get("sagemaker_submit_directory", ""))
        if not program or not submit:
            raise JobFailure(
                "ClientError: The framework image runs scripts (script mode): the hyperparameters "
                "sagemaker_program (the entry file) and sagemaker_submit_directory (the S3 URI "
                "of a sourcedir.tar.gz) are required."
            )
        archive = folder.root / "sourcedir.tar.gz"
        download(s3, S3Uri.parse(str(submit)), archive)
        extract_tarball(archive, folder.code, f"sagemaker_submit_directory {submit}")
        if not (folder.code / str(program)).is_file():
            raise JobFailure(
                f"ClientError: sagemaker_program {program!r} is not in the source directory "
                f"{submit}."
            )
        return str(program)

    def _environment(
        self,
        python: Path,
        folder: JobFolder,
        hyperparameters: dict[str, str],
        user_hyperparameters: dict[str, Any],
    ) -> dict[str, str]:
        """The job's Environment, then what the sagemaker-training toolkit sets."""
        channels = sorted(json.loads((folder.config / "inputdataconfig.json").read_text()))
        framework = {
            name: decode_hyperparameter(value)
            for name, value in hyperparameters.items()
            if name.startswith(SAGEMAKER_PREFIX)
        }
        program = str(framework.get("sagemaker_program", ""))
        toolkit: dict[str, Any] = {
            "model_dir": str(folder.model),
            "output_dir": str(folder.output),
            "output_data_dir": str(folder.output_data),
            "output_intermediate_dir": str(folder.output / "intermediate"),
            "input_dir": str(folder.input),
            "input_config_dir": str(folder.config),
            "channels": channels,
            "hps": user_hyperparameters,
            "current_host": HOST,
            "hosts": [HOST],
            "current_instance_type": (self.spec.get("ResourceConfig") or {}).get("InstanceType"),
            "network_interface_name": "eth0",
            "num_cpus": os.cpu_count() or 1,
            "num_gpus": 0,
            "module_name": program.removesuffix(".py"),
            "module_dir": str(framework.get("sagemaker_submit_directory", "")),
            "user_entry_point": program,
            "user_args": command_arguments(user_hyperparameters),
            "framework_params": {
                k: v for k, v in framework.items() if k not in ("sagemaker_program",)
            },
            "resource_config": json.loads((folder.config / "resourceconfig.json").read_text()),
            "input_data_config": json.loads((folder.config / "inputdataconfig.json").read_text()),
            "log_level": 20,
        }
        toolkit["training_env"] = {**toolkit, "job_name": self.name}
        for channel in channels:
            toolkit[f"channel_{channel}"] = str(folder.channel(channel))
        for name, value in user_hyperparameters.items():
            toolkit[f"hp_{name}"] = value
        return {
            **self.environment(python),
            **(self.spec.get("Environment") or {}),
            "TRAINING_JOB_NAME": self.name,
            "TRAINING_JOB_ARN": self.spec["TrainingJobArn"],
            **{f"SM_{key.upper()}": env_value(value) for key, value in toolkit.items()},
        }

    # -- while it runs ----------------------------------------------------------------
    def _on_line(self, line: str) -> None:
        if self.logs is not None:
            self.logs.write(line)
        for name, pattern in self.patterns:
            match = pattern.search(line)
            if match is None:
                continue
            try:
                value = float(match.group(1) if pattern.groups else match.group(0))
            except (ValueError, IndexError):
                continue
            self.metrics[name] = {"MetricName": name, "Value": value, "Timestamp": now()}

    def _record_metrics(self) -> None:
        if self.metrics:
            ordered = [self.metrics[name] for name, _ in self.patterns if name in self.metrics]
            self.stores.update(self.job, FinalMetricDataList=ordered)

    # -- after it -----------------------------------------------------------------------
    def _upload_artifacts(self, folder: JobFolder) -> None:
        output = S3Uri.parse(self.spec["OutputDataConfig"]["S3OutputPath"]).child(
            self.name, "output"
        )
        model = folder.root / "model.tar.gz"
        make_tarball(folder.model, model)
        s3 = self.client("s3")
        upload(s3, model, output.child("model.tar.gz"))
        if any(folder.output_data.iterdir()):
            data = folder.root / "output.tar.gz"
            make_tarball(folder.output_data, data)
            upload(s3, data, output.child("output.tar.gz"))
        self.stores.update(
            self.job, ModelArtifacts={"S3ModelArtifacts": str(output.child("model.tar.gz"))}
        )

    def _failure_reason(self, folder: JobFolder, outcome: Outcome, command: list[str]) -> str:
        failure = folder.output / "failure"
        written = failure.read_text(errors="replace").strip() if failure.is_file() else ""
        if written:
            return f"AlgorithmError: {written}"[:FAILURE_REASON_LIMIT]
        code = outcome.exit_code
        shown = " ".join(Path(part).name if i == 0 else part for i, part in enumerate(command))
        last_lines = "\n".join(list(outcome.tail)[-10:])
        reason = (
            f"AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\n"
            f'ErrorMessage "{last_lines}"\nCommand "{shown}", exit code: {code}'
        )
        if len(reason) > FAILURE_REASON_LIMIT:  # keep the end, where the error is
            reason = reason[:200] + "\n...\n" + reason[-(FAILURE_REASON_LIMIT - 205) :]
        return reason

    def _finish_stopped(self, folder: JobFolder | None, *, timed_out: bool) -> None:
        closing = self.processes.closing.is_set()  # the local cloud is shutting down
        if folder is not None and not closing and any(folder.model.iterdir()):
            # SageMaker keeps what a stopped job saved in its grace period.
            try:
                self._upload_artifacts(folder)
            except JobFailure as failure:
                LOG.warning("Stopped job %s: artifacts not uploaded: %s", self.name, failure)
        if timed_out:
            self._finish("Stopped", "MaxRuntimeExceeded", MAX_RUNTIME_MESSAGE)
        else:
            self._finish("Stopped", "Stopped", "Training job stopped")

    def _fail(self, reason: str) -> None:
        self._finish("Failed", "Failed", "Training job failed", FailureReason=reason)

    def _finish(self, status: str, secondary: str, message: str, **fields: Any) -> None:
        # The job's last lines reach CloudWatch Logs before its final status, so whoever
        # waits for the status finds them (closing flushes; a second close is a no-op).
        if self.logs is not None:
            self.logs.close()
        with self.stores.lock:
            self._transition(secondary, message, TrainingJobStatus=status, **fields)
            last = self.job["SecondaryStatusTransitions"][-1]
            ended = last["EndTime"] = last["StartTime"]  # a final status has no duration
            started = self.job.get("TrainingStartTime") or ended
            seconds = int((ended - started).total_seconds())
            self.stores.update(
                self.job,
                TrainingEndTime=ended,
                TrainingTimeInSeconds=seconds,
                BillableTimeInSeconds=seconds,
            )

    def _transition(self, status: str, message: str, **fields: Any) -> None:
        transition(self.stores, self.job, status, message, **fields)
