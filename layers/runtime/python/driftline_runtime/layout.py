"""Where the pipeline's files live: one place for every writer and reader.

The curated bucket holds what ingestion writes (training, inference and the CLI read it);
the artifacts bucket holds job inputs and models; the predictions bucket holds batch
predictions and drift reports, one folder per inference run.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

# Key prefixes of the curated bucket (IAM grants are scoped to them).
CURATED_PREFIXES = ("curated", "manifests", "reports")
# Key prefixes of the artifacts bucket (IAM grants are scoped to them): training
# channels, model artefacts with their baselines, batch transform input and output.
TRAINING_PREFIX = "training"
MODELS_PREFIX = "models"
INFERENCE_PREFIX = "inference"


def data_key(dataset: str, version: str, arrived: date) -> str:
    return f"curated/{dataset}/ingest_date={arrived:%Y-%m-%d}/{version}.parquet"


def manifest_key(dataset: str, version: str) -> str:
    return f"manifests/{dataset}/{version}.json"


def manifest_prefix(dataset: str) -> str:
    """Curated bucket: the manifests of every validated version of ``dataset``."""
    return f"manifests/{dataset}/"


def report_key(dataset: str, version: str) -> str:
    return f"reports/{dataset}/{version}.json"


# Key prefixes of the predictions bucket (IAM grants are scoped to them).
PREDICTIONS_PREFIX = "predictions"
DRIFT_PREFIX = "drift"
LABELS_PREFIX = "labels"
QUALITY_PREFIX = "quality"


def labels_prefix(dataset: str) -> str:
    """Predictions bucket: the labels of an inference dataset, one folder per labels file."""
    return f"{LABELS_PREFIX}/{dataset}/"


def labels_accepted_key(dataset: str, labels_version: str) -> str:
    """A labels file's accepted labels (id, label): a page of the dataset's ledger."""
    return f"{labels_prefix(dataset)}{labels_version}/accepted.parquet"


def labels_report_key(dataset: str, labels_version: str) -> str:
    return f"{labels_prefix(dataset)}{labels_version}/report.json"


def feedback_manifest_key(dataset: str, labels_version: str) -> str:
    """The lineage of the training file a labels file fed back."""
    return f"{labels_prefix(dataset)}{labels_version}/feedback.json"


def quality_key(dataset: str, version: str, run: str) -> str:
    """A scored run's measured quality on its labelled rows so far."""
    return f"{QUALITY_PREFIX}/{dataset}/{version}/{run}.json"


# What real-time endpoints capture: capture/<dataset>/<endpoint>/<variant>/yyyy/mm/dd/HH/.
CAPTURE_PREFIX = "capture"


def run_id(version: str, started: datetime, execution: str) -> str:
    """``<version[:8]>-<yyyymmddHHMMSS>-<execution digest>``: one run of a state machine
    on a dataset version, short enough for SageMaker job names.

    Two runs on the same version can start in the same second (a drop's own run and one
    started by hand); SageMaker refuses a second job of a name and the runs would share
    S3 prefixes, so six hex digits of the execution's ARN tell them apart. The same
    execution, prepared again after a retry, keeps its id.
    """
    digest = hashlib.sha256(execution.encode()).hexdigest()[:6]
    return f"{version[:8]}-{started:%Y%m%d%H%M%S}-{digest}"


def training_channel_prefix(dataset: str, job: str, channel: str) -> str:
    """Artifacts bucket: one channel of one training job (``part-0.csv``)."""
    return f"{TRAINING_PREFIX}/{dataset}/{job}/{channel}/"


def training_manifest_key(dataset: str, job: str) -> str:
    """Artifacts bucket: a training run's manifest (its window, holdout and champion)."""
    return f"{TRAINING_PREFIX}/{dataset}/{job}/manifest.json"


def model_output_prefix(dataset: str) -> str:
    """Artifacts bucket: where SageMaker writes ``<job>/output/model.tar.gz``."""
    return f"{MODELS_PREFIX}/{dataset}/"


def inference_input_prefix(dataset: str, run: str) -> str:
    """Artifacts bucket: the transform input parts of one run (``part-NNNN.csv``)."""
    return f"{INFERENCE_PREFIX}/{dataset}/{run}/input/"


def inference_results_prefix(dataset: str, run: str) -> str:
    """Artifacts bucket: the Distributed Map's results of one run (its ResultWriter's
    ``<map run>/manifest.json`` and ``SUCCEEDED_n.json`` / ``FAILED_n.json``)."""
    return f"{INFERENCE_PREFIX}/{dataset}/{run}/results/"


def inference_output_prefix(dataset: str, run: str) -> str:
    """Artifacts bucket: the transform outputs of one run (``part-NNNN.csv.out``)."""
    return f"{INFERENCE_PREFIX}/{dataset}/{run}/output/"


def inference_part_key(dataset: str, run: str, index: int) -> str:
    # Fixed width: a part's key is never the prefix of another's (S3Prefix inputs).
    return f"{inference_input_prefix(dataset, run)}part-{index:04d}.csv"


def predictions_key(dataset: str, version: str, run: str) -> str:
    return f"{PREDICTIONS_PREFIX}/{dataset}/{version}/{run}/predictions.parquet"


def predictions_manifest_key(dataset: str, version: str, run: str) -> str:
    return f"{PREDICTIONS_PREFIX}/{dataset}/{version}/{run}/manifest.json"


def drift_report_key(dataset: str, version: str, run: str) -> str:
    return f"{DRIFT_PREFIX}/{dataset}/{version}/{run}.json"


def model_group(prefix: str, dataset: str) -> str:
    """The model package group of the models trained on ``dataset``."""
    return f"{prefix}-{dataset}"


def capture_batch_key(dataset: str, endpoint: str, window_end: datetime) -> str:
    """Raw key of the captured rows of ``endpoint`` up to ``window_end``, dropped as a
    batch of the inference dataset ``dataset``."""
    return f"{dataset}/capture-{window_end:%Y%m%dT%H%M%SZ}-{endpoint}.csv"
