"""Python functions run with the AWS runtime's packages only, not MiniStack's.

MiniStack's local executor starts a Python function's worker with its own interpreter
(``sys.executable``), so a function could import MiniStack, Hypercorn and everything
else in the emulator's environment, and got that environment's boto3, none of which AWS's
runtime offers: code that worked locally could fail on AWS with an ImportError.
``install`` points the worker at the interpreter in ``DRIFTLINE_LAMBDA_PYTHON``, a
virtual environment holding only what AWS's Python runtime provides besides the
standard library (``local/lambda-runtime.txt``).
The worker script MiniStack runs needs nothing more (the standard library and botocore).

The worker puts each layer's ``python/`` on the import path and adds its
``python/lib/python3.13/site-packages`` at the end; on AWS, where layers are unpacked
into one ``/opt``, the path is the function's code, then ``site-packages``, then
``python/``, and a later layer's file replaces an earlier one's. ``install`` has the
worker order its path that way (later layers first within each kind).
"""

from __future__ import annotations

import os
from typing import Any

from ministack.core import lambda_runtime

PYTHON_VARIABLE = "DRIFTLINE_LAMBDA_PYTHON"
# Where the worker script's import path is complete, and what orders it as on AWS.
PATH_COMPLETE = "    # After sys.path is complete (so a function that bundles its own botocore\n"
AWS_PATH_ORDER = """    _dl_dirs = os.environ.get("_LAMBDA_LAYERS_DIRS", "").split(os.pathsep)
    _dl_layers = [d for d in _dl_dirs if d]
    _dl_version = "python%d.%d" % sys.version_info[:2]
    _dl_first = [code_dir] + [
        p for p in (
            *(os.path.join(d, "python", "lib", _dl_version, "site-packages")
              for d in reversed(_dl_layers)),
            *(os.path.join(d, "python") for d in reversed(_dl_layers)),
        ) if os.path.isdir(p)
    ]
    sys.path[:] = _dl_first + [p for p in sys.path if p not in _dl_first]
"""


def aws_path_order(script: str) -> str:
    """The worker script, ordering its import path as AWS's runtime does."""
    if PATH_COMPLETE not in script:
        raise RuntimeError(
            "MiniStack's Python worker script no longer marks where its import path is "
            "complete: driftline_ministack.lambda_runtime needs updating for this release"
        )
    return script.replace(PATH_COMPLETE, AWS_PATH_ORDER + PATH_COMPLETE, 1)


def install() -> None:
    lambda_runtime._PYTHON_WORKER_SCRIPT = aws_path_order(lambda_runtime._PYTHON_WORKER_SCRIPT)
    python = os.environ.get(PYTHON_VARIABLE)
    if not python:
        raise SystemExit(f"{PYTHON_VARIABLE} names no Lambda runtime interpreter")
    detect = lambda_runtime._detect_runtime_binary

    def detect_runtime_binary(runtime: str) -> Any:
        binary, script = detect(runtime)
        return (python, script) if runtime.startswith("python") else (binary, script)

    lambda_runtime._detect_runtime_binary = detect_runtime_binary
