"""The local cloud's two bases, LocalStack's core and MiniStack, measured on one commit.

Each speed figure is measured on both bases in the same run, rounds interleaved (a
LocalStack round, a MiniStack round, again), and printed as the median with the ratio
MiniStack / LocalStack. Memory is the resident size of the base's whole process tree
(the emulator, function processes, SageMaker jobs): idle after start, idle after the
deployment, and the peak over deployment, drops and the demo, sampled twice a second.
Then what is not a speed: IAM enforcement (``benchmarks.iam``), Node.js custom resources
(``benchmarks.node_custom_resources``), state across a restart, and the lines of
driftline's own local-cloud code each base needs.

    python -m benchmarks.bases            # BENCH_ROUNDS (default 2), BENCH_DEMO_RUNS (2)
    BENCH_PHASES=facts python -m benchmarks.bases   # some phases only (speed, demo, facts),
                                                    # keeping the others' earlier figures
    BENCH_PHASES=none python -m benchmarks.bases    # the table of the figures measured last

Nothing else may use the local cloud's port meanwhile; every local cloud it starts is
stopped again. The table is also written to ``.cache/bench/bases.md`` and ``bases.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from io import StringIO
from pathlib import Path
from typing import Any

import psutil
from botocore.exceptions import ClientError
from driftline_runtime import names
from rich.console import Console

from benchmarks import iam as iam_checks
from benchmarks import node_custom_resources
from benchmarks.base_code import lines_of_code
from driftline import deploy
from driftline.actions import (
    CommandError,
    drop_file,
    wait_for_model,
    wait_for_version,
    wait_until,
)
from driftline.localcloud import ROOT, LocalCloud
from driftline.samples import generate_transactions, write_table
from driftline.scenario import completed, run_demo
from driftline.target import StackNotDeployed, Target

BASES = ("localstack", "ministack")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
PHASES = set(os.environ.get("BENCH_PHASES", "speed,demo,facts").split(","))
DEMO_RUNS = int(os.environ.get("BENCH_DEMO_RUNS", "2"))
DROPS = 3
OUT = ROOT / ".cache" / "bench"
Figures = dict[str, list[float]]


class TreeMemory:
    """The peak resident size of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def now(pid: int) -> float:
        """MiB resident in the tree under ``pid`` at this moment."""
        try:
            root = psutil.Process(pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, self.now(self.pid))

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def cloud_of(base: str, *, persistence: bool = False) -> LocalCloud:
    """A stopped local cloud on ``base``, IAM enforced (both bases' default)."""
    cloud = LocalCloud(base_name=base, iam=True, persistence=persistence)
    cloud.install()
    if cloud.is_running() or any(
        LocalCloud(base_name=b, iam=False, persistence=False).is_running() for b in BASES
    ):
        raise SystemExit("Stop the running local cloud first (driftline local down).")
    return cloud


def pid_of(cloud: LocalCloud) -> int:
    return int(cloud.pid_file.read_text())


def timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def settle_memory(cloud: LocalCloud) -> float:
    """Resident MiB once the tree has been quiet for a few seconds."""
    time.sleep(5)
    return TreeMemory.now(pid_of(cloud))


def fresh_training_file(folder: Path, seed: int) -> Path:
    table = generate_transactions(2_000, seed=seed)
    return write_table(table, folder / f"bench-{seed}.csv")


def drops(target: Target, folder: Path, seed: int, figures: Figures) -> None:
    """drop -> dataset version and drop -> registered model, 2,000-row training files.

    The first drop pays the ingest function's cold start and is not counted.
    """
    warm = fresh_training_file(folder, seed)
    wait_for_version(target, drop_file(target, warm, "transactions", "training")[1])
    for n in range(DROPS):
        path = fresh_training_file(folder, seed + 1 + n)
        started = time.perf_counter()
        wait_for_version(target, drop_file(target, path, "transactions", "training")[1])
        figures["drop -> dataset version (s)"].append(time.perf_counter() - started)
    # The trainings those drops started finish first: each model is timed on its own.
    wait_for_idle_training(target)
    for n in range(2):
        path = fresh_training_file(folder, seed + 50 + n)
        started = time.perf_counter()
        version = wait_for_version(target, drop_file(target, path, "transactions", "training")[1])
        wait_for_model(target, version["version"])
        figures["drop -> registered model (s)"].append(time.perf_counter() - started)


