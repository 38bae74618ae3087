"""SageMaker script-mode training entry point: driftline's fraud model.

Runs unchanged in SageMaker's prebuilt scikit-learn container (framework version 1.4-2 or
later: Python >= 3.10, scikit-learn >= 1.4, pandas, joblib) and in the local cloud, which
runs it as a host process under the same contract. The container runs ``python train.py``
with the extracted source directory (this folder) as the working directory, so the
package ``sklearn_classifier`` beside it (the job, one module per part) imports as a
top-level package. Everything comes in the way the sagemaker-training toolkit provides it:

- channels ``SM_CHANNEL_TRAIN``, ``SM_CHANNEL_VALIDATION``, ``SM_CHANNEL_TEST`` (all three
  required): each a folder of CSV files with a header row (``*.csv`` or ``*.csv.gz``, in
  sub-folders too, read in path order and stacked; hidden files are skipped);
- hyperparameters from ``SM_HPS`` (a JSON object), else ``<config dir>/hyperparameters.json``.
  The API hands every value over as a string and the toolkit JSON-decodes what it can
  before it sets ``SM_HPS``: both forms parse (``sklearn_classifier/hyperparameters.py``);
- ``SM_MODEL_DIR`` for the model artefact, ``SM_OUTPUT_DATA_DIR`` for other outputs,
  ``SM_OUTPUT_DIR`` for the failure file.

A missing variable falls back to the toolkit's layout under ``$SAGEMAKER_BASE_DIR``
(default ``/opt/ml``): ``model``, ``input/data/<channel>``, ``input/config``,
``output/data``, ``output``.

The columns: the target (``is_fraud`` by default) must be 0/1 (or true/false); the id
column and ``exclude_columns`` (PII and the event time) are not features; every other
column of the train channel is a feature, its kind inferred from the train split: boolean
(only true/false), numeric (only numbers) or categorical (anything else). Validation and
test must hold the same feature columns (extra columns are ignored).

The model: numeric features median-imputed (with missing-value indicators), booleans as
0/1, categoricals one-hot (rare and unseen categories share one column), then a
``HistGradientBoostingClassifier``.

Outputs, in ``SM_MODEL_DIR`` (SageMaker packs it into ``model.tar.gz``):

- ``model.joblib``: a dict with ``format`` (``driftline-fraud-model/1``), ``pipeline`` (the
  fitted scikit-learn Pipeline), ``id_column``, ``target_column``, ``feature_columns``
  (the order the inference CSV uses after the id), ``feature_kinds`` and
  ``library_versions``; ``inference.py`` loads it;
- ``evaluation.json``: the metrics (schema in ``sklearn_classifier/outputs.py``), also
  copied to ``SM_OUTPUT_DATA_DIR``;
- ``baseline.json``: the training baseline for the drift monitor (its schema is
  ``driftline_runtime.baseline.Baseline``).

Metrics print one per line as ``<split>:<measure>=<value>;``
(``sklearn_classifier/metrics.py`` has the regexes, ``driftline_runtime.names`` the names).
On any error the script writes one paragraph saying what went wrong to
``<SM_OUTPUT_DIR>/failure`` (SageMaker reports it as the job's FailureReason) and exits 1.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:  # imported as the package `training` (tests, type checks)
    from training.sklearn_classifier.job import main
else:  # run by the framework container from the source directory
    from sklearn_classifier.job import main

if __name__ == "__main__":
    sys.exit(main())
