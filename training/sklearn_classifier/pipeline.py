"""The model: numeric features median-imputed (with missing-value indicators), booleans
as 0/1, categoricals one-hot (rare and unseen categories share one column), then a
``HistGradientBoostingClassifier``; and its measures on a split.

scikit-learn (and SciPy beneath it) is imported where it is used: it takes seconds to
import, and a job whose input is wrong fails without waiting for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from driftline_runtime import names

from .dataset import FeatureSet
from .features import BOOLEAN, CATEGORICAL, NUMERIC, positive_probabilities
from .hyperparameters import Hyperparameters

# Categories below this share of the train split share one one-hot column...
MIN_CATEGORY_SHARE = 0.01
MAX_CATEGORIES = 30  # ...and so do all beyond the 29 most frequent.
DECISION_THRESHOLD = 0.5


def build_pipeline(features: FeatureSet, settings: Hyperparameters) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
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
    classifier = HistGradientBoostingClassifier(
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_depth=settings.max_depth,
        early_stopping=settings.early_stopping,
        validation_fraction=0.1,
        n_iter_no_change=20,
        random_state=settings.random_state,
    )
    preprocess = ColumnTransformer([step for step in steps if step[2]], remainder="drop")
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def evaluate(pipeline: Any, x: pd.DataFrame, y: np.ndarray[Any, Any]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, average_precision_score, log_loss, roc_auc_score

    probabilities = positive_probabilities(pipeline, x)
    predicted = (probabilities >= DECISION_THRESHOLD).astype(np.int64)
    return {
        names.AUC_MEASURE: float(roc_auc_score(y, probabilities)),
        names.AVERAGE_PRECISION_MEASURE: float(average_precision_score(y, probabilities)),
        names.LOG_LOSS_MEASURE: float(log_loss(y, probabilities, labels=[0, 1])),
        names.ACCURACY_MEASURE: float(accuracy_score(y, predicted)),
        names.ROWS_MEASURE: float(len(y)),
    }
