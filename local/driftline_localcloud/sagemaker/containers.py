"""What a SageMaker job needs around it: an image's stand-in, S3, logs and a process.

A framework image is replaced by a virtual environment the launcher builds from
``local/frameworks/<name>.txt`` (``DRIFTLINE_SAGEMAKER_FRAMEWORKS`` names their
folder). Data moves through the local cloud's S3 API, output lines go to CloudWatch
Logs as SageMaker's containers' do, and the job's process runs in its own process
group so that a stop or a time limit ends its children too: first SIGTERM, as
SageMaker sends, then SIGKILL after the grace period.

Nothing here knows which emulator serves the API: the provider is handed a
``JobHost`` (``job_host``) that says where the gateway is, where job folders go and
which credentials a job's calls carry.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import re
import signal
import subprocess
import tarfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

FRAMEWORKS_VARIABLE = "DRIFTLINE_SAGEMAKER_FRAMEWORKS"
# Repository-name fragment of each supported image -> framework environment name.
SUPPORTED_IMAGES = {"sagemaker-scikit-learn": "sklearn", "sagemaker-xgboost": "xgboost"}
# SageMaker sends SIGTERM and waits 120 s before it kills a stopped job's container.
STOP_GRACE_SECONDS = 120.0
LOG_FLUSH_SECONDS = 1.0


class JobFailure(Exception):
    """A job cannot go on; the message is the job's FailureReason."""


class JobStopped(Exception):
    """The job was asked to stop (StopTrainingJob/StopTransformJob) before it finished."""


# -- images ---------------------------------------------------------------------------
def image_repository(image: str) -> str:
    """``<registry>/<repository>:<tag>`` or ``...@sha256:...`` -> ``<repository>``."""
    path = image.split("/", 1)[1] if "/" in image else image
    return path.split("@", 1)[0].split(":", 1)[0]


def framework_python(image: str, also: Mapping[str, str] | None = None) -> Path:
    """The interpreter of the framework environment standing in for ``image``; ``also``
    adds images of one job kind (repository fragment -> environment name)."""
    images = {**SUPPORTED_IMAGES, **(also or {})}
    repository = image_repository(image)
    name = next((env for key, env in images.items() if key in repository), None)
    if name is None:
        supported = ", ".join(f"{key} (any tag)" for key in images)
        raise JobFailure(
            f"ClientError: The image {image!r} is not supported by the local cloud, which runs "
            f"jobs without containers. Supported images: {supported}."
        )
    root = os.environ.get(FRAMEWORKS_VARIABLE, "")
    python = Path(root, name, "bin", "python")
    if not root or not python.is_file():
        raise JobFailure(
            f"ClientError: The {name} framework environment for image {image!r} is not "
            f"installed (looked for {python}); run `driftline local install`."
        )
    return python


# -- S3 -------------------------------------------------------------------------------
@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        match = re.fullmatch(r"(?:s3|https)://([^/]+)/?(.*)", uri or "")
        if not match:
            raise JobFailure(f"ClientError: {uri!r} is not an S3 URI (s3://bucket/key).")
        return cls(match.group(1), match.group(2))

    def child(self, *parts: str) -> S3Uri:
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return S3Uri(self.bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def list_objects(s3: Any, prefix: S3Uri) -> list[tuple[S3Uri, str]]:
    """Objects under an S3 prefix, each with its key relative to the prefix.

    Relative keys are what SageMaker keeps below a channel folder or an output path: the
    part after the prefix, or the file name when the prefix names one object.
    """
    found: list[tuple[S3Uri, str]] = []
    paginator = s3.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=prefix.bucket, Prefix=prefix.key):
            for item in page.get("Contents", []):
                key: str = item["Key"]
                if key.endswith("/"):
                    continue  # a "folder" marker object
                found.append((S3Uri(prefix.bucket, key), relative_key(prefix.key, key)))
    except s3.exceptions.NoSuchBucket as error:
        raise JobFailure(f"ClientError: Bucket {prefix.bucket!r} does not exist.") from error
    return found


def relative_key(prefix: str, key: str) -> str:
    """``key`` below ``prefix``: below the folder it names, else below its parent folder.

    ``train`` and ``train/`` both hold ``train/a.csv`` as ``a.csv``; ``in/data`` holds
    ``in/data1.csv`` as ``data1.csv``; a prefix naming one object gives its file name.
    """
    folder = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    if key.startswith(folder):
        return key[len(folder) :]
    parent = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return key[len(parent) :]


def read_manifest(s3: Any, manifest: S3Uri) -> list[tuple[S3Uri, str]]:
    """A ManifestFile: ``[{"prefix": "s3://b/p/"}, "relative/key", ...]``."""
    try:
        entries = json.loads(get_object(s3, manifest))
        base = S3Uri.parse(entries[0]["prefix"])
        return [(base.child(relative), relative) for relative in entries[1:]]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise JobFailure(
            f"ClientError: The manifest file {manifest} is not a JSON list of a "
            f'{{"prefix": ...}} object followed by relative keys: {error}'
        ) from error


def data_objects(s3: Any, data_type: str, uri: str) -> list[tuple[S3Uri, str]]:
    """Objects of an S3DataSource (S3Prefix or ManifestFile); never empty."""
    location = S3Uri.parse(uri)
    if data_type == "ManifestFile":
        objects = read_manifest(s3, location)
    elif data_type in ("S3Prefix", "", None):
        objects = list_objects(s3, location)
    else:
        raise JobFailure(f"ClientError: S3DataType {data_type!r} is not supported locally.")
    if not objects:
        raise JobFailure(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
            "Please ensure that the bucket exists and that objects exist under that S3 prefix."
        )
    return objects


