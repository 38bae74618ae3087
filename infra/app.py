"""The driftline CDK app: ``cdk synth|deploy`` (see cdk.json) runs this module."""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks
from driftline_runtime import names
from driftline_runtime.catalog import ContractsError

from infra.config import StageConfig, load_stage_config
from infra.permissions_boundary import apply_permissions_boundary
from infra.stacks.data_stack import DataStack
from infra.stacks.monitoring_stack import MonitoringStack
from infra.stacks.pipeline_stack import PipelineStack


def build_app(app: cdk.App) -> tuple[StageConfig, DataStack]:
    config = load_stage_config(
        app.node.try_get_context,
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
        region=os.environ.get("CDK_DEFAULT_REGION"),
    )
    environment = cdk.Environment(account=config.account, region=config.region)
    stage = config.stage
    data = DataStack(app, names.stack_name(stage, names.DATA_STACK), config=config, env=environment)
    pipeline = PipelineStack(
        app,
        names.stack_name(stage, names.PIPELINE_STACK),
        config=config,
        data=data.resources,
        env=environment,
    )
    monitoring = MonitoringStack(
        app,
        names.stack_name(stage, names.MONITORING_STACK),
        config=config,
        data=data,
        pipeline=pipeline,
        env=environment,
    )
    for stack in (data, pipeline, monitoring):
        apply_permissions_boundary(stack, config)
    cdk.Tags.of(app).add(names.PROJECT_TAG, names.PROJECT)
    cdk.Tags.of(app).add(names.STAGE_TAG, config.stage)
    # Both packs on every synth: any finding not acknowledged with a reason stops it.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), HIPAASecurityChecks(app))
    return config, data


def main() -> None:
    app = cdk.App()
    try:
        build_app(app)
    except ContractsError as error:
        # One readable message, not a traceback through the CDK: the modules, lines and
        # fields at fault, and where to look further.
        print(
            f"error: {error}\nNothing was deployed. `driftline contracts check` checks the "
            "contract modules offline and lists what each declares.",
            file=sys.stderr,
        )
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
