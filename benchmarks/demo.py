"""The demo's wall time and each stage's latency, median of several runs.

Each run is what ``driftline demo`` does on a fresh machine's second start: a fresh local
cloud (its environment already installed), ``cdk deploy``, the scenario, teardown. The
wall time is printed next to its peer measured in the same runs, the scenario alone (so
the ratio is the price of starting and deploying); each stage's median latency follows.

Run with ``make bench``; ``BENCH_DEMO_RUNS`` sets the number of runs (default 3).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from io import StringIO
from pathlib import Path

from rich.console import Console

from driftline import deploy
from driftline.localcloud import LocalCloud
from driftline.scenario import STAGES, completed, run_demo
from driftline.target import Target

RUNS = int(os.environ.get("BENCH_DEMO_RUNS", "3"))


def main() -> None:
    # Every run starts from an empty local cloud, as `driftline demo` does.
    os.environ["DRIFTLINE_LOCAL_PERSISTENCE"] = "0"
    cloud = LocalCloud()
    cloud.install()
    if cloud.is_running():
        raise SystemExit("Stop the running local cloud first (driftline local down).")
    walls: list[float] = []
    scenarios: list[float] = []
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    for run in range(RUNS):
        started = time.perf_counter()
        try:
            cloud.start()
            deploy.bootstrap_local(cloud)
            deploy.deploy(cloud)
            with tempfile.TemporaryDirectory() as folder:
                quiet = Console(file=StringIO(), force_terminal=False)
                progress = run_demo(Target("local"), quiet, Path(folder), seed=5_000 + run)
        finally:
            cloud.stop()
        walls.append(time.perf_counter() - started)
        if not completed(progress):
            raise SystemExit(f"demo run {run + 1} did not complete: {progress.results}")
        scenarios.append(sum(result.seconds for result in progress.results))
        for result in progress.results:
            stages[result.name].append(result.seconds)
    wall, scenario = statistics.median(walls), statistics.median(scenarios)
    print(f"driftline demo, median of {RUNS} runs\n")
    print(
        f"{'demo wall time (start, deploy, scenario)':<44} {wall:8.1f} s   "
        f"{'the scenario alone':<22} {scenario:8.1f} s   ratio {wall / scenario:5.2f}x"
    )
    for name, seconds in stages.items():
        median = statistics.median(seconds)
        print(f"  stage: {name:<36} {median:8.1f} s   ({median / scenario:5.1%} of the scenario)")


if __name__ == "__main__":
    main()
