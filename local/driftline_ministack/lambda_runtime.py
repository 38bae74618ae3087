"""Python functions run with the AWS runtime's packages only, not MiniStack's.

MiniStack's local executor starts a Python function's worker with its own interpreter
(``sys.executable``), so a function could import MiniStack, Hypercorn and everything
else in the emulator's environment, and got that environment's boto3, none of which AWS's
runtime offers: code that worked locally could fail on AWS with an ImportError.
``install`` points the worker at the interpreter in ``DRIFTLINE_LAMBDA_PYTHON``, a
virtual environment holding only what AWS's Python runtime provides besides the
standard library (``local/lambda-runtime.txt``, the LocalStack base's runtime pins).
The worker script MiniStack runs needs nothing more (the standard library and botocore).
"""

from __future__ import annotations

import os
from typing import Any

from ministack.core import lambda_runtime

PYTHON_VARIABLE = "DRIFTLINE_LAMBDA_PYTHON"


def install() -> None:
    python = os.environ.get(PYTHON_VARIABLE)
    if not python:
        raise SystemExit(f"{PYTHON_VARIABLE} names no Lambda runtime interpreter")
    detect = lambda_runtime._detect_runtime_binary

    def detect_runtime_binary(runtime: str) -> Any:
        binary, script = detect(runtime)
        return (python, script) if runtime.startswith("python") else (binary, script)

    lambda_runtime._detect_runtime_binary = detect_runtime_binary
