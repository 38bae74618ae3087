"""Fault injection for chaos tests on the local cloud: armed explicitly, consumed once.

Nothing here acts unless a client arms a fault on the gateway route
``/_driftline/faults``; a run that never arms one never sees a fault. Each fault names
what it hits (a Lambda function, a SageMaker API operation or SageMaker training jobs),
may narrow that with ``match`` (a substring of the invocation payload or the job name),
and fires for the next ``count`` matching calls, then is gone.

    POST   /_driftline/faults   {"kind": "lambda", "function": "driftline-dev-ingest",
                                  "action": "crash", "count": 1, "match": "scoring/x.csv"}
    GET    /_driftline/faults   the faults still armed, and how often each has fired
    DELETE /_driftline/faults   disarm everything

Kinds and actions:

- ``lambda``: ``crash`` kills the function's process mid-invocation (SIGKILL after
  ``after_seconds``, default 0, once the invocation was handed over); ``timeout``
  freezes the process (SIGSTOP), so the executor's own time limit ends the invocation
  (``Task timed out``) after ``seconds`` (default: the function's timeout).
- ``sagemaker-api``: ``error`` answers the next calls of ``operation`` (for example
  ``CreateTrainingJob``) with ``code`` (``ThrottlingException``,
  ``ResourceLimitExceeded``) and HTTP ``status`` (default 400) before anything is created.
- ``training-job``: ``fail`` ends the job as Failed with ``reason``; ``max_runtime``
  replaces the job's ``MaxRuntimeInSeconds`` with ``seconds`` (0 ends it at once), so
  the job is stopped by its stopping condition (``MaxRuntimeExceeded``).
- ``processing-job``: as ``training-job``, for Processing jobs.
- ``transform-job``: ``fail`` ends the batch transform job as Failed with ``reason``
  before it reads its input; ``timeout`` gives every request of the job an invocation
  timeout of ``seconds`` (default 0), as if the model answered too slowly
  (``ModelClientConfig.InvocationsTimeoutInSeconds``).
- ``endpoint``: each InvokeEndpoint routed to a variant whose
  ``<endpoint>/<variant>/<model>`` contains ``match`` takes one firing: ``error`` makes
  the container answer 500 with ``reason`` (a ModelError), ``latency`` delays the
  answer by ``seconds``. A bad model is a fault with a large ``count`` matching its name.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from functools import cache
from http import HTTPStatus
from typing import Any

FAULTS_PATH = "/_driftline/faults"
ACTIONS = {
    "lambda": {"crash", "timeout"},
    "sagemaker-api": {"error"},
    "training-job": {"fail", "max_runtime"},
    "processing-job": {"fail", "max_runtime"},
    "transform-job": {"fail", "timeout"},
    "endpoint": {"error", "latency"},
}


class FaultError(ValueError):
    """An arming request that does not describe a fault; the message says why."""


@dataclass
class Fault:
    kind: str
    action: str
    count: int
    # What it hits: a function name, an API operation; empty matches any.
    function: str = ""
    operation: str = ""
    match: str = ""
    seconds: float | None = None
    after_seconds: float = 0.0
    code: str = "ThrottlingException"
    status: int = 400
    reason: str = "AlgorithmError: fault injected by the local cloud"
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    fired: int = 0

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Fault:
        known = set(cls.__dataclass_fields__) - {"id", "fired"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise FaultError(f"unknown fields {unknown}; a fault has {sorted(known)}")
        kind, action = body.get("kind"), body.get("action")
        if kind not in ACTIONS:
            raise FaultError(f"kind must be one of {sorted(ACTIONS)}, got {kind!r}")
        if action not in ACTIONS[kind]:
            raise FaultError(f"a {kind} fault's action is one of {sorted(ACTIONS[kind])}")
        if kind == "lambda" and not body.get("function"):
            raise FaultError("a lambda fault names its function")
        if kind == "sagemaker-api" and not body.get("operation"):
            raise FaultError("a sagemaker-api fault names its operation (e.g. CreateTrainingJob)")
        count = body.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise FaultError(f"count must be a positive integer, got {count!r}")
        return cls(**{**body, "count": count})


class FaultRegistry:
    """The armed faults; every check takes the lock, so each fault fires ``count`` times."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def take(self, kind: str, *, name: str = "", subject: str = "") -> Fault | None:
        """The first armed fault of ``kind`` for ``name`` whose match is in ``subject``.

        Taking it counts one firing; a fault that has fired ``count`` times is removed.
        """
        with self._lock:
            for fault in self._faults:
                target = fault.function if kind == "lambda" else fault.operation
                if fault.kind != kind or (target and target != name):
                    continue
                if fault.match and fault.match not in subject:
                    continue
                fault.fired += 1
                if fault.fired >= fault.count:
                    self._faults.remove(fault)
                return fault
        return None

    def handle(self, method: str, body: bytes) -> tuple[HTTPStatus, dict[str, Any] | None]:
        """The route's answer to ``method`` with ``body``: a status and a JSON document.

        MiniStack's launcher serves this in front of MiniStack's ASGI app
        (``driftline_ministack.faults``).
        """
        if method == "DELETE":
            self.clear()
            return HTTPStatus.NO_CONTENT, None
        if method == "GET":
            return HTTPStatus.OK, {"faults": self.armed()}
        if method != "POST":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{method} is not allowed here"}
        try:
            document = json.loads(body or b"{}")
            if not isinstance(document, dict):
                raise FaultError("the body is a JSON object describing one fault")
            fault = self.arm(Fault.parse(document))
        except (ValueError, TypeError) as error:
            return HTTPStatus.BAD_REQUEST, {"error": str(error)}
        return HTTPStatus.CREATED, asdict(fault)


@cache
def faults() -> FaultRegistry:
    """The local cloud's one registry (its route is added by ``driftline_ministack.faults``)."""
    return FaultRegistry()
