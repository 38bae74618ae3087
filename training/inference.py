"""Inference entry point for SageMaker's scikit-learn serving container and batch transform.

The container (an endpoint or a batch transform job) extracts ``model.tar.gz`` (what
``train.py`` wrote to ``SM_MODEL_DIR``) to ``/opt/ml/model``, imports this module
(``SAGEMAKER_PROGRAM=inference.py``) and calls::

    model = model_fn("/opt/ml/model")          # once per worker
    data = input_fn(request_body, content_type)  # per request
    prediction = predict_fn(data, model)
    body, content_type = output_fn(prediction, accept)

The handlers live in ``sklearn_classifier/serving.py``; beside numpy, pandas, joblib and
scikit-learn (in the container) they need only the package beside this file and
``driftline_runtime.names``, both in the source tarball. Training and serving turn raw
values into model input with the same ``sklearn_classifier/features.py``.

Input: ``text/csv`` — what batch transform sends, and how the batch pipeline writes its input
    One record per line; several records per request (``SplitType=Line``,
    ``BatchStrategy=MultiRecord``). Each line is ``<id>,<feature 1>,...,<feature n>``: the
    id first, then the features in the order of ``feature_columns`` in ``model.joblib``
    (``evaluation.json`` and ``baseline.json`` list the same order). An empty field is a
    missing value; booleans are ``true``/``false`` (or ``1``/``0``); standard CSV quoting.
    A first line that names the id column is a header instead: then the columns are
    taken by name, in any order, and columns the model does not use (the label, say) are
    ignored, so a file as a user drops it for scoring can be sent as it is.
Input: ``application/json``
    A list of objects with named fields (or ``{"instances": [...]}``); every feature must be
    present (``null`` is a missing value); the id field is optional, other fields are ignored.
Input: ``application/jsonlines``
    One such object per line.
Input: ``application/x-parquet`` (or ``application/parquet``)
    A Parquet file with named columns, as for JSON (reading it needs pyarrow).

Output: one prediction per input record, in input order; its columns depend on the
model's problem type (``driftline_runtime.names.prediction_columns``): binary
``probability`` (of the positive class, label 1); regression ``prediction`` (the value);
multiclass ``prediction`` (the most probable class's label), then ``probability:<label>``
for each class in the model's order (``classes`` in ``baseline.json``).
    ``text/csv``: lines ``<id>,<column 1>,...`` (numbers with eight decimals), no header, no
    trailing newline (batch transform's ``AssembleWith=Line`` separates the requests' outputs).
    ``application/json``: ``{"predictions": [{"<id column>": id, "probability": p}, ...]}``,
    one key per column.
``output_fn`` returns ``(body, content_type)``, which both of the container's serving
stacks accept. Unsupported content types raise :class:`UnsupportedContentTypeError`; records
that do not fit the model raise :class:`InvalidInputError` (a ``ValueError``), with a
message that says which record or column is wrong. Both carry the HTTP status an endpoint
answers them with (``status_code``: 415 and 400), as the inference toolkit's errors do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:  # imported as the package `training` (tests, type checks)
    from training.sklearn_classifier.features import (
        InvalidInputError,
        positive_probabilities,
        prepare_features,
    )
    from training.sklearn_classifier.serving import (
        MODEL_FILE,
        MODEL_FORMAT,
        FraudModel,
        Prediction,
        Records,
        UnsupportedContentTypeError,
        input_fn,
        model_fn,
        output_fn,
        predict_fn,
    )
else:  # imported by the serving container from the source directory
    from sklearn_classifier.features import (
        InvalidInputError,
        positive_probabilities,
        prepare_features,
    )
    from sklearn_classifier.serving import (
        MODEL_FILE,
        MODEL_FORMAT,
        FraudModel,
        Prediction,
        Records,
        UnsupportedContentTypeError,
        input_fn,
        model_fn,
        output_fn,
        predict_fn,
    )

__all__ = [
    "FraudModel",
    "InvalidInputError",
    "MODEL_FILE",
    "MODEL_FORMAT",
    "Prediction",
    "Records",
    "UnsupportedContentTypeError",
    "input_fn",
    "model_fn",
    "output_fn",
    "positive_probabilities",
    "predict_fn",
    "prepare_features",
]
