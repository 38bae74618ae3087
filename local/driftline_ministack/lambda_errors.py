"""Lambda errors in AWS's shape on MiniStack's Python executor.

The app depends on one of them: a Step Functions ``Catch`` matches a Lambda task's
error by its ``errorType``, which on AWS is the exception's class name
(``NoApprovedModel``); MiniStack reports every handler exception as
``Runtime.HandlerError``, so such a catch never matches there. Besides that, as AWS
does: a process that dies mid-invocation is ``Runtime.ExitError`` naming its exit
status (``Runtime exited with error: exit status 7``), a handler module that cannot be
imported ``Runtime.ImportModuleError``, a handler's exception is logged with the
runtime's ``[ERROR] <type>: <message>`` line before its traceback, and
``context.memory_limit_in_mb`` is a string.

MiniStack's warm worker runs a bootstrap script kept as text
(``lambda_runtime._PYTHON_WORKER_SCRIPT``); two of its lines are replaced, and each
replacement is checked, so that a MiniStack release that changes them fails the
start instead of silently losing the error types. The class name travels from the
worker's answer (``Worker.invoke``) to the result ``_execute_function_warm`` builds
through a thread-local: both run on the invoking thread, as does the reaping of a
worker that died (``lambda_runtime._collect``), which leaves its exit status there.
"""

from __future__ import annotations

import threading
from typing import Any

from ministack.core import lambda_runtime
from ministack.services import lambda_svc

SCRIPT_EDITS = (
    (
        '"memory_limit_in_mb": init.get("memory", 128),',
        '"memory_limit_in_mb": str(init.get("memory", 128)),',
    ),
    (
        '{"status": "error", "error": str(e), "trace": traceback.format_exc()}',
        '{"status": "error", "error": str(e), "errorType": type(e).__name__, '
        '"stackTrace": traceback.format_list(traceback.extract_tb(e.__traceback__)), '
        '"trace": "[ERROR] " + type(e).__name__ + ": " + str(e) + "\\n" + traceback.format_exc()}',
    ),
)
DIED = "Worker process died"
INIT_FAILED = "Worker init failed: "
_last_answer = threading.local()
_last_exit = threading.local()


def exit_reason(status: int | None) -> str:
    """AWS's words for how a runtime process ended."""
    if status is None:
        return "Runtime exited without providing a reason"
    if status < 0:
        return f"Runtime exited with error: signal {-status}"
    return f"Runtime exited with error: exit status {status}"


def _edited_script(script: str) -> str:
    for old, new in SCRIPT_EDITS:
        if old not in script:
            raise RuntimeError(
                f"MiniStack's Python worker script no longer contains {old!r}: "
                "driftline_ministack.lambda_errors needs updating for this MiniStack release"
            )
        script = script.replace(old, new)
    return script


def _aws_error(body: dict[str, Any], answer: dict[str, Any], handler: str) -> dict[str, Any]:
    message = str(body.get("errorMessage", ""))
    if body.get("errorType") == "Runtime.HandlerError":
        if answer.get("errorType"):
            return {
                **body,
                "errorType": answer["errorType"],
                "stackTrace": answer.get("stackTrace", []),
            }
        if answer.get("error") == DIED:
            return {
                "errorMessage": exit_reason(getattr(_last_exit, "value", None)),
                "errorType": "Runtime.ExitError",
            }
    if message.startswith(INIT_FAILED):
        module = handler.rsplit(".", 1)[0]
        reason = message.removeprefix(INIT_FAILED)
        return {
            "errorMessage": f"Unable to import module '{module}': {reason}",
            "errorType": "Runtime.ImportModuleError",
        }
    return body


def install() -> None:
    """Patch MiniStack's Python executor; idempotent."""
    if getattr(lambda_svc._execute_function_warm, "driftline_errors", False):
        return
    lambda_runtime._PYTHON_WORKER_SCRIPT = _edited_script(lambda_runtime._PYTHON_WORKER_SCRIPT)

    invoke = lambda_runtime.Worker.invoke

    def remembered_invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = invoke(self, *args, **kwargs)
        _last_answer.value = answer
        return answer

    collect = lambda_runtime._collect

    def remembered_collect(proc: Any, deadline: float) -> None:
        collect(proc, deadline)
        _last_exit.value = getattr(proc, "returncode", None)

    execute = lambda_svc._execute_function_warm

    def execute_warm(func: dict[str, Any], event: Any, request_id: str) -> Any:
        _last_answer.value = {}
        _last_exit.value = None
        result = execute(func, event, request_id)
        body = result.get("body") if isinstance(result, dict) else None
        if result.get("error") and isinstance(body, dict):
            config = func.get("config") or func
            handler = str(config.get("Handler", ""))
            result["body"] = _aws_error(body, _last_answer.value or {}, handler)
        return result

    execute_warm.driftline_errors = True  # type: ignore[attr-defined]
    lambda_runtime.Worker.invoke = remembered_invoke
    lambda_runtime._collect = remembered_collect
    lambda_svc._execute_function_warm = execute_warm
