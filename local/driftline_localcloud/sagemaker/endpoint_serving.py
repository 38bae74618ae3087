"""An endpoint's production variants served by warm host processes.

Each variant's instances are serving processes (``serving_shim.py``) that load the
model once (``model_fn``) and then answer requests over a pipe, with the same
inference handlers batch transform uses; a request takes a free instance, so a
variant of N instances answers N requests at once. Nothing here knows the emulator
underneath: S3, logs, metrics and folders come from a ``ServingHost``. A variant acts as
its model's execution role (model data, code, the process's credentials and data
capture, ``endpoint_capture.py``), as SageMaker's containers do.

A container's error comes back as SageMaker's runtime returns it: ``ModelError``
(HTTP 424) carrying the container's own status and message. A process that dies or
times out is replaced by a fresh one, so the variant keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from driftline_localcloud.faults import faults
from driftline_localcloud.sagemaker.containers import (
    JobFailure,
    JobStopped,
    LogStream,
    Processes,
    framework_python,
)
from driftline_localcloud.sagemaker.endpoint_capture import CaptureWriter, capture_settings
from driftline_localcloud.sagemaker.job_host import Credentials
from driftline_localcloud.sagemaker.model_setup import prepare_model, primary_container
from driftline_localcloud.sagemaker.serving import Shim, ShimError, ShimTimeout, last_line
from driftline_localcloud.sagemaker.store import Description
from driftline_localcloud.sagemaker.transform import MODEL_LOAD_TIMEOUT_SECONDS, SHIM

LOG = logging.getLogger(__name__)

# SageMaker's real-time limits: 60 s for the container to answer, 6 MB per payload.
INVOCATION_TIMEOUT_SECONDS = 60.0
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# How long a request waits for a free instance before the variant is called overloaded.
QUEUE_TIMEOUT_SECONDS = 30.0
# A serverless variant's concurrency stands in for instances: one process per slot, at most.
MAX_SERVERLESS_PROCESSES = 4


class ServingHost(Protocol):
    """What serving needs from the emulator it runs in."""

    def credentials(self, role_arn: str | None, session: str, region: str) -> Credentials | None:
        """The role's temporary credentials, as SageMaker hands them to a container."""
        ...

    def s3(self, account: str, region: str, credentials: Credentials | None = None) -> Any: ...

    def log_stream(self, account: str, region: str, group: str, stream: str) -> LogStream: ...

    def work_root(self, kind: str, name: str) -> Path: ...

    def environment(
        self, python: Path, account: str, region: str, credentials: Credentials | None = None
    ) -> dict[str, str]: ...

    def put_metrics(
        self, account: str, region: str, namespace: str, data: list[dict[str, Any]]
    ) -> None: ...

    def alarm_states(self, account: str, region: str, names: list[str]) -> dict[str, str]: ...


class InvocationError(Exception):
    """An InvokeEndpoint error in the runtime's terms (code, HTTP status, message)."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.fields = fields  # OriginalStatusCode, OriginalMessage, LogStreamArn for ModelError


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str
    variant: str
    model_latency_us: int


def model_error(
    endpoint: str, account: str, region: str, original: int, message: str
) -> InvocationError:
    """A ModelError worded as SageMaker's runtime words it."""
    kind = "client" if original < 500 else "server"
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    text = (
        f'Received {kind} error ({original}) from primary with message "{message}". See '
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group={group} in account {account} for more information."
    )
    return InvocationError(
        "ModelError",
        text,
        424,
        OriginalStatusCode=original,
        OriginalMessage=message,
        LogStreamArn=f"arn:aws:logs:{region}:{account}:log-group:{group}",
    )


