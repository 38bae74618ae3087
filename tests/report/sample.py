"""A :class:`ReportData` made the way the pipeline makes one, with no cloud.

Every number comes from the project's own code: sample transactions from
``driftline.samples``, the data contract's verdicts from ``driftline_runtime.validation``,
two models trained by ``training/train.py`` (run as SageMaker runs it), predictions
from ``training/inference.py``'s handlers, the evaluation gate's decisions from
``driftline_runtime.approval`` and drift from ``driftline_runtime.drift``. Only names,
ARNs and times are made up, in the shapes the pipeline gives them.

``python -m tests.report.sample OUT.json`` writes it for ``driftline report --from-json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from driftline_contracts.transactions import DATASETS
from driftline_runtime.approval import ApprovalPolicy, Champion, decide
from driftline_runtime.drift import DriftReport, drift_report
from driftline_runtime.readers import read_table
from driftline_runtime.reasons import texts
from driftline_runtime.validation import validate

from driftline.report import DriftReportDocument, LineageChain, LineageStep, ReportData
from driftline.samples import generate_transactions, random_rows, write_table
from training import inference

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ROOT / "training"
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ACCOUNT = "000000000000"
REGION = "us-east-1"
GROUP = "driftline-dev-transactions"
RAW = "driftline-dev-raw"
CURATED = "driftline-dev-curated"
ARTIFACTS = "driftline-dev-artifacts"
HYPERPARAMETERS = {
    "target_column": "is_fraud",
    "id_column": "transaction_id",
    "exclude_columns": '["card_id", "customer_email", "event_time", "merchant_id"]',
    "max_iter": "60",
    "max_depth": "3",
    "random_state": "7",
    "min_rows": "200",
}
SPECS = {spec.name: spec for spec in DATASETS}


@dataclass(frozen=True)
class TrainedModel:
    model_dir: Path
    metrics: dict[str, float]
    baseline: dict[str, Any]


def train(jobs: list[tuple[pa.Table, Path]]) -> list[TrainedModel]:
    """``python train.py`` over a 60/20/20 time split, as the container runs it.

    The jobs run side by side, one OpenMP thread each, so two jobs share two cores
    without fighting over them.
    """
    running = [(_start_job(table, root), root) for table, root in jobs]
    models = []
    for process, root in running:
        process.wait(timeout=300)
        if process.returncode != 0:
            log = (root / "train.log").read_text(encoding="utf-8")
            raise RuntimeError(f"train.py failed:\n{log[-2000:]}")
        model_dir = root / "model"
        evaluation = json.loads((model_dir / "evaluation.json").read_text())
        baseline = json.loads((model_dir / "baseline.json").read_text())
        models.append(TrainedModel(model_dir, dict(evaluation["metrics"]), baseline))
    return models


def _start_job(table: pa.Table, root: Path) -> subprocess.Popen[bytes]:
    rows = table.num_rows
    cuts = {"train": (0, int(rows * 0.6)), "validation": (int(rows * 0.6), int(rows * 0.8))}
    cuts["test"] = (int(rows * 0.8), rows)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    for channel, (start, stop) in cuts.items():
        folder = root / "input" / "data" / channel
        write_table(table.slice(start, stop - start), folder / "part-0000.csv")
        environment[f"SM_CHANNEL_{channel.upper()}"] = str(folder)
    environment.update(
        SAGEMAKER_BASE_DIR=str(root),
        SM_MODEL_DIR=str(root / "model"),
        SM_OUTPUT_DATA_DIR=str(root / "output" / "data"),
        SM_OUTPUT_DIR=str(root / "output"),
        SM_HPS=json.dumps(HYPERPARAMETERS),
        OMP_NUM_THREADS="1",
    )
    root.mkdir(parents=True, exist_ok=True)
    with (root / "train.log").open("w", encoding="utf-8") as log:
        return subprocess.Popen(
            [sys.executable, "train.py"],
            cwd=TRAINING,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def score(model_dir: Path, table: pa.Table, baseline: dict[str, Any]) -> DriftReport:
    """The model's predictions over ``table`` and the batch's drift against the baseline."""
    model = inference.model_fn(str(model_dir))
    prediction = inference.predict_fn(inference.Records(frame=table.to_pandas()), model)
    return drift_report(baseline, table, prediction.probabilities)


def _iso(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def _version(number: int) -> str:
    return f"{number:04x}{'a3f2d89373014dfb'[4:]}"


def _validated(name: str, path: Path, minutes: float, number: int) -> dict[str, Any]:
    """A status ``datasets`` entry with the contract's real verdict on the file."""
    spec = SPECS[name]
    result = validate(read_table(path.read_bytes(), path.name, spec), spec, START)
    report = result.report
    accepted = report.outcome == "accepted"
    version = _version(number)
    key = f"{name}/{(START + timedelta(minutes=minutes)):%Y%m%dT%H%M%S%fZ}-{path.name}"
    return {
        "dataset": name,
        "kind": spec.kind,
        "version": version,
        "state": "validated" if accepted else "rejected",
        "rows": report.valid_rows if accepted else report.rows,
        "source_key": key,
        "report_key": None if accepted else f"reports/{name}/{version}.json",
        "reasons": texts(report.reasons),
        "rejection_reasons": [reason.model_dump(mode="json") for reason in report.reasons],
        "created_at": _iso(minutes),
    }


