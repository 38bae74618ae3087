"""The lines of driftline's own local-cloud code, by the base that needs them.

What each base would let the project delete is the other base's own part; the shared
part (the SageMaker provider and job runner, the fault registry, the Step Functions
rules) stays either way.
"""

from __future__ import annotations

from pathlib import Path

from driftline.localcloud import ROOT

LOCAL = ROOT / "local"
LOCALSTACK_ONLY = (
    "driftline_localcloud/plugins.py",
    "driftline_localcloud/serve.py",
    "driftline_localcloud/import_hooks.py",
    "driftline_localcloud/events_patch.py",
    "driftline_localcloud/stepfunctions_patch.py",
    "driftline_localcloud/stepfunctions_sagemaker.py",
    "driftline_localcloud/fault_route.py",
    "driftline_localcloud/lambda_runtime",
    "driftline_localcloud/cloudformation",
    "driftline_localcloud/sagemaker/localstack_service.py",
    "driftline_localcloud/sagemaker/access.py",
    # IAM: policy evaluation of the project's own (MiniStack evaluates with its own).
    "driftline_localcloud/iam",
)
MINISTACK_ONLY = ("driftline_ministack",)
SHARED = (
    "driftline_localcloud/faults.py",
    "driftline_localcloud/sagemaker",
    "driftline_localcloud/stepfunctions_result_writer.py",
)


def python_lines(parts: tuple[str, ...], leave_out: tuple[str, ...] = ()) -> int:
    excluded = {LOCAL / part for part in leave_out}
    total = 0
    for part in parts:
        path = LOCAL / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if file not in excluded:
                total += len(Path(file).read_text().splitlines())
    return total


def lines_of_code() -> dict[str, str]:
    localstack = python_lines(LOCALSTACK_ONLY)
    ministack = python_lines(MINISTACK_ONLY)
    shared = python_lines(SHARED, leave_out=LOCALSTACK_ONLY)
    return {
        "localstack": f"{localstack} own + {shared} shared (moving to MiniStack deletes "
        f"{localstack})",
        "ministack": f"{ministack} own + {shared} shared (staying on LocalStack deletes "
        f"{ministack})",
    }


if __name__ == "__main__":
    for base, counted in lines_of_code().items():
        print(f"{base:<12} {counted}")
