"""Applies the Step Functions SageMaker integration when LocalStack imports its interpreter.

``stepfunctions_sagemaker`` imports Step Functions' ASL interpreter, which takes seconds
and is otherwise loaded only when Step Functions is first used. The registration waits
for the one module that looks the task-service factory up (``state_task_factory``) and
runs as soon as that module has run, before anything can parse a state machine with it.
"""

from __future__ import annotations

from driftline_localcloud.import_hooks import after_import

FACTORY_MODULE = (
    "localstack.services.stepfunctions.asl.component.state.state_execution.state_task."
    "state_task_factory"
)


def _register() -> None:
    from driftline_localcloud import stepfunctions_result_writer
    from driftline_localcloud.stepfunctions_sagemaker import register

    register()
    # The Distributed Map's ResultWriter, which batch inference reads its parts' results
    # from (driftline_localcloud.stepfunctions_result_writer).
    stepfunctions_result_writer.patch()


def patch_when_imported() -> None:
    after_import(FACTORY_MODULE, _register)
