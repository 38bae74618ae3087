"""``driftline local up`` after a restart with state kept, against the first ``local up``.

The first ``up`` starts an empty local cloud, bootstraps CDK and deploys the app; after
``down`` (which saves the state) the next ``up`` loads it, finds the stacks deployed
from the very sources of now, and deploys nothing. Both are timed in the same run, with
the save (``down``) on its own line; figures go to ``build/bench.json``
(``restart_up_vs_first_up``).

Run with ``make bench``.
"""

from __future__ import annotations

import os
import tempfile
import time

from benchmarks.results import figure, record
from driftline import deploy
from driftline import localcloud_state as kept
from driftline.localcloud import LocalCloud


def main() -> None:
    os.environ["DRIFTLINE_LOCAL_PERSISTENCE"] = "1"
    # A state folder of the benchmark's own: it starts empty and a user's stays as it was.
    os.environ["DRIFTLINE_LOCAL_STATE_DIR"] = tempfile.mkdtemp(prefix="driftline-bench-state-")
    cloud = LocalCloud()
    cloud.install()
    if cloud.is_running():
        raise SystemExit("Stop the running local cloud first (driftline local down).")
    try:
        started = time.perf_counter()
        cloud.start()
        assert deploy.deploy_local(cloud), "an empty local cloud must be deployed into"
        first = time.perf_counter() - started
        started = time.perf_counter()
        cloud.stop()
        saved = time.perf_counter() - started
        started = time.perf_counter()
        cloud.start()
        deployed_again = deploy.deploy_local(cloud)
        again = time.perf_counter() - started
    finally:
        cloud.stop()
        kept.forget(cloud.state)
    if deployed_again:
        raise SystemExit("the restarted local cloud deployed again: its state was not kept")
    print("driftline local up after a restart (state kept)\n")
    print(f"{'first local up (start, bootstrap, deploy)':<46} {first:8.1f} s")
    print(f"{'local down (saving the state)':<46} {saved:8.1f} s")
    print(
        f"{'local up again (start, load, nothing to deploy)':<46} {again:8.1f} s   "
        f"ratio {again / first:5.2f}x of the first"
    )
    record(
        {"restart_up_vs_first_up": figure(again, first), "restart_down_saving": figure(saved, None)}
    )


if __name__ == "__main__":
    main()
