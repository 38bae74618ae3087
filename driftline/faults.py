"""Arming the local cloud's fault injection (chaos tests): the client side of
``/_driftline/faults`` (see ``local/driftline_localcloud/faults.py`` for the kinds).

Faults are armed explicitly, fire for the next ``count`` matching calls and are then
gone; ``armed_faults`` context-manages a set of them and disarms whatever is left.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from driftline_runtime.names import FAULTS_ROUTE

from driftline.localcloud import LocalCloud

# The route the local cloud serves (local/driftline_localcloud/faults.py's registry, in front
# of MiniStack's app: local/driftline_ministack/faults.py).
PATH = FAULTS_ROUTE


class FaultInjectionError(RuntimeError):
    """The local cloud refused a fault or could not be reached; the message says why."""


def _call(cloud: LocalCloud, method: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{cloud.endpoint}{PATH}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
    except urllib.error.HTTPError as error:
        raise FaultInjectionError(
            f"{method} {PATH}: {error.code} {error.read().decode(errors='replace')}"
        ) from None
    except OSError as error:
        raise FaultInjectionError(
            f"The local cloud at {cloud.endpoint} is not reachable: {error}"
        ) from None
    return json.loads(payload) if payload else None


def arm(cloud: LocalCloud, **fault: Any) -> dict[str, Any]:
    """Arm one fault, e.g. ``arm(cloud, kind="lambda", function=name, action="crash")``."""
    armed: dict[str, Any] = _call(cloud, "POST", fault)
    return armed


def armed(cloud: LocalCloud) -> list[dict[str, Any]]:
    """The faults still armed (each with how often it has fired)."""
    faults: list[dict[str, Any]] = _call(cloud, "GET")["faults"]
    return faults


def disarm(cloud: LocalCloud) -> None:
    _call(cloud, "DELETE")


@contextmanager
def armed_faults(cloud: LocalCloud, *faults: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Arm ``faults`` for the block; whatever did not fire is disarmed after it."""
    try:
        yield [arm(cloud, **fault) for fault in faults]
    finally:
        disarm(cloud)
