"""A Distributed Map's ResultWriter for MiniStack's interpreter, written as AWS writes it.

MiniStack's ``_run_distributed_map`` ignores ``ResultWriter`` and keeps every
iteration's result in the state's output, so batch inference's WritePredictions, which
reads the parts' results back from S3, would find nothing, and many failed parts would
overflow the state (AWS's reason for the ResultWriter). ``install`` wraps that function:
a Map with a ResultWriter runs as before up to its results, which then go to
``<Prefix><map run id>/SUCCEEDED_0.json`` with a ``manifest.json`` naming the file
(``driftline_localcloud.stepfunctions_result_writer.write_results``), and the state's
result is AWS's ``{MapRunArn, ResultWriterDetails}``
before ResultSelector, ResultPath and OutputPath apply. The objects are put through the
gateway as the state machine's role, so with IAM enforced the role needs
``s3:PutObject`` there, as on AWS.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from driftline_localcloud.stepfunctions_result_writer import write_results
from ministack import app
from ministack.services import stepfunctions

from driftline_ministack.iam import role_credentials

# What the wrapped call must not apply to the iterations' results: the ResultWriter's
# output takes their place.
AFTER_RESULTS = ("ResultWriter", "ResultSelector", "ResultPath", "OutputPath")


def _s3_as(role_arn: str, account: str, region: str) -> Any:
    keys = (
        role_credentials(account, role_arn, "StepFunctions")
        if app.AUTH
        else {"AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "test"}
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{app._resolve_port()}",
        region_name=region,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
    )


def install() -> None:
    """Wraps MiniStack's Distributed Map runner; idempotent."""
    run_map = stepfunctions._run_distributed_map
    if getattr(run_map, "driftline", False):
        return

    def run_distributed_map(
        state_def: dict[str, Any],
        raw_input: Any,
        effective: Any,
        iterator: Any,
        execution: dict[str, Any],
        ctx: dict[str, Any],
    ) -> Any:
        writer = state_def.get("ResultWriter")
        if not writer:
            return run_map(state_def, raw_input, effective, iterator, execution, ctx)
        runs_before = set(stepfunctions._map_runs.keys())
        bare = {k: v for k, v in state_def.items() if k not in AFTER_RESULTS}
        results, following = run_map(bare, raw_input, effective, iterator, execution, ctx)
        (map_run_arn,) = [
            arn
            for arn, run in stepfunctions._map_runs.items()
            if arn not in runs_before and run["executionArn"] == execution["executionArn"]
        ]
        parameters = stepfunctions._resolve_params_obj(
            writer.get("Parameters") or writer.get("Arguments") or {}, effective, ctx
        )
        fields = execution["stateMachineArn"].split(":")
        started = execution["events"][0]["executionStartedEventDetails"]
        s3 = _s3_as(started["roleArn"], fields[4], fields[3])
        try:
            result = write_results(
                s3.put_object,
                parameters["Bucket"],
                parameters.get("Prefix", ""),
                map_run_arn,
                list(results or []),
            )
        except Exception as failure:
            raise stepfunctions._ExecutionError("States.ResultWriterFailed", str(failure)) from None
        result = stepfunctions._apply_result_selector(state_def, result)
        output = stepfunctions._apply_result_path(state_def, raw_input, result)
        return stepfunctions._apply_output_path(state_def, output, ctx), following

    run_distributed_map.driftline = True  # type: ignore[attr-defined]
    stepfunctions._run_distributed_map = run_distributed_map
