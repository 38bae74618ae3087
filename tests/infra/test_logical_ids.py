"""Logical IDs a deployed stage depends on: refactoring the constructs must not change them.

A stateful resource (bucket, table, key, queue, bus, vault) whose logical ID changes is
replaced by CloudFormation: created empty beside the old one. A named one (function, log
group, state machine, topic, dashboard) fails to create beside its namesake, and the
monitoring stack's imports of the old ID's exports block the update. These are the IDs
the stages were first deployed with; infra.constructs.logical_ids keeps them when
constructs move.
"""

from __future__ import annotations

import pytest

from infra.constructs.logical_ids import Moved, legacy_id, unique_id
from tests.infra.conftest import SynthesizedApp

KEPT_TYPES = (
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
    "AWS::Events::EventBus",
    "AWS::Backup::BackupVault",
    "AWS::Logs::LogGroup",
    "AWS::Lambda::Function",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::StepFunctions::StateMachine",
    "AWS::SNS::Topic",
    "AWS::CloudWatch::Dashboard",
    # Roles too: SageMaker models created at run time name the SageMaker role.
    "AWS::IAM::Role",
)

DEPLOYED: dict[str, dict[str, set[str]]] = {
    "data": {
        "AWS::S3::Bucket": {
            "AccessLogsBucketCD784A59",
            "CuratedBucket90F6C1E7",
            "QuarantineBucket2B128B57",
            "RawBucket672A0DBB",
        },
        "AWS::DynamoDB::Table": {"IdempotencyC15CBC33", "Lineage60928BB8"},
        "AWS::KMS::Key": {"DataKey2A0DE9E6"},
        "AWS::SQS::Queue": {"IngestFailuresA08611A6"},
        "AWS::Events::EventBus": {"BusEA82B648"},
        "AWS::Backup::BackupVault": {"BackupVault3A9C5852"},
        "AWS::Logs::LogGroup": {"IngestLogs41B5EF21", "LargeFilesStateMachineLogs8D6709CC"},
        "AWS::Lambda::Function": {
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db8347ECC3691",
            "IngestFunctionB02ED0EB",
        },
        "AWS::Lambda::EventInvokeConfig": {"IngestFunctionEventInvokeConfigECDAA1EC"},
        "AWS::IAM::Role": {
            "BackupPlanLineageRoleFB938DCC",
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db834RoleB6FB88EC",
            "IngestRoleEE92D549",
            "LargeFilesJobRoleE2FEFD71",
            "LargeFilesStateMachineRoleBC7193C0",
        },
        "AWS::StepFunctions::StateMachine": {"LargeFilesStateMachineEFFB89F6"},
    },
    "pipeline": {
        "AWS::S3::Bucket": {
            "AccessLogsBucketCD784A59",
            "ArtifactsBucket88671897",
            "BatchInferencePredictionsBucket9CED02FF",
        },
        "AWS::DynamoDB::Table": {"BatchInferenceRetrainingCooldownA6A50D78"},
        "AWS::SQS::Queue": {
            "BatchInferenceRetrainingGateFailures3B29EB9A",
            "BatchInferenceUndeliveredDriftEvents502F8DF1",
            "BatchInferenceUndeliveredInferenceStarts920FBD8E",
            "LabelsJoinLabelsFailuresE41F5B2F",
            "LabelsUndeliveredLabels3D2C4F22",
            "UndeliveredTrainingStarts4ABB6DD5",
            "RealtimeUndeliveredDeployments09BB0836",
            "CaptureCaptureCollectionFailuresCA37EF6C",
            "CaptureUndeliveredCaptureCollections7A6EF75C",
        },
        "AWS::Logs::LogGroup": {
            "BatchInferenceLogs968CD191",
            "BatchInferenceMonitorDriftLogs517E9209",
            "BatchInferencePrepareInferenceLogs3FFFB215",
            "BatchInferenceRetrainingGateLogs2311A9DD",
            "BatchInferenceWritePredictionsLogsBD4F9FC1",
            "EvaluateModelLogs4D2A5488",
            "LabelsJoinLabelsLogsBCAA0737",
            "PrepareTrainingLogsC6E6FCA4",
            "RegisterModelLogs7A676BCA",
            "SageMakerLogsConfigureLogs5AC8D98B",
            "TrainingLogs764E0E32",
            "RealtimePlanDeploymentLogs93E3C64C",
            "RealtimeStateMachineLogs15C03FE8",
            "CaptureCollectCaptureLogsD91DBB66",
        },
        "AWS::Lambda::Function": {
            "BatchInferenceMonitorDriftFunctionF07EC35A",
            "BatchInferencePrepareInferenceFunctionDAA60CCF",
            "BatchInferenceRetrainingGateFunction89F684E9",
            "BatchInferenceWritePredictionsFunctionDF9829AC",
            "EvaluateModelFunction5784CA0F",
            "LabelsJoinLabelsFunction60D248D1",
            "PrepareTrainingFunctionA05E255E",
            "RegisterModelFunction94712359",
            "SageMakerLogsConfigureFunction00910C6D",
            "RealtimePlanDeploymentFunctionD488874D",
            "CaptureCollectCaptureFunction7A0B0913",
        },
        "AWS::Lambda::EventInvokeConfig": {
            "BatchInferenceRetrainingGateFunctionEventInvokeConfigC38C9B67",
            "LabelsJoinLabelsFunctionEventInvokeConfigDAF90CAD",
            "CaptureCollectCaptureFunctionEventInvokeConfigBA27132A",
        },
        "AWS::StepFunctions::StateMachine": {
            "BatchInferenceStateMachine7E59A9E7",
            "TrainingStateMachine29B8911D",
            "RealtimeStateMachineCBEBE9F4",
        },
        "AWS::IAM::Role": {
            "BatchInferenceMonitorDriftRole3B361C2F",
            "BatchInferencePrepareInferenceRole87032AD2",
            "BatchInferenceRetrainingGateRoleA400A945",
            "BatchInferenceStateMachineEventsRole244554A9",
            "BatchInferenceStateMachineRole8C2A7172",
            "BatchInferenceWritePredictionsRole4AD5162E",
            "EvaluateModelRoleB400D17F",
            "LabelsJoinLabelsRole3992449F",
            "PrepareTrainingRoleF28FD6E2",
            "RegisterModelRole283A513D",
            "SageMakerLogsConfigureRole801A3FF5",
            "SageMakerRoleD4FCFA3F",
            "TrainingStateMachineEventsRole8B9F607F",
            "TrainingStateMachineRole67FFEED7",
            "RealtimePlanDeploymentRole10452C52",
            "RealtimeStateMachineEventsRoleA20995B5",
            "RealtimeStateMachineRole518A2459",
            "CaptureCollectCaptureRole38210433",
        },
    },
    "monitoring": {
        "AWS::SQS::Queue": {"UndeliveredNotifications74D18CEE"},
        "AWS::SNS::Topic": {"Notifications87298708"},
        "AWS::CloudWatch::Dashboard": {"Dashboard9E4231ED"},
        "AWS::IAM::Role": {"NotifierDFD80165"},
    },
}


