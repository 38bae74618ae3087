"""The inference side of a framework container, run in the framework environment.

A transform job starts this file with the framework's Python, the model's code folder
as the working directory and ``SAGEMAKER_PROGRAM`` naming the entry file, as SageMaker's
scikit-learn serving container is configured. It imports the user's module, calls
``model_fn(model_dir)`` once, then answers requests one by one: ``transform_fn`` if the
module has one, else ``input_fn`` -> ``predict_fn`` -> ``output_fn``, each optional with
the sagemaker-inference toolkit's defaults (CSV, JSON and NPY through numpy). Text
bodies (CSV, JSON, text/*) reach ``input_fn`` decoded, as the toolkit hands them over.

Framing on stdin/stdout, so that no port is needed: a request is a JSON header line
``{"content_type", "accept", "length"}`` and ``length`` bytes; a reply is a JSON header
line ``{"ok": true, "content_type", "length"}`` and the bytes, or ``{"ok": false,
"error", "status", "message"}`` (the status and message an endpoint's container answers). The
first reply says whether the model loaded. Whatever the user's code
prints goes to stderr, which the job sends to CloudWatch Logs.

It imports nothing of driftline's or MiniStack's: it runs outside MiniStack's venv.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

TEXT_TYPES = ("text/csv", "application/json", "application/jsonlines")
DEFAULT_ACCEPT = "application/json"
ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"


def is_text(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return base.startswith("text/") or base in TEXT_TYPES


# -- the toolkit's default handlers ---------------------------------------------------
def default_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "Please provide a model_fn implementation: the scikit-learn serving container has no "
        "default way to load a model."
    )


def default_input_fn(body: Any, content_type: str) -> Any:
    """As the scikit-learn container decodes: one row for a 1-D array, float32 for text."""
    import numpy as np

    base = content_type.split(";", 1)[0].strip().lower()
    if base == "text/csv":
        text = body if isinstance(body, str) else body.decode()
        array = np.genfromtxt(io.StringIO(text), delimiter=",")
        return (array.reshape(1, -1) if array.ndim == 1 else array).astype(np.float32)
    if base == "application/json":
        array = np.array(json.loads(body))
        return (array.reshape(1, -1) if array.ndim == 1 else array).astype(np.float32)
    if base == "application/x-npy":
        return np.load(io.BytesIO(body), allow_pickle=False)
    raise ValueError(f"Content type {content_type} is not supported by the default input_fn")


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    import numpy as np

    base = accept.split(";", 1)[0].strip().lower()
    array = np.asarray(prediction)
    if base == "text/csv":
        stream = io.StringIO()
        np.savetxt(stream, array if array.ndim else array.reshape(1), delimiter=",", fmt="%s")
        return stream.getvalue().encode(), accept
    if base == "application/json":
        return json.dumps(array.tolist()).encode(), accept
    if base == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, array)
        return buffer.getvalue(), accept
    raise ValueError(f"Accept type {accept} is not supported by the default output_fn")


# -- serving ---------------------------------------------------------------------------
class Handlers:
    def __init__(self, module: Any) -> None:
        self.model_fn: Callable[..., Any] = getattr(module, "model_fn", default_model_fn)
        self.input_fn: Callable[..., Any] = getattr(module, "input_fn", default_input_fn)
        self.predict_fn: Callable[..., Any] = getattr(module, "predict_fn", default_predict_fn)
        self.output_fn: Callable[..., Any] = getattr(module, "output_fn", default_output_fn)
        self.transform_fn: Callable[..., Any] | None = getattr(module, "transform_fn", None)

    def invoke(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        data: Any = body.decode() if is_text(content_type) else body
        if self.transform_fn is not None:
            result = self.transform_fn(model, data, content_type, accept)
        else:
            prediction = self.predict_fn(self.input_fn(data, content_type), model)
            result = self.output_fn(prediction, accept)
        if isinstance(result, tuple):
            payload, produced = result[0], str(result[1])
        else:
            payload, produced = result, accept
        if isinstance(payload, str):
            payload = payload.encode()
        return bytes(payload), produced


def status_of(exception: Exception) -> int:
    """The HTTP status the container answers an exception with: the inference toolkit's
    errors carry theirs in ``status_code`` (400 for bad input); anything else is 500."""
    status = getattr(exception, "status_code", 500)
    return status if isinstance(status, int) and 400 <= status <= 599 else 500


def reply(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    out.write(json.dumps(header).encode() + b"\n" + payload)
    out.flush()


def load(code_dir: Path) -> Handlers:
    program = os.environ.get("SAGEMAKER_PROGRAM", "")
    if not program:
        raise RuntimeError("SAGEMAKER_PROGRAM (the inference entry file) is not set")
    sys.path.insert(0, str(code_dir))
    return Handlers(importlib.import_module(program.removesuffix(".py")))


def main() -> int:
    # The protocol owns the real stdout; the user's prints go to stderr (and the logs).
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    try:
        handlers = load(Path.cwd())
        model = handlers.model_fn(os.environ["SM_MODEL_DIR"])
    except BaseException:
        error = traceback.format_exc()
        print(error, file=sys.stderr)
        reply(out, {"ok": False, "error": error})
        return 1
    reply(out, {"ok": True, "ready": True})
    while header_line := requests.readline():
        header = json.loads(header_line)
        body = requests.read(int(header["length"]))
        accept = header.get("accept") or os.environ.get(ACCEPT_VARIABLE) or DEFAULT_ACCEPT
        try:
            payload, produced = handlers.invoke(model, body, header["content_type"], accept)
        except Exception as exception:
            error = traceback.format_exc()
            print(error, file=sys.stderr)  # the whole traceback for the job's logs
            status, message = status_of(exception), str(exception) or type(exception).__name__
            reply(out, {"ok": False, "error": error, "status": status, "message": message})
            continue
        reply(out, {"ok": True, "content_type": produced, "length": len(payload)}, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
