"""A Distributed Map's ResultWriter's files, as AWS writes them.

Each iteration's result goes to ``<Prefix><map run id>/SUCCEEDED_0.json`` in AWS's shape
(one record per child execution, its ``Output`` a JSON string), with a manifest naming
that file, and the state's result is AWS's ``{MapRunArn, ResultWriterDetails}``. This
is the pure part, importable without the emulator;
``driftline_ministack.stepfunctions_result_writer`` hooks it into MiniStack's
interpreter, which ignores ``ResultWriter``. Failed iterations never get here: without
tolerated failures a failed iteration fails the Map state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def result_files(results: list[Any], map_run_arn: str, stopped: datetime) -> list[dict[str, Any]]:
    """One record per iteration, in item order, as AWS writes ``SUCCEEDED_n.json``."""
    state_machine = map_run_arn.replace(":mapRun:", ":stateMachine:").rsplit(":", 1)[0]
    return [
        {
            "ExecutionArn": f"{map_run_arn.replace(':mapRun:', ':execution:')}:{index}",
            "Name": str(index),
            "StateMachineArn": state_machine,
            "Status": "SUCCEEDED",
            "Output": json.dumps(result),
            "OutputDetails": {"Included": True},
            "StopDate": stopped.isoformat(),
        }
        for index, result in enumerate(results)
    ]


def results_folder(prefix: str, map_run_arn: str) -> str:
    """``inference/run-1`` + ``...:mapRun:sm/label:<id>`` -> ``inference/run-1/<id>/``."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return f"{prefix}{map_run_arn.rsplit(':', 1)[-1]}/"


def write_results(
    put: Any, bucket: str, prefix: str, map_run_arn: str, results: list[Any]
) -> dict[str, Any]:
    """Puts the result file and the manifest with ``put(Bucket=, Key=, Body=)`` (an S3
    client's, as the state machine's role); returns the Map state's result as AWS gives
    it."""
    folder = results_folder(prefix, map_run_arn)
    records = result_files(results, map_run_arn, datetime.now(UTC))
    succeeded = []
    if records:
        body = json.dumps(records).encode()
        put(Bucket=bucket, Key=f"{folder}SUCCEEDED_0.json", Body=body)
        succeeded.append({"Key": f"{folder}SUCCEEDED_0.json", "Size": len(body)})
    manifest = {
        "DestinationBucket": bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": succeeded},
    }
    put(Bucket=bucket, Key=f"{folder}manifest.json", Body=json.dumps(manifest).encode())
    return {
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": {"Bucket": bucket, "Key": f"{folder}manifest.json"},
    }
