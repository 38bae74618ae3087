"""LocalStack runtime executor that runs Python Lambda functions as host processes.

LocalStack's default executor starts a container per execution environment and needs
Docker plus a runtime binary downloaded at run time. This executor starts
``bootstrap.py`` with the host's Python 3.13 instead: one process per execution
environment (so warm reuse and concurrency follow LocalStack's own environment pool),
the deployment package and its layers on the import path, and the runtime's boto3
from a folder the launcher prepares (``DRIFTLINE_LAMBDA_RUNTIME_PACKAGES``).

The executor, not the process, enforces the function timeout: only the parent can stop
a handler stuck in C code. After a timeout or a crash the process is gone, and the
next invocation in that environment starts a fresh one (a new cold start), as on AWS.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from datetime import UTC, datetime
from pathlib import Path

import requests
from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
)
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from localstack.utils.net import get_free_tcp_port

from driftline_localcloud.faults import Fault, faults
from driftline_localcloud.lambda_runtime.compatibility import foreign_wheels, mismatch_message

LOG = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
RUNTIME_PACKAGES_VARIABLE = "DRIFTLINE_LAMBDA_RUNTIME_PACKAGES"
STARTUP_TIMEOUT_SECONDS = 30


def runtime_packages() -> Path:
    """The folder that stands in for the runtime's own site-packages (boto3, botocore)."""
    location = os.environ.get(RUNTIME_PACKAGES_VARIABLE)
    if not location or not Path(location, "boto3").is_dir():
        raise LambdaRuntimeException(
            f"{RUNTIME_PACKAGES_VARIABLE} must name a folder holding boto3 for Lambda "
            f"functions (got {location!r}); start the local cloud with `driftline local up`."
        )
    return Path(location)


def python_import_path(function_version: FunctionVersion) -> list[str]:
    """sys.path entries in the order the AWS Python runtime uses.

    AWS merges all layers into /opt, a later layer's files winning; listing the layers
    last-first on the path gives the same precedence without copying them.
    """
    code = function_version.config.code
    paths = [str(code.get_unzipped_code_location())]
    for layer in reversed(function_version.config.layers):
        root = layer.code.get_unzipped_code_location() / "python"
        paths += [str(root / "lib" / "python3.13" / "site-packages"), str(root)]
    paths.append(str(runtime_packages()))
    return paths


