"""How an error that escaped a command reaches the user: one line and an exit code.

:func:`explain` turns what AWS's SDK raises into driftline's two kinds of error
(:mod:`driftline.errors`): missing credentials or region and an unreachable local cloud
are preconditions (exit 2), a refused call is a failed operation (exit 1). Errors are
told apart by their type and AWS error code, never by their text.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from botocore import exceptions as aws
from rich.console import Console
from rich.markup import escape

from driftline.cli.base import Session
from driftline.errors import DriftlineError, PreconditionFailed

# Error codes with which AWS refuses the caller's credentials.
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
    }
)
INTERRUPTED = 130


def explain(error: BaseException, target: str, endpoint: str) -> DriftlineError:
    """``error`` as a DriftlineError (PreconditionFailed when the user can fix a setting)."""
    if isinstance(error, DriftlineError):
        return error
    if isinstance(error, aws.NoRegionError):
        return PreconditionFailed(
            "No AWS region is set",
            "Set AWS_REGION (or a region in your AWS profile), or use --target local.",
            code="no_region",
        )
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return PreconditionFailed(
            f"No usable AWS credentials: {error}",
            "Run `aws configure` or `aws sso login`, or set AWS_PROFILE.",
            code="no_credentials",
        )
    if isinstance(
        error, aws.ProfileNotFound | aws.SSOError | aws.TokenRetrievalError | aws.SSOTokenLoadError
    ):
        return PreconditionFailed(
            f"The AWS credentials cannot be loaded: {error}",
            "Fix AWS_PROFILE or run `aws sso login`.",
            code="no_credentials",
        )
    if isinstance(error, aws.ClientError):
        return _client_error(error)
    if isinstance(error, aws.ConnectionError | aws.ConnectionClosedError):
        if target == "local":
            return PreconditionFailed(
                f"The local cloud is not running on {endpoint} (or stopped on the way)",
                "Start it with `driftline local up` (DRIFTLINE_LOCAL_PORT chooses the port).",
                code="local_cloud_not_running",
            )
        failed = DriftlineError(f"Could not reach AWS: {error}. Check the network and proxy.")
        failed.code = "unreachable"
        return failed
    if isinstance(error, OSError):
        failed = DriftlineError(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
        failed.code = "os_error"
        return failed
    unexpected = DriftlineError(
        f"Unexpected error {type(error).__name__}: {error}. Run again with --debug to see "
        "where it happened."
    )
    unexpected.code = "unexpected"
    return unexpected


def _client_error(error: aws.ClientError) -> DriftlineError:
    details: dict[str, Any] = error.response.get("Error", {})
    code = str(details.get("Code", "?"))
    operation = getattr(error, "operation_name", "a call")
    if code in CREDENTIAL_CODES:
        return PreconditionFailed(
            f"AWS refused the credentials ({code}: {details.get('Message', '')})",
            "Refresh them (`aws sso login`, `aws configure`) or set AWS_PROFILE.",
            code="bad_credentials",
        )
    failed = DriftlineError(f"AWS refused {operation}: {code}: {details.get('Message', '')}")
    failed.code = "aws_error"
    return failed


def report(error: BaseException, *, session: Session, endpoint: str) -> int:
    """Print ``error`` (its traceback too with ``--debug``); returns the exit code."""
    console = Console(stderr=True)
    if isinstance(error, KeyboardInterrupt):
        console.print("interrupted")
        return INTERRUPTED
    explained = explain(error, session.target_label, endpoint)
    if session.debug:
        console.print("".join(traceback.format_exception(error)), markup=False, highlight=False)
    console.print(f"[red]error:[/red] {escape(str(explained))}", soft_wrap=True)
    exit_code = 2 if isinstance(explained, PreconditionFailed) else 1
    if session.json and not explained.result_printed:
        document: dict[str, Any] = {"code": explained.code, "message": str(explained)}
        if isinstance(explained, PreconditionFailed):
            document |= {"message": explained.message, "fix": explained.fix}
        print(json.dumps({"error": {**document, "exit_code": exit_code}}))
    return exit_code
