"""Every name the pipeline's parts must agree on, spelled once.

Infrastructure (``infra/``), functions, the CLI and the training code all read their
names from here: event sources, stack output keys, resource-name prefixes, business
metric names, training metric names, baseline vocabulary and the local cloud's routes.
An event's detail-type is the class name of its model in ``driftline_runtime.events``
(one model per detail-type), so it is not repeated here.

This module imports nothing but the standard library, because it is shipped twice: in
the runtime layer (functions, and through the layer's path the CDK app and the CLI) and
inside the SageMaker source tarball (``infra.constructs.sagemaker.source_tarball``),
where ``training/`` runs in the framework container without the layer. The tarball
bundles this file as ``driftline_runtime/names.py`` so training imports it by the same
name as everything else; a second, hand-kept copy of the metric names would drift.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, Literal

PROJECT: Final = "driftline"


def stage_prefix(stage: str) -> str:
    """``driftline-<stage>``: the start of every resource name of a stage."""
    return f"{PROJECT}-{stage}"


# -- stacks and their outputs -------------------------------------------------------------
DATA_STACK: Final = "data"
PIPELINE_STACK: Final = "pipeline"
MONITORING_STACK: Final = "monitoring"


def stack_name(stage: str, lifecycle: str) -> str:
    """``driftline-<stage>-<lifecycle>``: one stack per lifecycle (data, pipeline, monitoring)."""
    return f"{stage_prefix(stage)}-{lifecycle}"


# The data stack's outputs.
RAW_BUCKET_OUTPUT: Final = "RawBucketName"
CURATED_BUCKET_OUTPUT: Final = "CuratedBucketName"
QUARANTINE_BUCKET_OUTPUT: Final = "QuarantineBucketName"
LINEAGE_TABLE_OUTPUT: Final = "LineageTableName"
EVENT_BUS_OUTPUT: Final = "EventBusName"
INGEST_FUNCTION_OUTPUT: Final = "IngestFunctionName"
INGEST_FAILURES_QUEUE_OUTPUT: Final = "IngestFailuresQueueUrl"
VALIDATION_STATE_MACHINE_OUTPUT: Final = "ValidationStateMachineArn"
# The pipeline stack's outputs.
TRAINING_STATE_MACHINE_OUTPUT: Final = "TrainingStateMachineArn"
BATCH_INFERENCE_STATE_MACHINE_OUTPUT: Final = "BatchInferenceStateMachineArn"
ARTIFACTS_BUCKET_OUTPUT: Final = "ArtifactsBucketName"
PREDICTIONS_BUCKET_OUTPUT: Final = "PredictionsBucketName"
COOLDOWN_TABLE_OUTPUT: Final = "CooldownTableName"
MODEL_PACKAGE_GROUP_PREFIX_OUTPUT: Final = "ModelPackageGroupPrefix"
DEPLOYMENT_STATE_MACHINE_OUTPUT: Final = "DeploymentStateMachineArn"
# The monitoring stack's outputs.
NOTIFICATION_TOPIC_OUTPUT: Final = "NotificationTopicArn"
DASHBOARD_OUTPUT: Final = "DashboardName"

# -- resource names -----------------------------------------------------------------------
# SageMaker job and model names: ``dl-<stage>-...`` (see sagemaker_name).
SAGEMAKER_NAME_LIMIT: Final = 63
STATE_MACHINE_LOGS_PREFIX: Final = "/aws/vendedlogs/states/"
FUNCTION_LOGS_PREFIX: Final = "/aws/lambda/"
# Where a model's serving code travels: ``code/`` inside model.tar.gz, which SageMaker
# extracts to /opt/ml/model (SAGEMAKER_SUBMIT_DIRECTORY points here).
MODEL_CODE_FOLDER: Final = "code"
MODEL_CODE_DIRECTORY: Final = "/opt/ml/model/code"
# SageMaker's own log groups: <prefix>TrainingJobs, TransformJobs, ProcessingJobs, ...
SAGEMAKER_LOGS_PREFIX: Final = "/aws/sagemaker/"
PROJECT_TAG: Final = "project"
STAGE_TAG: Final = "stage"
# State machines, named ``<stage prefix>-<name>``.
TRAINING_STATE_MACHINE: Final = "training"
BATCH_INFERENCE_STATE_MACHINE: Final = "batch-inference"
# Files too large for the ingest function, validated by a SageMaker Processing job.
VALIDATION_STATE_MACHINE: Final = "validation"
DEPLOYMENT_STATE_MACHINE: Final = "deployment"
# The one production variant of every endpoint: deployments keep its name, so the
# alarms on its metrics (dimensions EndpointName, VariantName) watch every model.
ENDPOINT_VARIANT: Final = "champion"
# Per endpoint, the alarms that roll a deployment back (endpoint_alarm_name).
ENDPOINT_ALARMS: Final = ("server-errors", "model-latency")
# ...and where labels measure the endpoint's models (labels of an inference dataset they
# score), an alarm on the measured quality of the model being deployed, made by each
# deployment for its own model (quality_alarm_name).
ENDPOINT_QUALITY_ALARM: Final = "model-quality"


def function_name(stage: str, source: str) -> str:
    """The deployed name of the function in ``functions/<source>/``."""
    return f"{stage_prefix(stage)}-{source.replace('_', '-')}"


# A batch-inference execution that rescores a batch for a newly approved model (its
# drift asks for no retraining: the batch's first run asked already).
RESCORE_EXECUTION_PREFIX: Final = "rescore-"


def state_machine_name(stage: str, name: str) -> str:
    return f"{stage_prefix(stage)}-{name}"


def job_prefix(stage: str) -> str:
    """``dl-<stage>-``: how every SageMaker job and model of a stage is named.

    A state machine's IAM grants are scoped to it, so one stage cannot create, describe or
    stop another's jobs and models. Stage names contain no hyphen, so no stage's prefix
    is the start of another's (``dl-dev-`` against ``dl-devx-``).
    """
    return f"dl-{stage}-"


def sagemaker_name(stage: str, dataset: str, suffix: str, *, reserve: int = 0) -> str:
    """``dl-<stage>-<dataset>-<suffix>`` within SageMaker's 63 characters.

    ``reserve`` keeps room for what the caller appends (a transform job's ``-<part>``).
    A dataset name too long for the rest is cut and given four hex digits of its hash,
    so two long names that share a start still name different jobs.
    """
    room = SAGEMAKER_NAME_LIMIT - reserve - len(job_prefix(stage)) - len(suffix) - 1
    if room < 6:
        raise ValueError(f"no room for a dataset name in a SageMaker name ending {suffix!r}")
    if len(dataset) > room:
        digest = hashlib.sha256(dataset.encode()).hexdigest()[:4]
        dataset = f"{dataset[: room - 5].rstrip('-')}-{digest}"
    return f"{job_prefix(stage)}{dataset}-{suffix}"


def validation_job_name(stage: str, dataset: str, object_id: str) -> str:
    """The Processing job that validates one raw object (``object_id``: 16 hex digits
    naming the object and its S3 version)."""
    return sagemaker_name(stage, dataset, f"v-{object_id[:16]}")


def endpoint_name(stage: str, dataset: str) -> str:
    """``dl-<stage>-<dataset>-live``: a training dataset's real-time endpoint."""
    return sagemaker_name(stage, dataset, "live")


def endpoint_alarm_name(stage: str, dataset: str, alarm: str) -> str:
    """``driftline-<stage>-<dataset>-endpoint-<alarm>`` (one of ENDPOINT_ALARMS)."""
    return f"{stage_prefix(stage)}-{dataset}-endpoint-{alarm}"


def quality_alarm_prefix(stage: str, dataset: str) -> str:
    """``driftline-<stage>-<dataset>-endpoint-model-quality-``: how every deployment's
    model-quality alarm of the dataset's endpoint is named."""
    return f"{endpoint_alarm_name(stage, dataset, ENDPOINT_QUALITY_ALARM)}-"


def quality_alarm_name(stage: str, dataset: str, model_version: str, deployment: str) -> str:
    """The model-quality alarm one deployment makes for the model it rolls out:
    ``<quality_alarm_prefix>v<model version>-<deployment>`` (a digest of its execution)."""
    return f"{quality_alarm_prefix(stage, dataset)}v{model_version}-{deployment}"


# -- events -------------------------------------------------------------------------------
# Every event's source is ``driftline.<component>``; its detail-type is its model's name.
INGEST_SOURCE: Final = f"{PROJECT}.ingest"
TRAINING_SOURCE: Final = f"{PROJECT}.training"
INFERENCE_SOURCE: Final = f"{PROJECT}.inference"
MONITOR_SOURCE: Final = f"{PROJECT}.monitor"
RETRAINING_SOURCE: Final = f"{PROJECT}.retraining"
QUALITY_SOURCE: Final = f"{PROJECT}.quality"
DEPLOYMENT_SOURCE: Final = f"{PROJECT}.deployment"

# -- business metrics (CloudWatch embedded metric format) ---------------------------------
METRICS_NAMESPACE: Final = PROJECT
FILES_INGESTED_METRIC: Final = "FilesIngested"
FILES_REJECTED_METRIC: Final = "FilesRejected"
FILES_DUPLICATE_METRIC: Final = "FilesDuplicate"
FILES_ROUTED_METRIC: Final = "FilesRoutedToProcessing"
ROWS_INGESTED_METRIC: Final = "RowsIngested"
ROWS_REJECTED_METRIC: Final = "RowsRejected"
MODEL_AUC_METRIC: Final = "ModelAuc"
MODEL_AVERAGE_PRECISION_METRIC: Final = "ModelAveragePrecision"
TRAINING_DURATION_METRIC: Final = "TrainingDuration"
DRIFT_SCORE_METRIC: Final = "DriftScore"
DRIFT_DETECTED_METRIC: Final = "DriftDetected"
# A deployed model's quality measured on labelled scored rows (per dataset).
MODEL_QUALITY_AUC_METRIC: Final = "ModelQualityAuc"
MODEL_QUALITY_AVERAGE_PRECISION_METRIC: Final = "ModelQualityAveragePrecision"
MODEL_QUALITY_LOG_LOSS_METRIC: Final = "ModelQualityLogLoss"
MODEL_QUALITY_ACCURACY_METRIC: Final = "ModelQualityAccuracy"
MODEL_QUALITY_MACRO_F1_METRIC: Final = "ModelQualityMacroF1"
MODEL_QUALITY_RMSE_METRIC: Final = "ModelQualityRmse"
MODEL_QUALITY_MAE_METRIC: Final = "ModelQualityMae"
MODEL_QUALITY_R2_METRIC: Final = "ModelQualityR2"
# Whatever the dataset's primary metric is: the one series every problem type has.
MODEL_QUALITY_PRIMARY_METRIC: Final = "ModelQualityPrimaryMetric"
MODEL_QUALITY_DEGRADED_METRIC: Final = "ModelQualityDegraded"
LABELLED_ROWS_METRIC: Final = "LabelledRows"
# Their dimensions (the dashboard's SEARCH expressions name them)...
STAGE_DIMENSION: Final = "stage"
DATASET_DIMENSION: Final = "dataset"
FEATURE_DIMENSION: Final = "feature"
# ModelQualityDegraded is also recorded per measured model (its package group and
# version), whatever dataset it scored: a deployment's rollback alarm watches its model's.
MODEL_GROUP_DIMENSION: Final = "model_group"
MODEL_VERSION_DIMENSION: Final = "model_version"
# The function that records the quality metrics (their Powertools ``service`` dimension).
MODEL_QUALITY_SERVICE: Final = "join_labels"
# ...and the properties beside a model's metrics (the dashboard's Logs Insights query).
MODEL_VERSION_PROPERTY: Final = "model_version"
APPROVAL_PROPERTY: Final = "approval"
TRAINING_JOB_PROPERTY: Final = "training_job"

# -- training metrics: what train.py prints and the training job reports ------------------
TRAIN_SPLIT: Final = "train"
VALIDATION_SPLIT: Final = "validation"
HELD_OUT_SPLIT: Final = "test"
# Also the training job's channels, in this order.
SPLITS: Final = (TRAIN_SPLIT, VALIDATION_SPLIT, HELD_OUT_SPLIT)
AUC_MEASURE: Final = "auc"  # ROC AUC
AVERAGE_PRECISION_MEASURE: Final = "average_precision"  # area under the PR curve
LOG_LOSS_MEASURE: Final = "log_loss"  # cross-entropy of the predicted probabilities
ACCURACY_MEASURE: Final = "accuracy"  # binary: at a 0.5 threshold; multiclass: top class
MACRO_F1_MEASURE: Final = "macro_f1"  # the mean of the classes' F1 scores
RMSE_MEASURE: Final = "rmse"  # root mean squared error, in the target's units
MAE_MEASURE: Final = "mae"  # mean absolute error, in the target's units
R2_MEASURE: Final = "r2"  # coefficient of determination (1 - SSE / SST)
ROWS_MEASURE: Final = "rows"  # a count
MEASURES: Final = (
    AUC_MEASURE,
    AVERAGE_PRECISION_MEASURE,
    LOG_LOSS_MEASURE,
    ACCURACY_MEASURE,
    MACRO_F1_MEASURE,
    RMSE_MEASURE,
    MAE_MEASURE,
    R2_MEASURE,
    ROWS_MEASURE,
)
# Whether a higher or a lower value is better, per measure (the evaluation gate's sense).
MEASURE_DIRECTIONS: Final[dict[str, Literal["higher", "lower"]]] = {
    AUC_MEASURE: "higher",
    AVERAGE_PRECISION_MEASURE: "higher",
    LOG_LOSS_MEASURE: "lower",
    ACCURACY_MEASURE: "higher",
    MACRO_F1_MEASURE: "higher",
    RMSE_MEASURE: "lower",
    MAE_MEASURE: "lower",
    R2_MEASURE: "higher",
}
# The measures a training job reports for each problem type (rows besides), in the
# order reports show them.
PROBLEM_MEASURES: Final[dict[str, tuple[str, ...]]] = {
    "binary": (AUC_MEASURE, AVERAGE_PRECISION_MEASURE, LOG_LOSS_MEASURE, ACCURACY_MEASURE),
    "multiclass": (MACRO_F1_MEASURE, LOG_LOSS_MEASURE, ACCURACY_MEASURE),
    "regression": (RMSE_MEASURE, MAE_MEASURE, R2_MEASURE),
}


def training_metric(split: str, measure: str) -> str:
    """``<split>:<measure>``, the name a training metric has everywhere (``test:auc``)."""
    if split not in SPLITS or measure not in MEASURES:
        raise ValueError(f"no training metric {split}:{measure}")
    return f"{split}:{measure}"


TRAINING_METRICS: Final = tuple(training_metric(s, m) for s in SPLITS for m in MEASURES)

# The champion, scored by the challenger's training job on the challenger's own held-out
# split (a "champion" input channel carries its model.tar.gz): ``champion:<measure>``.
# The gate compares these with ``test:<measure>``, a paired comparison on the same rows.
CHAMPION_CHANNEL: Final = "champion"


def champion_metric(measure: str) -> str:
    """``champion:<measure>``: the champion's measure on the challenger's test split."""
    if measure not in MEASURES:
        raise ValueError(f"no champion metric {measure}")
    return f"{CHAMPION_CHANNEL}:{measure}"


CHAMPION_METRICS: Final = tuple(champion_metric(m) for m in MEASURES)
# A decimal number as a training job prints a metric (and as Python's float() reads it).
METRIC_NUMBER: Final = r"[-+]?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"


def metric_regex(name: str) -> str:
    """The regex reading one metric line ``<name>=<value>;``: its value is the first group."""
    return f"{re.escape(name)}=({METRIC_NUMBER});"


def metric_definitions(problem: str | None = None) -> list[dict[str, str]]:
    """The training metrics as CreateTrainingJob's MetricDefinitions take them, the
    champion's included; for ``problem``, only its measures and the row counts. The
    prepare step builds them here rather than carry them in its environment (all of
    them passed Lambda's 4 KB limit), and SageMaker takes at most 40 per job."""
    wanted = {*PROBLEM_MEASURES[problem], ROWS_MEASURE} if problem else set(MEASURES)
    return [
        {"Name": name, "Regex": metric_regex(name)}
        for name in TRAINING_METRICS + CHAMPION_METRICS
        if name.split(":", 1)[1] in wanted
    ]


# What the evaluation gate compares (higher is better) and reports show first.
PRIMARY_METRIC: Final = training_metric(HELD_OUT_SPLIT, AUC_MEASURE)
HELD_OUT_ROWS_METRIC: Final = training_metric(HELD_OUT_SPLIT, ROWS_MEASURE)
# The held-out metrics the dashboard plots per model version, by their metric names.
MODEL_METRICS: Final = {
    PRIMARY_METRIC: MODEL_AUC_METRIC,
    training_metric(HELD_OUT_SPLIT, AVERAGE_PRECISION_MEASURE): MODEL_AVERAGE_PRECISION_METRIC,
}

# The measured quality metrics, by measure (see driftline_runtime.quality).
MODEL_QUALITY_METRICS: Final = {
    AUC_MEASURE: MODEL_QUALITY_AUC_METRIC,
    AVERAGE_PRECISION_MEASURE: MODEL_QUALITY_AVERAGE_PRECISION_METRIC,
    LOG_LOSS_MEASURE: MODEL_QUALITY_LOG_LOSS_METRIC,
    ACCURACY_MEASURE: MODEL_QUALITY_ACCURACY_METRIC,
    MACRO_F1_MEASURE: MODEL_QUALITY_MACRO_F1_METRIC,
    RMSE_MEASURE: MODEL_QUALITY_RMSE_METRIC,
    MAE_MEASURE: MODEL_QUALITY_MAE_METRIC,
    R2_MEASURE: MODEL_QUALITY_R2_METRIC,
}

# -- the model registry's package metadata ------------------------------------------------
# What SageMaker puts on the default bus when a package is created or its approval changes.
MODEL_PACKAGE_STATE_CHANGE: Final = "SageMaker Model Package State Change"
METRIC_METADATA_PREFIX: Final = "metric:"
# The S3 URI of the package's training baseline.
BASELINE_METADATA_KEY: Final = "baseline"
# The dataset's problem type and the metric the gate judged the model by (test:auc).
PROBLEM_METADATA_KEY: Final = "problem"
PRIMARY_METRIC_METADATA_KEY: Final = "primary_metric"
# The paired evaluation: the holdout's identity (a digest of its ids), its size and how
# it was drawn, the champion it was compared with and the champion's metric on it.
HOLDOUT_METADATA_KEY: Final = "holdout"
HOLDOUT_ROWS_METADATA_KEY: Final = "holdout_rows"
HOLDOUT_SPLIT_METADATA_KEY: Final = "holdout_split"
CHAMPION_VERSION_METADATA_KEY: Final = "champion_version"
CHAMPION_METRIC_METADATA_KEY: Final = "champion_metric"
# The training window: the versions the model learned from, and the run's manifest.
TRAINING_VERSIONS_METADATA_KEY: Final = "training_versions"
TRAINING_MANIFEST_METADATA_KEY: Final = "training_manifest"
# The model the training run created (the package's serving model), and the gate's
# decision when the package was registered: a package the gate approved is deployed by
# its ModelRegistered event, one approved later by hand by the registry's own event.
TRAINING_JOB_METADATA_KEY: Final = "training_job"
GATE_DECISION_METADATA_KEY: Final = "gate_decision"

# -- the training baseline (baseline.json) ------------------------------------------------
BASELINE_FILE: Final = "baseline.json"
BASELINE_SCHEMA_VERSION: Final = 2
# A numeric profile keeps its non-null training values, or this many quantiles of them
# (the drift monitor's KS test compares a batch with them).
BASELINE_SKETCH_SIZE: Final = 1_000
# Feature kinds, as training infers them from the train split.
NUMERIC: Final = "numeric"
BOOLEAN: Final = "boolean"
CATEGORICAL: Final = "categorical"
# Categories a baseline does not list, and missing values.
OTHER_CATEGORY: Final = "__other__"
NULL_CATEGORY: Final = "__null__"
# The name the prediction's drift carries beside the features.
PREDICTION_FEATURE: Final = "__prediction__"
# The predictions table's column of predicted probabilities (binary)...
PROBABILITY_COLUMN: Final = "probability"
# ...of the predicted value (regression) or class (multiclass, beside one probability
# column per class: PROBABILITY_COLUMN + ":" + the class's label).
PREDICTION_COLUMN: Final = "prediction"


def prediction_columns(problem: str, classes: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The columns a model's predictions have after the id, in the serving CSV's order."""
    if problem == "binary":
        return [PROBABILITY_COLUMN]
    if problem == "regression":
        return [PREDICTION_COLUMN]
    return [PREDICTION_COLUMN, *(f"{PROBABILITY_COLUMN}:{label}" for label in classes)]


def drift_column(problem: str) -> str:
    """The predictions column whose distribution the drift monitor compares."""
    return PROBABILITY_COLUMN if problem == "binary" else PREDICTION_COLUMN


# -- the local cloud's gateway routes -----------------------------------------------------
FAULTS_ROUTE: Final = f"/_{PROJECT}/faults"