@pytest.mark.parametrize("stack", sorted(DEPLOYED))
def test_deployed_resources_keep_their_logical_ids(dev_app: SynthesizedApp, stack: str) -> None:
    # Given the stack as it synthesizes now
    template = dev_app.templates[stack]
    # Then every stateful or named resource has the logical ID it was deployed with
    found = {
        kind: set(template.find_resources(kind))
        for kind in KEPT_TYPES
        if template.find_resources(kind)
    }
    assert found == DEPLOYED[stack]


def test_the_pipeline_stacks_cross_stack_exports_keep_their_names(dev_app: SynthesizedApp) -> None:
    # The monitoring stack imports these: a renamed export would block the pipeline's update
    exports = dev_app.pipeline.to_json().get("Outputs", {})
    assert {
        "ExportsOutputRefPrepareTrainingFunctionA05E255E7E0F87E5",
        "ExportsOutputRefBatchInferenceRetrainingGateFunction89F684E9253623B7",
        "ExportsOutputRefTrainingStateMachine29B8911DBED1489C",
        "ExportsOutputFnGetAttBatchInferenceRetrainingGateFailures3B29EB9AQueueName1D8B6365",
    } <= set(exports)


def test_unique_id_is_cdks_rule() -> None:
    # As CDK allocates them (the IDs above come from CDK itself)
    assert unique_id(["Artifacts", "Bucket", "Resource"]) == "ArtifactsBucket88671897"
    assert unique_id(["DataKey", "Key", "Resource"]) == "DataKey2A0DE9E6"
    assert unique_id(["Bus", "Resource"]) == "BusEA82B648"
    assert unique_id(["SklearnImages"]) == "SklearnImages"
    # Default is hidden from the path, Resource only from the readable part
    assert unique_id(["Default", "Bus", "Resource"]) == "BusEA82B648"


def test_a_moved_path_gets_the_id_of_where_it_was() -> None:
    moves = [Moved(("DriftRetraining",), ("BatchInference",)), Moved(("Training",), ())]
    moved = ["DriftRetraining", "RetrainingCooldown", "Resource"]
    assert legacy_id(moved, moves) == "BatchInferenceRetrainingCooldownA6A50D78"
    assert legacy_id(["Training", "TrainingLogs", "Resource"], moves) == "TrainingLogs764E0E32"
    assert legacy_id(["Artifacts", "Bucket", "Resource"], moves) is None
