"""Scoring at scale on the local cloud: a 100,000-row batch dropped until its predictions
are written, against a 10,000-row batch in the same run (``score_100k_vs_10k``).

Both go the whole way (upload, ingest, rule, model resolution, transform input cut into
parts of the stage's ``inference_part_size_mib``, the Distributed Map of transform jobs,
predictions, drift monitor), so the ratio says how the pipeline's time grows with the
batch: with parts cut by bytes and warm serving processes, ten times the rows should cost
far less than ten times the time. The row counts are ``BENCH_SCORE_ROWS`` and a tenth.

``make bench`` runs it inside the local cloud benchmark (``benchmarks.local_cloud``); run it
alone with ``python -m benchmarks.scoring_scale``: it starts the local cloud if none runs
(and stops it again), deploys the app, trains a model if none is approved, and writes the
figure to ``build/bench.json``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from driftline_runtime import names

from benchmarks.results import figure, record
from driftline import deploy
from driftline import status as status_of
from driftline.actions import drop_file, wait_for_inference, wait_for_version, wait_until
from driftline.localcloud import LocalCloud
from driftline.samples import generate_transactions, write_table
from driftline.target import Target

SCORE_ROWS = int(os.environ.get("BENCH_SCORE_ROWS", "100000"))


def scoring_at_scale(target: Target) -> None:
    """Drop -> predictions for ``SCORE_ROWS`` rows against a tenth of them (one run each:
    the large one takes minutes). Batch inference on drift-free rows, so no retraining."""
    small_rows = max(1, SCORE_ROWS // 10)

    def score(rows: int, seed: int, folder: Path) -> tuple[float, int]:
        table = generate_transactions(rows, seed=seed, labelled=False)
        path = write_table(table, folder / f"scale-{rows}.csv")
        started = time.perf_counter()
        _, key, _ = drop_file(target, path, "scoring", "inference")
        version = wait_for_version(target, key, timeout=600)["version"]
        scored = wait_for_inference(target, version, timeout=3600)
        return time.perf_counter() - started, len(scored["transform_jobs"])

    with tempfile.TemporaryDirectory() as folder:
        small, small_jobs = score(small_rows, 4_200, Path(folder))
        large, large_jobs = score(SCORE_ROWS, 4_201, Path(folder))
    peer = f"{small_rows:,} rows ({small_jobs} jobs; {large_jobs})"
    print(
        f"{f'drop -> predictions, {SCORE_ROWS:,} rows':<38} {large:9.2f} s   {peer:<34} "
        f"{small:9.2f} s   ratio {large / small:6.2f}x"
    )
    record({f"score_{SCORE_ROWS // 1000}k_vs_{small_rows // 1000}k": figure(large, small)})


def approved_model(target: Target) -> None:
    """An approved transactions model: trained from a generated drop if there is none."""
    prefix = target.outputs(names.PIPELINE_STACK)[names.MODEL_PACKAGE_GROUP_PREFIX_OUTPUT]

    def approved() -> bool | None:
        models = status_of.models(target, prefix)
        return True if any(m["approval"] == "Approved" for m in models) else None

    if approved():
        return
    with tempfile.TemporaryDirectory() as folder:
        path = write_table(
            generate_transactions(20_000, seed=303), Path(folder) / "bench-training.csv"
        )
        drop_file(target, path, "transactions", "training")
    wait_until(approved, 600, "an approved transactions model", 1.0)


def main() -> None:
    # Measured on an empty local cloud, as the other benchmarks are (benchmarks.restart
    # measures a start with state kept).
    os.environ["DRIFTLINE_LOCAL_PERSISTENCE"] = "0"
    cloud = LocalCloud()
    cloud.install()
    started_here = cloud.start()
    try:
        deploy.bootstrap_local(cloud)
        deploy.deploy(cloud)
        target = Target("local")
        approved_model(target)
        scoring_at_scale(target)
    finally:
        if started_here:
            cloud.stop()


if __name__ == "__main__":
    main()