def wait_for_idle_training(target: Target) -> None:
    sfn = target.client("stepfunctions")
    arn = target.outputs("pipeline")[names.TRAINING_STATE_MACHINE_OUTPUT]

    def idle() -> bool | None:
        running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
        return True if not running["executions"] else None

    wait_until(idle, 600, "the trainings started by the version drops", 1.0)


def round_of(base: str, seed: int, figures: Figures) -> None:
    cloud = cloud_of(base)
    try:
        for _ in range(2):
            cloud.stop()
            figures["`local up` to ready, no deploy (s)"].append(timed(cloud.start))
        figures["idle memory after start (MiB)"].append(settle_memory(cloud))
        with TreeMemory(pid_of(cloud)) as memory:
            figures["cdk bootstrap (s)"].append(timed(lambda: deploy.bootstrap_local(cloud)))
            figures["cdk deploy of the app (s)"].append(timed(lambda: deploy.deploy(cloud)))
            figures["idle memory after deploy (MiB)"].append(settle_memory(cloud))
            with tempfile.TemporaryDirectory() as folder:
                drops(Target("local"), Path(folder), seed, figures)
        figures["peak memory: deploy and drops (MiB)"].append(memory.peak)
    finally:
        cloud.stop()


def demo_of(base: str, run: int, figures: Figures) -> None:
    cloud = cloud_of(base)
    started = time.perf_counter()
    try:
        cloud.start()
        with TreeMemory(pid_of(cloud)) as memory:
            deploy.bootstrap_local(cloud)
            deploy.deploy(cloud)
            with tempfile.TemporaryDirectory() as folder:
                quiet = Console(file=StringIO(), force_terminal=False)
                progress = run_demo(Target("local"), quiet, Path(folder), seed=7_000 + run)
    finally:
        cloud.stop()
    if not completed(progress):
        raise SystemExit(f"{base}: demo run {run + 1} did not complete: {progress.results}")
    figures["demo wall time: start, deploy, scenario (s)"].append(time.perf_counter() - started)
    figures["peak memory: demo (MiB)"].append(memory.peak)


def fidelity_of(base: str) -> dict[str, str]:
    """IAM and Node.js custom resources, with enforcement on."""
    cloud = cloud_of(base)
    facts: dict[str, str] = {}
    try:
        cloud.start()
        facts |= {f"IAM: {k}": v for k, v in iam_checks.measure(Target("local")).items()}
        outcome = node_custom_resources.measure(cloud)
        facts["Node.js custom resources"] = outcome.summary()
        deploy.bootstrap_local(cloud)
        started = time.perf_counter()
        try:
            deploy.deploy(cloud)
            facts["the app deploys with IAM enforced"] = (
                f"yes ({time.perf_counter() - started:.0f} s)"
            )
        except deploy.DeployError as error:
            facts["the app deploys with IAM enforced"] = f"no: {str(error)[-300:]}"
    finally:
        cloud.stop()
    return facts


def restart_of(base: str) -> dict[str, str]:
    """What survives ``local down`` + ``up``, and how long ``up`` takes after it (both
    bases keep state by default now)."""
    cloud = cloud_of(base, persistence=True)
    target = Target("local")
    try:
        cloud.start()
        deploy.bootstrap_local(cloud)
        deploy.deploy(cloud)
        with tempfile.TemporaryDirectory() as folder:
            path = fresh_training_file(Path(folder), 99)
            key = drop_file(target, path, "transactions", "training")[1]
            wait_for_version(target, key)
        group = "driftline-bench-restart"
        target.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
        raw = target.outputs("data")[names.RAW_BUCKET_OUTPUT]
        cloud.stop()
        cloud.start()
        kept = survivors(target, raw, key, group)
        up = timed(lambda: (deploy.bootstrap_local(cloud), deploy.deploy(cloud)))
    finally:
        cloud.stop()
    lost = [name for name, there in kept.items() if not there]
    return {
        "state kept across a restart": ("all" if not lost else f"lost: {', '.join(lost)}")
        + f" (kept: {', '.join(n for n, t in kept.items() if t) or 'nothing'})",
        "`local up` after the restart (s)": f"{up:.1f}",
    }