def _package(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{version}"


def _execution(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:driftline-dev-training:{name}"


def build(workdir: Path) -> ReportData:
    """The whole story: train v1, score a clean and a drifted batch, retrain as v2."""
    files = workdir / "files"
    # Training rows and the clean batch are random rows of large samples, as rows drawn
    # like the training data are (driftline.samples.random_rows says why).
    training = random_rows(generate_transactions(100_000, seed=7, end=START), 3000, seed=7)
    population = generate_transactions(100_000, seed=8, end=START, labelled=False)
    clean = random_rows(population, 2000, seed=8)
    drifted = generate_transactions(2000, seed=9, drift=1.0, end=START, labelled=False)
    retraining = generate_transactions(3000, seed=10, drift=1.0, end=START)
    paths = {
        "transactions.csv": training,
        "scoring.csv": clean,
        "scoring-drifted.csv": drifted,
        "transactions-drifted.csv": retraining,
    }
    for name, table in paths.items():
        write_table(table, files / name)
    datasets = [
        _validated("transactions", files / "transactions.csv", 0.3, 1),
        _validated("scoring", files / "scoring.csv", 1.0, 2),
        _validated("transactions", ROOT / "samples" / "transactions-bad.csv", 1.2, 3),
        _validated("scoring", files / "scoring-drifted.csv", 2.0, 4),
        _validated("transactions", files / "transactions-drifted.csv", 2.6, 5),
    ]

    v1, v2 = train([(training, workdir / "job-v1"), (retraining, workdir / "job-v2")])
    policy = ApprovalPolicy()
    first = decide(policy, v1.metrics, None)
    second = decide(
        policy, v2.metrics, Champion(model_package_arn=_package(1), metric=first.metric)
    )
    models = [
        {
            "group": GROUP,
            "version": number,
            "approval": decision.status,
            "metrics": model.metrics,
            "dataset": "transactions",
            "dataset_version": dataset["version"],
            "training_job": f"driftline-dev-transactions-{number}",
            "reason": decision.reason,
            "arn": _package(number),
            "created": _iso(minutes),
        }
        for number, model, decision, dataset, minutes in (
            (1, v1, first, datasets[0], 0.5),
            (2, v2, second, datasets[4], 3.0),
        )
    ]

    reports = [
        DriftReportDocument(
            dataset="scoring",
            version=datasets[index]["version"],
            time=START + timedelta(minutes=minutes),
            model_package_arn=_package(1),
            report_uri=f"s3://{ARTIFACTS}/drift/scoring/{datasets[index]['version']}.json",
            report=score(v1.model_dir, table, v1.baseline),
        )
        for index, table, minutes in ((1, clean, 1.1), (3, drifted, 2.1))
    ]
    runs = [
        {
            "dataset": document.dataset,
            "version": document.version,
            "status": "Completed",
            "model_package_arn": document.model_package_arn,
            "predictions_uri": f"s3://{ARTIFACTS}/predictions/scoring/{document.version}/",
            "rows": document.report.rows,
            "started": (document.time - timedelta(seconds=4)).isoformat(),
            "stopped": document.time.isoformat(),
            "drifted": document.report.drifted,
            "drift_outcome": document.report.outcome,
        }
        for document in reports
    ]
    events = [
        {
            "dataset": document.dataset,
            "version": document.version,
            "time": document.time.isoformat(),
            "features": {
                drift.feature: drift.score
                for drift in [*document.report.features, document.report.prediction]
                if drift is not None
            },
            "drifted_features": document.report.drifted_features,
            "model_package_arn": document.model_package_arn,
            "report_uri": document.report_uri,
        }
        for document in reports
        if document.report.drifted
    ]
    executions = [
        {
            "state_machine": "training",
            "name": name,
            "status": "SUCCEEDED",
            "started": _iso(start),
            "stopped": _iso(stop),
        }
        for name, start, stop in (("v1", 0.35, 0.5), ("drift-retrain", 2.65, 3.0))
    ] + [
        {
            "state_machine": "inference",
            "name": f"scoring-{document.version[:8]}",
            "status": "SUCCEEDED",
            "started": (document.time - timedelta(seconds=6)).isoformat(),
            "stopped": document.time.isoformat(),
        }
        for document in reports
    ]
    status = {
        "datasets": datasets,
        "executions": sorted(executions, key=lambda execution: execution["started"]),
        "models": models,
        "inference_runs": runs,
        "drift_events": events,
        "retrainings": [
            {
                "dataset": "transactions",
                "trigger_dataset": "scoring",
                "trigger_version": reports[1].version,
                "execution": _execution("drift-retrain"),
                "status": "SUCCEEDED",
                "started": _iso(2.65),
                "stopped": _iso(3.0),
            }
        ],
        "suppressed_retrainings": [
            {
                "dataset": "transactions",
                "time": _iso(3.4),
                "trigger_dataset": "scoring",
                "trigger_version": reports[1].version,
                "until": _iso(62.65),
            }
        ],
    }
    lineage = [
        LineageChain(
            title="From a dropped training file to model v1",
            steps=[
                LineageStep(
                    kind="raw object",
                    name="transactions.csv",
                    uri=f"s3://{RAW}/{datasets[0]['source_key']}",
                ),
                LineageStep(
                    kind="dataset version",
                    name=f"transactions {datasets[0]['version'][:8]}",
                    uri=f"s3://{CURATED}/transactions/{datasets[0]['version']}/",
                    detail=f"{datasets[0]['rows']} rows validated",
                ),
                LineageStep(kind="training job", name="driftline-dev-transactions-1"),
                LineageStep(
                    kind="model package",
                    name=f"{GROUP} v1",
                    uri=_package(1),
                    detail=f"{first.status}, test AUC {first.metric:.3f}",
                ),
            ],
        ),
        LineageChain(
            title="From a dropped batch to predictions and drift",
            steps=[
                LineageStep(
                    kind="raw object",
                    name="scoring-drifted.csv",
                    uri=f"s3://{RAW}/{datasets[3]['source_key']}",
                ),
                LineageStep(kind="dataset version", name=f"scoring {reports[1].version[:8]}"),
                LineageStep(
                    kind="transform job", name=f"driftline-dev-scoring-{reports[1].version[:8]}"
                ),
                LineageStep(
                    kind="predictions",
                    name=f"{reports[1].report.rows} fraud probabilities",
                    uri=runs[1]["predictions_uri"],
                ),
                LineageStep(
                    kind="drift report",
                    name=f"{len(reports[1].report.drifted_features)} features drifted",
                    uri=reports[1].report_uri,
                ),
            ],
        ),
        LineageChain(
            title="A file that broke its contract",
            steps=[
                LineageStep(
                    kind="raw object",
                    name="transactions-bad.csv",
                    uri=f"s3://{RAW}/{datasets[2]['source_key']}",
                ),
                LineageStep(
                    kind="quarantine",
                    name=f"transactions {datasets[2]['version'][:8]}",
                    uri=f"s3://driftline-dev-quarantine/{datasets[2]['report_key']}",
                    detail="rejected: " + "; ".join(datasets[2]["reasons"])[:120],
                ),
            ],
        ),
    ]
    return ReportData(
        generated_at=START + timedelta(minutes=4),
        target="local cloud (http://127.0.0.1:4566)",
        status=status,
        drift_reports=reports,
        lineage=lineage,
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.report.sample OUT.json", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as workdir:
        data = build(Path(workdir))
    Path(argv[0]).write_text(data.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
