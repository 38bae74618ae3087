"""Asynchronous Lambda invocations queue, as on AWS, instead of all running at once.

AWS puts an asynchronous event (an S3 notification, an EventBridge target) in the
function's queue and runs it when the function has capacity; a throttled event goes
back to the queue for up to six hours and does not use up a retry. MiniStack's
``invoke_async_with_retry`` starts every event at once, in its own execution
environment, and counts a throttle as a failed attempt: 200 files dropped together
start 200 Python processes (each importing the ingest function's pyarrow and pandas)
on the machine at once, and events that find the account's concurrency used up are
dead-lettered after two quick retries.

The replacement keeps MiniStack's retry rules (``MaximumRetryAttempts``,
``MaximumEventAgeInSeconds``, the backoff of ``LAMBDA_ASYNC_RETRY_BASE_SECONDS``, the
failure destination or dead-letter queue) and adds the queue: at most
``DRIFTLINE_LAMBDA_ASYNC_CONCURRENCY`` events of one function run at once (default:
``min(32, cores + 4)``), and a throttled event waits and tries again within its maximum
age without counting as an attempt.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections import defaultdict
from typing import Any

from ministack.services import lambda_svc

LOG = logging.getLogger(__name__)

CONCURRENCY_VARIABLE = "DRIFTLINE_LAMBDA_ASYNC_CONCURRENCY"
DEFAULT_MAX_EVENT_AGE_SECONDS = 21_600
THROTTLE_RETRY_SECONDS = 1.0


def _concurrency() -> int:
    return int(os.environ.get(CONCURRENCY_VARIABLE) or min(32, (os.cpu_count() or 1) + 4))


_slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
    lambda: threading.BoundedSemaphore(_concurrency())
)
_slots_lock = threading.Lock()


def _slot(function_arn: str) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _slots[function_arn]


def _invoke_config(func: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = (
        func.get("event_invoke_config") or (func.get("event_invoke_configs") or {}).get("$LATEST")
    ) or {}
    return config


def _deliver(func: dict[str, Any], event: Any) -> None:
    config = func.get("config") or func
    account, region = lambda_svc._account_region_from_function_config(config)
    lambda_svc._request_account_id.set(account)
    lambda_svc._request_region.set(region)
    name = config.get("FunctionName", "unknown")
    settings = _invoke_config(func)
    retries = settings.get("MaximumRetryAttempts")
    retries = 2 if retries is None else int(retries)
    max_age = int(settings.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS))
    on_failure = (settings.get("DestinationConfig") or {}).get("OnFailure", {}).get(
        "Destination"
    ) or (config.get("DeadLetterConfig") or {}).get("TargetArn", "")
    started = time.time()
    attempt, result = 0, None
    slot = _slot(config.get("FunctionArn", name))
    while attempt <= retries and time.time() - started <= max_age:
        with slot:
            result = lambda_svc._execute_function(func, event)
        if result.get("throttle"):  # back to the queue; not an attempt
            time.sleep(THROTTLE_RETRY_SECONDS)
            continue
        if result.get("log"):
            LOG.info("Lambda %s async output (attempt %d):\n%s", name, attempt + 1, result["log"])
        if not result.get("error"):
            return
        attempt += 1
        if attempt <= retries:
            base = lambda_svc._LAMBDA_ASYNC_RETRY_BASE_SECONDS
            delay = min(base * 2 ** (attempt - 1), lambda_svc._LAMBDA_ASYNC_RETRY_MAX_SECONDS)
            if time.time() - started + delay > max_age:
                break
            time.sleep(delay)
    if on_failure and result is not None:
        lambda_svc._route_async_failure(on_failure, name, event, result)


def invoke_async_with_retry(func: dict[str, Any], event: Any) -> None:
    """MiniStack's entry point for asynchronous invocations (S3, EventBridge, SNS...)."""
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(_deliver, func, event), daemon=True).start()


def install() -> None:
    lambda_svc.invoke_async_with_retry = invoke_async_with_retry