def get_object(s3: Any, uri: S3Uri) -> bytes:
    try:
        body: bytes = s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
    except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket) as error:
        raise JobFailure(f"ClientError: Could not read {uri}: it does not exist.") from error
    return body


def download(s3: Any, uri: S3Uri, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(get_object(s3, uri))


def upload(s3: Any, source: Path, uri: S3Uri) -> None:
    try:
        s3.upload_file(str(source), uri.bucket, uri.key)
    except s3.exceptions.NoSuchBucket as error:
        raise JobFailure(f"ClientError: Bucket {uri.bucket!r} does not exist.") from error
    except Exception as error:
        raise JobFailure(f"ClientError: Could not upload to {uri}: {error}") from error


def decompress(data: bytes, compression: str | None, what: str) -> bytes:
    if compression in (None, "", "None"):
        return data
    if compression == "Gzip":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise JobFailure(f"ClientError: {what} is not valid gzip: {error}") from error
    raise JobFailure(f"ClientError: CompressionType {compression!r} is not supported.")


# -- archives -------------------------------------------------------------------------
def extract_tarball(archive: Path, target: Path, what: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise JobFailure(f"ClientError: {what} is not a valid tar.gz archive: {error}") from error


def make_tarball(source: Path, archive: Path) -> None:
    """``source``'s contents at the archive's root, as SageMaker packs /opt/ml/model."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.iterdir()):
            tar.add(path, arcname=path.name)


# -- logs -----------------------------------------------------------------------------
class LogStream:
    """Lines of a job's output, sent to CloudWatch Logs in batches as they come."""

    def __init__(self, logs: Any, group: str, stream: str) -> None:
        self.group, self.stream = group, stream
        self._logs = logs
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._created = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._flush_loop, name=f"logs-{stream}", daemon=True)
        self._thread.start()

    def write(self, line: str) -> None:
        message = line.rstrip("\n")
        if not message:
            return  # CloudWatch Logs refuses empty events
        with self._lock:
            self._pending.append({"timestamp": int(time.time() * 1000), "message": message})

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=10)
        self.flush()

    def _flush_loop(self) -> None:
        while not self._closed.wait(LOG_FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
        if not events:
            return
        try:
            self._ensure_stream()
            for start in range(0, len(events), 5000):
                self._logs.put_log_events(
                    logGroupName=self.group,
                    logStreamName=self.stream,
                    logEvents=events[start : start + 5000],
                )
        except Exception as error:  # logs are a side channel: never fail a job for them
            LOG.warning("Could not write to log stream %s %s: %s", self.group, self.stream, error)

    def _ensure_stream(self) -> None:
        if self._created:
            return
        with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
            self._logs.create_log_group(logGroupName=self.group)
        with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
            self._logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        self._created = True


# -- processes ------------------------------------------------------------------------
@dataclass
class Outcome:
    """How a job's process ended."""

    exit_code: int | None
    stopped: bool = False  # by StopTrainingJob/StopTransformJob
    timed_out: bool = False  # by MaxRuntimeInSeconds
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=30))


class Processes:
    """Every job process alive, so that shutting the local cloud down ends them all."""

    def __init__(self) -> None:
        self._alive: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self.closing = threading.Event()

    @contextlib.contextmanager
    def track(self, process: subprocess.Popen[bytes]) -> Iterator[None]:
        with self._lock:
            self._alive.add(process)
        try:
            yield
        finally:
            with self._lock:
                self._alive.discard(process)

    def kill_all(self) -> None:
        self.closing.set()
        with self._lock:
            alive = list(self._alive)
        for process in alive:
            kill_group(process, signal.SIGKILL)


def kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def run_process(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    on_line: Callable[[str], None],
    deadline: float,
    stop: threading.Event,
    processes: Processes,
) -> Outcome:
    """Runs ``command`` to its end, a stop request or ``deadline`` (time.monotonic)."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a stop ends its children too
    )
    outcome = Outcome(exit_code=None)
    with processes.track(process):
        reader = threading.Thread(
            target=_pump, args=(process, on_line, outcome), name="job-output", daemon=True
        )
        reader.start()
        while process.poll() is None:
            if stop.is_set() or processes.closing.is_set():
                outcome.stopped = True
                break
            if time.monotonic() >= deadline:
                outcome.timed_out = True
                break
            time.sleep(0.1)
        if process.poll() is None:
            _terminate(process, processes)
        reader.join(timeout=10)
    outcome.exit_code = process.returncode
    return outcome


def _terminate(process: subprocess.Popen[bytes], processes: Processes) -> None:
    kill_group(process, signal.SIGTERM)
    grace_end = time.monotonic() + STOP_GRACE_SECONDS
    while process.poll() is None and time.monotonic() < grace_end:
        if processes.closing.is_set():
            break
        time.sleep(0.1)
    kill_group(process, signal.SIGKILL)
    process.wait(timeout=10)


def _pump(
    process: subprocess.Popen[bytes], on_line: Callable[[str], None], outcome: Outcome
) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace")
        outcome.tail.append(line.rstrip("\n"))
        try:
            on_line(line)
        except Exception as error:  # a bad line must not stop the pump (or the job)
            LOG.debug("Output handler failed on %r: %s", line, error)
