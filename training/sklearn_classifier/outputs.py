"""What a job leaves in ``SM_MODEL_DIR``: the model, ``evaluation.json``, the baseline and
the serving code (``code/``).

The serving code travels inside the model artefact, as SageMaker's SDK packs it for
network isolation: a model created with ``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``
needs no network to fetch its code, and keeps serving with the code it was trained with
however often the project is deployed afterwards.
"""

from __future__ import annotations

import json
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from driftline_runtime import names

from .container import JobPaths
from .dataset import FeatureSet
from .hyperparameters import Hyperparameters
from .pipeline import iterations
from .serving import MODEL_FILE, MODEL_FORMAT
from .target import Target

# SageMaker's model-quality keys -> the measures, per problem type (the test split's).
QUALITY_KEYS: dict[str, tuple[str, dict[str, str]]] = {
    "binary": (
        "binary_classification_metrics",
        {
            "auc": names.AUC_MEASURE,
            "au_prc": names.AVERAGE_PRECISION_MEASURE,
            "accuracy": names.ACCURACY_MEASURE,
            "log_loss": names.LOG_LOSS_MEASURE,
        },
    ),
    "multiclass": (
        "multiclass_classification_metrics",
        {
            "macro_f1": names.MACRO_F1_MEASURE,
            "accuracy": names.ACCURACY_MEASURE,
            "log_loss": names.LOG_LOSS_MEASURE,
        },
    ),
    "regression": (
        "regression_metrics",
        {"rmse": names.RMSE_MEASURE, "mae": names.MAE_MEASURE, "r2": names.R2_MEASURE},
    ),
}


@dataclass
class TrainingResult:
    pipeline: Any
    features: FeatureSet
    settings: Hyperparameters
    target: Target
    metrics: dict[str, float] = field(default_factory=dict)  # "<split>:<measure>" -> value
    positive_rates: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    import sys

    import sklearn

    versions = {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }
    if "xgboost" in sys.modules:  # imported only when the job trains with it
        versions["xgboost"] = sys.modules["xgboost"].__version__
    return versions


def evaluation_document(result: TrainingResult) -> dict[str, Any]:
    """``evaluation.json``::

    {
      "schema_version": 1,
      "metrics": {"train:auc": float, ..., "test:rows": int},   # as printed
      "problem": "binary" | "multiclass" | "regression",
      "classes": [str, ...] | null,                             # classification
      "binary_classification_metrics": {                        # the test split, in
        "auc": {"value": float, "standard_deviation": "NaN"},  # SageMaker's model-
        "au_prc": {...}, "accuracy": {...}, "log_loss": {...}  # quality form; or
      },                                                        # multiclass_classifi-
                                                                # cation_metrics or
                                                                # regression_metrics
      "positive_rate": {"train": float, "validation": float, "test": float} | null,
      "target_column": str, "id_column": str,
      "feature_columns": [str, ...], "feature_kinds": {str: str},
      "hyperparameters": {...}, "iterations": int, "library_versions": {str: str}
    }
    """
    section, quality = QUALITY_KEYS[result.target.problem]
    return {
        "schema_version": 1,
        "problem": result.target.problem,
        "classes": list(result.target.classes) or None,
        "metrics": {
            name: int(value) if name.endswith(f":{names.ROWS_MEASURE}") else value
            for name, value in result.metrics.items()
        },
        section: {
            key: {
                "value": result.metrics[names.training_metric(names.HELD_OUT_SPLIT, measure)],
                "standard_deviation": "NaN",
            }
            for key, measure in quality.items()
        },
        "positive_rate": result.positive_rates or None,
        "target_column": result.settings.target_column,
        "id_column": result.settings.id_column,
        "feature_columns": result.features.columns,
        "feature_kinds": result.features.kinds,
        "hyperparameters": result.settings.to_json(),
        "iterations": iterations(result.pipeline),
        "library_versions": library_versions(),
    }


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_outputs(result: TrainingResult, paths: JobPaths) -> None:
    paths.model_dir.mkdir(parents=True, exist_ok=True)
    paths.output_data_dir.mkdir(parents=True, exist_ok=True)
    bundle = {
        "format": MODEL_FORMAT,
        "pipeline": result.pipeline,
        "id_column": result.settings.id_column,
        "target_column": result.settings.target_column,
        "problem": result.target.problem,
        "classes": list(result.target.classes),
        "feature_columns": result.features.columns,
        "feature_kinds": result.features.kinds,
        "library_versions": library_versions(),
    }
    joblib.dump(bundle, paths.model_dir / MODEL_FILE)
    evaluation = paths.model_dir / "evaluation.json"
    _write_json(evaluation, evaluation_document(result))
    _write_json(paths.model_dir / names.BASELINE_FILE, result.baseline)
    shutil.copyfile(evaluation, paths.output_data_dir / "evaluation.json")
    pack_serving_code(paths.model_dir / names.MODEL_CODE_FOLDER)


# The source directory the job runs from: train.py, inference.py and this package.
SOURCE_DIRECTORY = Path(__file__).resolve().parents[1]
RUNTIME_FILES = ("__init__.py", "names.py")


def pack_serving_code(target: Path) -> None:
    """Copy the source directory into the model (without caches and tests).

    In the framework container the source directory also holds the ``driftline_runtime``
    names module that the tarball bundles; run from the repository (tests), that module
    comes from the runtime layer's folder instead.
    """
    shutil.copytree(
        SOURCE_DIRECTORY,
        target,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"),
        dirs_exist_ok=True,
    )
    runtime = target / "driftline_runtime"
    if not (runtime / "names.py").is_file():
        runtime.mkdir(exist_ok=True)
        library = Path(names.__file__).resolve().parent
        for name in RUNTIME_FILES:
            shutil.copyfile(library / name, runtime / name)
