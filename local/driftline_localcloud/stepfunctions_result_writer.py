"""A Distributed Map's ResultWriter that writes the results, as AWS does.

LocalStack's open-source interpreter writes a ``manifest.json`` that lists no result
files and drops the iterations' results (its code says "TODO"), so a state machine that
reads them back (batch inference's WritePredictions) would find nothing. This writes
each iteration's result to ``<Prefix><map run id>/SUCCEEDED_0.json`` in AWS's shape (one
record per child execution, its ``Output`` a JSON string), and a manifest naming that
file, then leaves AWS's ``{MapRunArn, ResultWriterDetails}`` as the state's result. The
writer's ``Parameters`` paths are read from the Map state's input, as on AWS; LocalStack
reads them from the iterations' results.
Failed iterations never get here: without tolerated failures (which LocalStack's map
does not apply either) a failed iteration fails the Map state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

RESULT_WRITER_PACKAGE = (
    "localstack.services.stepfunctions.asl.component.state.state_execution.state_map.result_writer"
)
RESULT_WRITER_MODULE = f"{RESULT_WRITER_PACKAGE}.resource_eval.resource_eval_s3"


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
    it. Both bases write through this."""
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


def patch() -> None:
    """Replaces LocalStack's S3 ResultWriter handler; idempotent."""
    import importlib

    module = importlib.import_module(RESULT_WRITER_MODULE)
    evaluator = module.ResourceEvalS3
    if getattr(evaluator._handle_put_object, "driftline", False):
        return

    def handle_put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = env.stack.pop()
        results = env.stack.pop()
        s3 = evaluator._get_s3_client(
            resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
        )
        map_run_arn = env.map_run_record_pool_manager.get_all().pop().map_run_arn
        env.stack.append(
            write_results(
                s3.put_object,
                parameters["Bucket"],
                parameters.get("Prefix", ""),
                map_run_arn,
                list(results or []),
            )
        )

    handle_put_object.driftline = True  # type: ignore[attr-defined]
    evaluator._handle_put_object = staticmethod(handle_put_object)
    _evaluate_parameters_on_the_state_input(
        importlib.import_module(f"{RESULT_WRITER_PACKAGE}.result_writer_decl")
    )


def _evaluate_parameters_on_the_state_input(module: Any) -> None:
    """The writer's ``Parameters`` see the Map state's input; its results stay below them."""
    writer = module.ResultWriter

    def eval_body(self: Any, env: Any) -> None:
        results = env.stack.pop()
        env.stack.append(env.states.get_input())
        self.parargs.eval(env=env)
        parameters = env.stack.pop()
        env.stack.pop()
        env.stack.append(results)
        env.stack.append(parameters)
        self.resource_eval.eval_resource(env=env)

    writer._eval_body = eval_body
