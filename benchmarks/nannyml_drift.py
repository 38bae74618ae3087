"""NannyML's univariate drift calculator on the drift benchmark's data (the peer).

Runs in NannyML's own virtual environment (it pins its own libraries), started by
``benchmarks/drift.py`` as ``<venv>/bin/python benchmarks/nannyml_drift.py SPEC.json``.
The spec names the reference and analysis Parquet files, the columns and how many runs
to time. The calculator uses the same tests as driftline (Kolmogorov-Smirnov on
continuous columns, chi-square on categorical ones), with the analysis batch as one
chunk and the reference cut into chunks of the same size, NannyML's usual set-up.

Prints one JSON line: the best and median seconds of fit + calculate.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import nannyml
import pandas as pd


def calculate(spec: dict[str, Any], reference: Any, analysis: Any) -> Any:
    calculator = nannyml.UnivariateDriftCalculator(
        column_names=spec["columns"],
        treat_as_categorical=spec["categorical"],
        continuous_methods=["kolmogorov_smirnov"],
        categorical_methods=["chi2"],
        chunk_size=len(analysis),
    )
    calculator.fit(reference)
    return calculator.calculate(analysis)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    reference = pd.read_parquet(spec["reference"])
    analysis = pd.read_parquet(spec["analysis"])
    warnings.simplefilter("ignore")  # chunk-count advice for a one-chunk analysis
    seconds = []
    result = None
    for _ in range(int(spec["runs"])):
        started = time.perf_counter()
        result = calculate(spec, reference, analysis)
        seconds.append(time.perf_counter() - started)
    # The result is computed, not only planned: one row per column and method.
    assert result is not None and len(result.filter(period="analysis").to_df()) == 1
    print(
        json.dumps(
            {
                "best": min(seconds),
                "median": statistics.median(seconds),
                "version": nannyml.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