def _error_json(request_id: str, error_type: str, message: str) -> bytes:
    return json.dumps(
        {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
    ).encode()


class RuntimeExited(Exception):
    """The function's process ended while an invocation was under way."""


class ProcessExecutorEndpoint(ExecutorEndpoint):
    """LocalStack's callback endpoint, plus a bounded wait and a way to reset startup."""

    def reset_startup(self) -> None:
        self.startup_future: Future[bool] = Future()

    def send_invocation(self, payload: dict[str, str]) -> Future[InvocationResult]:
        self.invocation_future: Future[InvocationResult] = Future()
        self.logs = None
        response = requests.post(
            f"http://{self.container_address}:{self.container_port}/invoke",
            json=payload,
            proxies={"http": "", "https": ""},
            timeout=10,
        )
        response.raise_for_status()
        return self.invocation_future


class ProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.endpoint = ProcessExecutorEndpoint(id, container_address="127.0.0.1")
        self.process: subprocess.Popen[bytes] | None = None
        self.env_vars: dict[str, str] = {}
        self.log_path = Path(config.dirs.tmp, "driftline-lambda", f"{id}.log")
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        self.env_vars = {key: str(value) for key, value in env_vars.items()}
        self.endpoint.start()
        self._spawn_and_wait()

    def _spawn_and_wait(self) -> None:
        port = get_free_tcp_port()
        self.endpoint.container_port = port
        environment = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": "/tmp",
            **self.env_vars,
            "LAMBDA_TASK_ROOT": str(self.function_version.config.code.get_unzipped_code_location()),
            "DRIFTLINE_RUNTIME_PORT": str(port),
            "DRIFTLINE_RUNTIME_PATHS": json.dumps(python_import_path(self.function_version)),
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        interpreter = getattr(sys, "_base_executable", None) or sys.executable
        self.process = subprocess.Popen(
            [interpreter, "-I", "-S", "-u", str(BOOTSTRAP)],
            cwd=environment["LAMBDA_TASK_ROOT"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes its children too
        )
        log_file.close()
        threading.Thread(
            target=self._watch, args=(self.process,), name=f"lambda-watch-{self.id}", daemon=True
        ).start()
        startup = self.endpoint.startup_future
        try:
            startup.result(timeout=STARTUP_TIMEOUT_SECONDS)
        except FutureTimeoutError as error:
            self._kill()
            raise StatusErrorException(
                "Environment startup failed",
                payload=_error_json(
                    "-", "Runtime.InitTimeout", "runtime did not start within the time limit"
                ),
            ) from error

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        """Turns an unexpected exit into an error for whoever waits on the process."""
        code = process.wait()
        if process is not self.process:
            return
        reason = f"signal: {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        startup = self.endpoint.startup_future
        if startup is not None and not startup.done():
            startup.set_exception(
                StatusErrorException(
                    "Environment startup failed",
                    payload=_error_json("-", "Runtime.ExitError", f"Runtime exited with {reason}"),
                )
            )
        invocation = self.endpoint.invocation_future
        if invocation is not None and not invocation.done():
            invocation.set_exception(RuntimeExited(reason))

    def _kill(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=10)

    def stop(self) -> None:
        self._kill()
        try:
            self.endpoint.shutdown()
        except Exception as error:  # already unregistered: nothing left to release
            LOG.debug("Executor endpoint %s already shut down: %s", self.id, error)

    # -- invocation ------------------------------------------------------------
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout = float(self.function_version.config.timeout)
        fault = faults().take(
            "lambda",
            name=self.function_version.id.function_name,
            subject=str(payload.get("payload") or ""),
        )
        if fault is not None and fault.action == "timeout" and fault.seconds is not None:
            timeout = fault.seconds
        with self._lock:
            if self.process is None or self.process.poll() is not None:
                # The previous invocation timed out or crashed: start a fresh sandbox.
                self.endpoint.reset_startup()
                self._spawn_and_wait()
            log_offset = self.log_path.stat().st_size
            started = time.monotonic()
            future = self.endpoint.send_invocation(payload)
            if fault is not None:
                self._inject(fault)
            try:
                return future.result(timeout=timeout)
            except FutureTimeoutError:
                self._kill()
                return self._failed(
                    request_id,
                    log_offset,
                    started,
                    error_type="Sandbox.Timedout",
                    message=f"Task timed out after {timeout:.2f} seconds",
                    status="timeout",
                )
            except RuntimeExited as exited:
                return self._failed(
                    request_id,
                    log_offset,
                    started,
                    error_type="Runtime.ExitError",
                    message=f"Runtime exited with error: {exited}",
                    status="error",
                )

    def _inject(self, fault: Fault) -> None:
        """An armed fault (see ``faults``): the handler's process dies or hangs mid-invocation."""
        process = self.process
        if process is None:
            return
        LOG.warning("Fault injection: %s of %s (%s)", fault.action, self.id, fault.id)
        if fault.action == "timeout":
            # Stuck, as in C code: only the executor's time limit ends it.
            os.killpg(process.pid, signal.SIGSTOP)
        elif fault.after_seconds > 0:
            threading.Timer(fault.after_seconds, self._crash, args=(process,)).start()
        else:
            self._crash(process)

    def _crash(self, process: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return

    def _failed(
        self,
        request_id: str,
        log_offset: int,
        started: float,
        *,
        error_type: str,
        message: str,
        status: str,
    ) -> InvocationResult:
        """An invocation the process could not finish: its output so far plus AWS's lines."""
        with self.log_path.open("rb") as log:
            log.seek(log_offset)
            partial = log.read().decode(errors="replace")
        duration_ms = (time.monotonic() - started) * 1000
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        logs = (
            f"{partial}{timestamp} {request_id} {message}\n"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {int(duration_ms) + 1} ms\t"
            f"Memory Size: {self.function_version.config.memory_size} MB\tStatus: {status}\n"
        )
        return InvocationResult(
            request_id, _error_json(request_id, error_type, message), is_error=True, logs=logs
        )

    # -- addresses -------------------------------------------------------------
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://127.0.0.1:{port}{self.endpoint.get_endpoint_prefix()}"

    def get_logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "Execution environment was not started"

    # -- versions --------------------------------------------------------------
    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        configuration = function_version.config
        name = function_version.id.function_name
        if configuration.package_type != PackageType.Zip:
            raise LambdaRuntimeException(
                f"Function {name}: container-image functions need Docker; the local cloud runs "
                "zip-packaged Python functions."
            )
        runtime = str(configuration.runtime or "")
        if not runtime.startswith("python3."):
            raise LambdaRuntimeException(
                f"Function {name}: runtime {runtime!r} is not supported by the local cloud's "
                "process executor, which runs Python functions (python3.x) only."
            )
        runtime_packages()
        configuration.code.prepare_for_execution()
        for layer in configuration.layers:
            layer.code.prepare_for_execution()
        # The function's architecture setting is not compared with the host's: assets
        # deployed with the local target are built for this host whatever it says.
        roots = {"the function's package": configuration.code.get_unzipped_code_location()}
        for layer in configuration.layers:
            roots[f"layer {layer.layer_version_arn}"] = layer.code.get_unzipped_code_location()
        if mismatched := foreign_wheels(roots):
            raise LambdaRuntimeException(mismatch_message(name, mismatched))

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Unzipped code is LocalStack's to remove; processes stop with their environments."""

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            runtime_packages()
        except LambdaRuntimeException as error:
            LOG.error("%s", error)
            return False
        return True
