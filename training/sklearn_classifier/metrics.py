"""The training job's metrics: the lines ``train.py`` prints and the regexes that read them.

``train.py`` prints one metric per line on its standard output, as
``<split>:<measure>=<value>;`` (for example ``test:auc=0.912345;`` or ``test:rows=1000;``).
SageMaker sends the output to CloudWatch Logs and turns each line that a training job's
``AlgorithmSpecification.MetricDefinitions`` regex matches into a training metric (the
first group is the value); the local cloud applies the same regexes to the job's log.

The prepare step gives the training job ``driftline_runtime.names.metric_definitions()``
(:data:`METRIC_DEFINITIONS` here) and ``train.py`` prints with :func:`format_metric`, both
over the names module's regex, so the printed form and the regexes cannot drift apart. The
names themselves (``test:auc`` and the rest) come from ``driftline_runtime.names``, which
the source tarball bundles: the evaluation gate, the registry and the reports read the
same names.

No other dependencies: the CDK app imports this module as
``training.sklearn_classifier.metrics``, and in the scikit-learn container the job imports
it from the package beside ``train.py``.
"""

from __future__ import annotations

import math

from driftline_runtime.names import (
    CHAMPION_METRICS,
    ROWS_MEASURE,
    TRAINING_METRICS,
    metric_definitions,
)

# The champion's measures appear only when the job was given a champion to score.
METRIC_NAMES: tuple[str, ...] = TRAINING_METRICS + CHAMPION_METRICS

# What SageMaker's CreateTrainingJob wants in AlgorithmSpecification.MetricDefinitions
# (the prepare step gives a job its problem's: names.metric_definitions(problem)).
METRIC_DEFINITIONS: list[dict[str, str]] = metric_definitions()


def format_metric(name: str, value: float) -> str:
    """One metric line, e.g. ``format_metric("test:auc", 0.9123451) == "test:auc=0.912345;"``.

    Counts print as integers, everything else with six decimals.
    """
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}")
    if not math.isfinite(value):
        raise ValueError(f"metric {name} is not a finite number: {value!r}")
    text = str(int(value)) if name.endswith(f":{ROWS_MEASURE}") else f"{value:.6f}"
    return f"{name}={text};"
