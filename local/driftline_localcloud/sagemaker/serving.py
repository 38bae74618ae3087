"""Serving processes: the framed pipe to one, and the ones transform jobs keep warm.

:class:`Shim` is a model's serving process (``serving_shim.py`` in the framework
environment) and the pipe its requests and answers travel on; transform jobs and an
endpoint's instances (``endpoint_serving.py``) both talk to it.

:class:`WarmShims` keeps a serving process that answered every request of its job for
``WARM_SECONDS``, keyed by everything that shaped it: the framework's interpreter, the
model's data, its code and the container's and the job's environment. The next transform
job with the same key (the next part of the same batch-inference run) takes it instead
of starting an interpreter that imports the framework and loads the model again, which
is most of a small job's time locally. The job sees the same requests and answers as
from a fresh container; only a process whose job failed or was stopped is never reused.
On AWS every job still gets its own container: this changes the local cloud's speed,
not what the app may rely on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from driftline_localcloud.sagemaker.containers import (
    JobStopped,
    LogStream,
    Processes,
    kill_group,
)

LOG = logging.getLogger(__name__)

# How long an idle serving process waits for the next job of its key, and how many wait.
WARM_SECONDS = 60.0
MAX_WARM = 4


class ShimError(Exception):
    """The serving process answered a request with an error, or not at all."""


class ShimTimeout(ShimError):
    """No answer in time: a late answer would be taken for the next request's, so the
    serving process takes no more requests."""


class Shim:
    """The serving process and its framed pipe."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], logs: LogStream) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.replies: queue.Queue[tuple[dict[str, Any], bytes] | None] = queue.Queue()
        threading.Thread(target=self._read_replies, name="shim-replies", daemon=True).start()
        # Where its output goes: the log stream of the job it serves now.
        self.logs = logs
        threading.Thread(target=self._read_logs, name="shim-logs", daemon=True).start()

    def _read_replies(self) -> None:
        out: IO[bytes] | None = self.process.stdout
        assert out is not None
        while line := out.readline():
            header = json.loads(line)
            payload = out.read(int(header.get("length", 0)))
            self.replies.put((header, payload))
        self.replies.put(None)  # the process has ended

    def _read_logs(self) -> None:
        err: IO[bytes] | None = self.process.stderr
        assert err is not None
        for raw in err:
            self.logs.write(raw.decode(errors="replace"))

    def wait_reply(self, timeout: float, stop: threading.Event) -> tuple[dict[str, Any], bytes]:
        deadline = time.monotonic() + timeout
        while True:
            if stop.is_set():
                raise JobStopped
            try:
                item = self.replies.get(timeout=0.2)
            except queue.Empty:
                item = None
                if time.monotonic() <= deadline:
                    continue
            if time.monotonic() > deadline:  # an answer after the deadline is too late too
                raise ShimTimeout(f"the model timed out: no answer within {timeout:g} seconds")
            if item is None:
                raise ShimError(f"the serving process exited with code {self.process.wait()}")
            return item

    def exchange(
        self, body: bytes, content_type: str, accept: str, timeout: float, stop: threading.Event
    ) -> tuple[dict[str, Any], bytes]:
        """One request and its reply: the reply's header (``ok``, ``content_type``,
        ``error``, ``status``, ``message``) and its payload."""
        header = {"content_type": content_type, "accept": accept, "length": len(body)}
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(header).encode() + b"\n" + body)
            self.process.stdin.flush()
        except BrokenPipeError as error:
            raise ShimError("the serving process has exited") from error
        return self.wait_reply(timeout, stop)

    def invoke(
        self, body: bytes, content_type: str, accept: str, timeout: float, stop: threading.Event
    ) -> bytes:
        answer, payload = self.exchange(body, content_type, accept, timeout, stop)
        if not answer.get("ok"):
            raise ShimError(last_line(str(answer.get("error", "unknown error"))))
        return payload

    def close(self, *, graceful: bool) -> None:
        """Ends the process: by closing its input when all went well, else by SIGTERM
        (what SageMaker sends), and SIGKILL if it has not gone after a few seconds."""
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        if not graceful:
            kill_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill_group(self.process, signal.SIGKILL)
            self.process.wait(timeout=10)


def last_line(text: str) -> str:
    """A traceback's verdict (its last line); the whole of it is in the job's logs."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text


@dataclass
class Warm:
    shim: Shim
    folder: Path  # its model and code, kept as long as the process
    tracked: contextlib.ExitStack
    since: float = field(default_factory=time.monotonic)


class WarmShims:
    """Idle serving processes by key; each one taken by at most one job at a time."""

    def __init__(self, processes: Processes, seconds: float = WARM_SECONDS) -> None:
        self.processes, self.seconds = processes, seconds
        self._idle: dict[str, list[Warm]] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None
        self._closed = threading.Event()

    def start(self, key: str, folder: Path, shim: Shim) -> Warm:
        """A new serving process for ``key``, tracked until it is closed."""
        tracked = contextlib.ExitStack()
        tracked.enter_context(self.processes.track(shim.process))
        return Warm(shim, folder, tracked)

    def take(self, key: str) -> Warm | None:
        """A live idle process for ``key``, if one waits."""
        with self._lock:
            waiting = self._idle.get(key, [])
            while waiting:
                warm = waiting.pop()
                if warm.shim.process.poll() is None:
                    return warm
                self._close(warm, graceful=False)
        return None

    def give(self, key: str, warm: Warm) -> None:
        """``warm`` answered every request of its job: it waits for the next one."""
        if self._closed.is_set() or warm.shim.process.poll() is not None:
            self.close(warm, graceful=True)
            return
        warm.since = time.monotonic()
        with self._lock:
            self._idle.setdefault(key, []).append(warm)
            extra = self._oldest_beyond(MAX_WARM)
        for old in extra:
            self.close(old, graceful=True)
        self._ensure_reaper()

    def close(self, warm: Warm, *, graceful: bool) -> None:
        with self._lock:
            self._close(warm, graceful=graceful)

    def close_all(self) -> None:
        self._closed.set()
        with self._lock:
            everything = [warm for waiting in self._idle.values() for warm in waiting]
            self._idle.clear()
            for warm in everything:
                self._close(warm, graceful=False)

    def _close(self, warm: Warm, *, graceful: bool) -> None:
        try:
            warm.shim.close(graceful=graceful)
        finally:
            warm.tracked.close()
            shutil.rmtree(warm.folder, ignore_errors=True)

    def _oldest_beyond(self, count: int) -> list[Warm]:
        everything = sorted(
            (warm for waiting in self._idle.values() for warm in waiting), key=lambda w: w.since
        )
        extra = everything[: max(0, len(everything) - count)]
        for warm in extra:
            for waiting in self._idle.values():
                if warm in waiting:
                    waiting.remove(warm)
        return extra

    def _expire(self) -> None:
        """Close what has waited longer than ``seconds``."""
        deadline = time.monotonic() - self.seconds
        with self._lock:
            expired = [
                warm for waiting in self._idle.values() for warm in waiting if warm.since < deadline
            ]
            for waiting in self._idle.values():
                waiting[:] = [warm for warm in waiting if warm not in expired]
        for warm in expired:
            self.close(warm, graceful=True)

    def _ensure_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._reaper = threading.Thread(target=self._reap, name="warm-shims", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        # Wakes a few times per WARM_SECONDS; ends with the pool or once nothing waits.
        while not self._closed.wait(self.seconds / 4):
            self._expire()
            with self._lock:
                if not any(self._idle.values()):
                    self._reaper = None
                    return
