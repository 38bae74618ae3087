"""Drift: how far a scored batch has moved from its model's training baseline, and
whether that is more than chance.

The baseline is the ``baseline.json`` the training job writes (its schema is
``driftline_runtime.baseline.Baseline``, version 1 or 2). Everything here is a pure
function over numpy and pyarrow arrays: no I/O, no pandas, no SciPy, so it runs in a
Lambda function with only the runtime layer.

* :mod:`.distributions`: the Kolmogorov and chi-square distributions (p-values and
  critical values).
* :mod:`.statistics`: PSI (the effect size), the two-sample KS statistic against the
  baseline's quantile sketch, the chi-square test of homogeneity, Holm's procedure.
* :mod:`.features`: one feature (or the prediction) against its training profile.
* :mod:`.verdict`: the batch's verdict, all features judged together.
* :mod:`.models`: the report's shape.
"""

from driftline_runtime.contracts import DriftSettings
from driftline_runtime.drift.features import (
    NULL_CATEGORY,
    OTHER_CATEGORY,
    bin_labels,
    categorical_drift,
    numeric_drift,
    prediction_drift,
)
from driftline_runtime.drift.models import (
    PREDICTION_FEATURE,
    DriftReport,
    FeatureDrift,
    Kind,
    Outcome,
)
from driftline_runtime.drift.statistics import DEFAULT_EPSILON, psi
from driftline_runtime.drift.verdict import MissingFeatureError, drift_report, judge

__all__ = [
    "DEFAULT_EPSILON",
    "NULL_CATEGORY",
    "OTHER_CATEGORY",
    "PREDICTION_FEATURE",
    "DriftReport",
    "DriftSettings",
    "FeatureDrift",
    "Kind",
    "MissingFeatureError",
    "Outcome",
    "bin_labels",
    "categorical_drift",
    "drift_report",
    "judge",
    "numeric_drift",
    "prediction_drift",
    "psi",
]