def survivors(target: Target, raw: str, key: str, group: str) -> dict[str, bool]:
    def there(probe: Any) -> bool:
        try:
            return bool(probe())
        except (ClientError, KeyError, IndexError, StackNotDeployed, CommandError):
            return False

    lam, sfn = target.client("lambda"), target.client("stepfunctions")
    return {
        "stacks": there(lambda: target.outputs("data")),
        "dropped object": there(lambda: target.client("s3").head_object(Bucket=raw, Key=key)),
        "lineage record": there(lambda: wait_for_version(target, key, timeout=5)),
        "functions": there(lambda: lam.list_functions()["Functions"]),
        "state machines": there(lambda: sfn.list_state_machines()["stateMachines"]),
        "model registry": there(
            lambda: target.client("sagemaker").describe_model_package_group(
                ModelPackageGroupName=group
            )
        ),
    }


def table(speed: dict[str, Figures], facts: dict[str, dict[str, str]]) -> str:
    rows = ["| measure | LocalStack 2026.3.0 | MiniStack 1.5.33 | MiniStack / LocalStack |"]
    rows.append("|---|---|---|---|")
    for name in speed["localstack"]:
        a, b = (statistics.median(speed[base][name]) for base in BASES)
        shown = ".2f" if max(a, b) < 10 else ".1f"
        rows.append(f"| {name} | {a:{shown}} | {b:{shown}} | {b / a:.2f}x |")
    for name in facts["localstack"]:
        rows.append(f"| {name} | {facts['localstack'][name]} | {facts['ministack'][name]} | |")
    return "\n".join(rows)


def save(speed: dict[str, Figures], facts: dict[str, dict[str, str]]) -> None:
    """Everything measured so far (a late failure keeps the earlier figures)."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bases.json").write_text(json.dumps({"speed": speed, "facts": facts}, indent=2))


def earlier() -> tuple[dict[str, Figures], dict[str, dict[str, str]]]:
    """What an earlier run measured (kept for the phases this run leaves out)."""
    speed: dict[str, Figures] = {base: defaultdict(list) for base in BASES}
    facts: dict[str, dict[str, str]] = {base: {} for base in BASES}
    saved = OUT / "bases.json"
    if PHASES != {"speed", "demo", "facts"} and saved.is_file():
        document = json.loads(saved.read_text())
        for base in BASES:
            speed[base].update(document["speed"].get(base, {}))
            facts[base].update(document["facts"].get(base, {}))
    return speed, facts


def drop_earlier(speed: dict[str, Figures], demo: bool) -> None:
    """Drop a phase's earlier figures (the demo's, or the other speeds') before it
    measures again, keeping the other phase's."""
    for base in BASES:
        speed[base] = defaultdict(
            list, {k: v for k, v in speed[base].items() if ("demo" in k) != demo}
        )


def measure_speed(speed: dict[str, Figures], facts: dict[str, dict[str, str]]) -> None:
    drop_earlier(speed, demo=False)
    for n in range(ROUNDS):
        for base in BASES:
            round_of(base, 1_000 * (n + 1), speed[base])
            save(speed, facts)


def measure_demo(speed: dict[str, Figures], facts: dict[str, dict[str, str]]) -> None:
    drop_earlier(speed, demo=True)
    for n in range(DEMO_RUNS):
        for base in BASES:
            demo_of(base, n, speed[base])
            save(speed, facts)


def measure_facts(speed: dict[str, Figures], facts: dict[str, dict[str, str]]) -> None:
    for base in BASES:
        facts[base] = fidelity_of(base)
        save(speed, facts)
        facts[base] |= restart_of(base)
        save(speed, facts)


def main() -> None:
    # State kept by the restart phase goes to a folder of the run's own, never a user's
    # kept state (as benchmarks.restart does).
    os.environ["DRIFTLINE_LOCAL_STATE_DIR"] = tempfile.mkdtemp(prefix="driftline-bench-state-")
    speed, facts = earlier()
    for phase, measure in (("speed", measure_speed), ("demo", measure_demo)):
        if phase in PHASES:
            measure(speed, facts)
    if "facts" in PHASES:
        measure_facts(speed, facts)
    for base, counted in lines_of_code().items():
        facts[base]["lines of driftline's own code this base needs"] = counted
    save(speed, facts)
    document = table(speed, facts)
    print(document)
    (OUT / "bases.md").write_text(document + "\n")


if __name__ == "__main__":
    main()
