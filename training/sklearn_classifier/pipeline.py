"""The model: numeric features median-imputed (with missing-value indicators), booleans
as 0/1, categoricals one-hot (rare and unseen categories share one column), then a
``HistGradientBoostingClassifier`` (binary, multiclass) or ``HistGradientBoostingRegressor``
(regression); and its measures on a split, by problem type.

scikit-learn (and SciPy beneath it) is imported where it is used: it takes seconds to
import, and a job whose input is wrong fails without waiting for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from driftline_runtime import names

from .dataset import FeatureSet
from .features import (
    BOOLEAN,
    CATEGORICAL,
    NUMERIC,
    class_probabilities,
    positive_probabilities,
)
from .hyperparameters import XGBOOST, Hyperparameters
from .target import BINARY, MULTICLASS, REGRESSION, Target

# Categories below this share of the train split share one one-hot column...
MIN_CATEGORY_SHARE = 0.01
MAX_CATEGORIES = 30  # ...and so do all beyond the 29 most frequent.
DECISION_THRESHOLD = 0.5


def build_pipeline(features: FeatureSet, settings: Hyperparameters, target: Target) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    steps = [
        (
            NUMERIC,
            SimpleImputer(strategy="median", add_indicator=True),
            features.of_kind(NUMERIC),
        ),
        (
            BOOLEAN,
            SimpleImputer(strategy="most_frequent", add_indicator=True),
            features.of_kind(BOOLEAN),
        ),
        (
            CATEGORICAL,
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                min_frequency=MIN_CATEGORY_SHARE,
                max_categories=MAX_CATEGORIES,
                sparse_output=False,
                dtype=np.float64,
            ),
            features.of_kind(CATEGORICAL),
        ),
    ]
    if settings.algorithm == XGBOOST:
        model = xgboost_model(settings, target)
    else:
        model = hist_gradient_boosting(settings, target)
    preprocess = ColumnTransformer([step for step in steps if step[2]], remainder="drop")
    step = "classifier" if target.is_classification else "regressor"
    return Pipeline([("preprocess", preprocess), (step, model)])


def hist_gradient_boosting(settings: Hyperparameters, target: Target) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    boosting = (
        HistGradientBoostingClassifier
        if target.is_classification
        else HistGradientBoostingRegressor
    )
    return boosting(
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_depth=settings.max_depth,
        early_stopping=settings.early_stopping,
        validation_fraction=0.1,
        n_iter_no_change=20,
        random_state=settings.random_state,
    )


def xgboost_model(settings: Hyperparameters, target: Target) -> Any:
    """XGBoost's scikit-learn estimator, as SageMaker's XGBoost container has it: the same
    settings by their XGBoost names (max_depth 0 is no limit; no early stopping)."""
    from xgboost import XGBClassifier, XGBRegressor

    boosting = XGBClassifier if target.is_classification else XGBRegressor
    return boosting(
        n_estimators=settings.max_iter,
        learning_rate=settings.learning_rate,
        max_depth=settings.max_depth or 0,
        random_state=settings.random_state,
        tree_method="hist",
        n_jobs=1,
    )


def iterations(pipeline: Any) -> int:
    """The boosting iterations the fitted model ran (early stopping may stop sooner)."""
    model = pipeline.steps[-1][1]
    if hasattr(model, "get_booster"):  # XGBoost
        return int(model.get_booster().num_boosted_rounds())
    return int(model.n_iter_)


def evaluate(
    pipeline: Any, x: pd.DataFrame, y: np.ndarray[Any, Any], target: Target
) -> dict[str, float]:
    """The problem's measures (``names.PROBLEM_MEASURES``) and the row count."""
    measured = {
        BINARY: _binary_measures,
        MULTICLASS: _multiclass_measures,
        REGRESSION: _regression_measures,
    }[target.problem](pipeline, x, y, target)
    return {**measured, names.ROWS_MEASURE: float(len(y))}


def _binary_measures(
    pipeline: Any, x: pd.DataFrame, y: np.ndarray[Any, Any], target: Target
) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, average_precision_score, log_loss, roc_auc_score

    del target  # 0/1 labels
    probabilities = positive_probabilities(pipeline, x)
    predicted = (probabilities >= DECISION_THRESHOLD).astype(np.int64)
    return {
        names.AUC_MEASURE: float(roc_auc_score(y, probabilities)),
        names.AVERAGE_PRECISION_MEASURE: float(average_precision_score(y, probabilities)),
        names.LOG_LOSS_MEASURE: float(log_loss(y, probabilities, labels=[0, 1])),
        names.ACCURACY_MEASURE: float(accuracy_score(y, predicted)),
    }


def _multiclass_measures(
    pipeline: Any, x: pd.DataFrame, y: np.ndarray[Any, Any], target: Target
) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    labels = list(range(len(target.classes)))
    probabilities = class_probabilities(pipeline, x, len(labels))
    predicted = probabilities.argmax(axis=1)
    return {
        names.MACRO_F1_MEASURE: float(
            f1_score(y, predicted, labels=labels, average="macro", zero_division=0)
        ),
        names.LOG_LOSS_MEASURE: float(log_loss(y, probabilities, labels=labels)),
        names.ACCURACY_MEASURE: float(accuracy_score(y, predicted)),
    }


def _regression_measures(
    pipeline: Any, x: pd.DataFrame, y: np.ndarray[Any, Any], target: Target
) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    del target
    predicted = np.asarray(pipeline.predict(x), dtype=np.float64)
    return {
        names.RMSE_MEASURE: float(np.sqrt(mean_squared_error(y, predicted))),
        names.MAE_MEASURE: float(mean_absolute_error(y, predicted)),
        names.R2_MEASURE: float(r2_score(y, predicted)),
    }


def predictions(pipeline: Any, x: pd.DataFrame, target: Target) -> np.ndarray[Any, Any]:
    """What the model serves per row, the distribution the drift monitor compares: the
    positive class's probability (binary), the predicted class's label (multiclass) or the
    predicted value (regression)."""
    if target.problem == BINARY:
        return positive_probabilities(pipeline, x)
    if target.problem == MULTICLASS:
        chosen = class_probabilities(pipeline, x, len(target.classes)).argmax(axis=1)
        return np.asarray([target.classes[index] for index in chosen], dtype=object)
    return np.asarray(pipeline.predict(x), dtype=np.float64)