class VariantServer:
    """One production variant: its model set up once, its instances as warm processes."""

    def __init__(
        self,
        host: ServingHost,
        processes: Processes,
        account: str,
        region: str,
        endpoint: str,
        variant: dict[str, Any],
        model: Description,
        capture: dict[str, Any] | None = None,
    ) -> None:
        self.host, self.processes = host, processes
        self.capture_config = capture_settings(capture)
        self.capture: CaptureWriter | None = None
        self.account, self.region, self.endpoint = account, region, endpoint
        self.name: str = variant["VariantName"]
        self.model_name: str = model["ModelName"]
        self.model = model
        serverless = variant.get("ServerlessConfig")
        self.instances = (
            min(int(serverless.get("MaxConcurrency", 1)), MAX_SERVERLESS_PROCESSES)
            if serverless
            else max(int(variant.get("InitialInstanceCount", 1)), 1)
        )
        self.free: queue.Queue[Shim] = queue.Queue()
        self.closed = threading.Event()
        self._lock = threading.Lock()
        # each live process, tracked so that stopping the local cloud ends it
        self._alive: dict[Shim, contextlib.ExitStack] = {}
        self._python: Path | None = None
        self._code_dir: Path | None = None
        self._env: dict[str, str] = {}
        self.logs: LogStream | None = None

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Sets the model up and starts every instance; raises JobFailure if one cannot
        load the model (the endpoint's FailureReason)."""
        container = primary_container(self.model)
        self._python = framework_python(container["Image"])
        root = self.host.work_root("endpoint", f"{self.endpoint}-{self.name}")
        # The model's execution role: its data, its code, its process and its capture.
        credentials = self.host.credentials(
            self.model.get("ExecutionRoleArn"), f"{self.endpoint}-{self.name}", self.region
        )
        s3 = self.host.s3(self.account, self.region, credentials)
        model_dir, self._code_dir = prepare_model(s3, container, root)
        self.logs = self.host.log_stream(
            self.account,
            self.region,
            f"/aws/sagemaker/Endpoints/{self.endpoint}",
            f"{self.name}/{self.model_name}-{int(time.time())}",
        )
        self._env = {
            **self.host.environment(self._python, self.account, self.region, credentials),
            **dict(container.get("Environment") or {}),
            "SM_MODEL_DIR": str(model_dir),
        }
        for _ in range(self.instances):
            self.free.put(self._launch())
        if self.capture_config is not None:
            self.capture = CaptureWriter(s3, self.capture_config, self.endpoint, self.name)

    def _launch(self) -> Shim:
        assert self._python is not None and self._code_dir is not None and self.logs
        shim = Shim([str(self._python), "-I", str(SHIM)], self._code_dir, self._env, self.logs)
        tracking = contextlib.ExitStack()
        tracking.enter_context(self.processes.track(shim.process))
        with self._lock:
            self._alive[shim] = tracking
        try:
            ready, _ = shim.wait_reply(MODEL_LOAD_TIMEOUT_SECONDS, self.closed)
        except (ShimError, JobStopped) as error:
            self._retire(shim)
            raise JobFailure(f"The model of variant {self.name} could not load: {error}") from None
        if not ready.get("ok"):
            self._retire(shim)
            reason = last_line(str(ready.get("error")))
            raise JobFailure(f"The model of variant {self.name} failed to load: {reason}")
        return shim

    def _retire(self, shim: Shim) -> None:
        with self._lock:
            tracking = self._alive.pop(shim, None)
        shim.close(graceful=False)
        if tracking is not None:
            tracking.close()

    def close(self) -> None:
        self.closed.set()
        with self._lock:
            alive = list(self._alive)
        for shim in alive:
            self._retire(shim)
        if self.capture is not None:
            self.capture.close()
        if self.logs is not None:
            self.logs.close()

    # -- requests ------------------------------------------------------------------------
    def invoke(self, body: bytes, content_type: str, accept: str) -> Answer:
        fault = faults().take("endpoint", subject=f"{self.endpoint}/{self.name}/{self.model_name}")
        try:
            shim = self.free.get(timeout=QUEUE_TIMEOUT_SECONDS)
        except queue.Empty:
            raise InvocationError(
                "ServiceUnavailable",
                f"Variant {self.name} of endpoint {self.endpoint} has no free instance.",
                503,
            ) from None
        started = time.monotonic()
        try:
            if fault is not None and fault.action == "latency":
                time.sleep(float(fault.seconds or 0))
            if fault is not None and fault.action == "error":
                raise model_error(self.endpoint, self.account, self.region, 500, fault.reason)
            header, payload = shim.exchange(
                body, content_type, accept, INVOCATION_TIMEOUT_SECONDS, self.closed
            )
        except (ShimTimeout, ShimError, JobStopped) as error:
            self._replace(shim)
            shim = None  # type: ignore[assignment]
            raise model_error(self.endpoint, self.account, self.region, 500, str(error)) from None
        finally:
            latency = int((time.monotonic() - started) * 1_000_000)
            if shim is not None:
                self.free.put(shim)
        if not header.get("ok"):
            status = int(header.get("status") or 500)
            message = str(header.get("message") or last_line(str(header.get("error", "error"))))
            raise model_error(self.endpoint, self.account, self.region, status, message)
        produced = str(header.get("content_type") or accept)
        if self.capture is not None:
            self.capture.offer(body, content_type, payload, produced)
        return Answer(payload, produced, self.name, latency)

    def _replace(self, shim: Shim) -> None:
        """A dead or stuck process is ended and a fresh one takes its place."""
        self._retire(shim)

        def relaunch() -> None:
            with contextlib.suppress(JobFailure):
                if not self.closed.is_set():
                    self.free.put(self._launch())

        threading.Thread(target=relaunch, name=f"relaunch-{self.name}", daemon=True).start()
