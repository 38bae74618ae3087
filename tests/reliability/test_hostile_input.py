"""Hostile input on the local cloud: every bad file quarantined with its specific reason.

The corpus (``corpus.py``) is dropped at once into the raw bucket. Each file must end
as one rejected dataset version whose report names the reason the corpus expects, its
original must be copied to quarantine and still be in the raw bucket, and what each
invocation cost is read from the ingest function's REPORT lines.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from driftline_runtime.reasons import Reason, summary

from tests.reliability.conftest import Figures, Pipeline, now_ms
from tests.reliability.corpus import HostileFile, corpus


def test_every_hostile_file_is_quarantined_with_its_reason(
    pipeline: Pipeline, figures: Figures
) -> None:
    # Given the hostile-input corpus, salted for this run
    files = {item.key: item for item in corpus(pipeline.salt())}
    versions: dict[str, str] = {}

    # When every file is dropped at once
    since = now_ms()
    started = time.monotonic()

    def drop(item: HostileFile) -> None:
        versions[item.key] = pipeline.drop(item.key, item.body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(drop, files.values()))
    records = pipeline.wait_for_records(set(files), timeout=300)
    elapsed = time.monotonic() - started

    # Then each is one rejected version, with the corpus's reason in record and report
    wrong: list[str] = []
    for key, item in files.items():
        (record,) = records[key]
        report = pipeline.read_json(record["report_key"])
        reasons = [Reason.model_validate(reason) for reason in report["reasons"]]
        if (
            record["state"] != "rejected"
            or reasons[0].code != item.reason
            or item.mentions not in summary(reasons)
            or [Reason.model_validate(reason) for reason in record["reasons"]] != reasons
        ):
            wrong.append(f"{item.case}: {record['state']} {summary(reasons)}")
        # And the original is in quarantine, byte for byte, and still in the raw bucket
        quarantined = record["outputs"]["quarantined"]
        bucket, _, quarantine_key = quarantined.removeprefix("s3://").partition("/")
        assert bucket == pipeline.quarantine and ".." not in quarantine_key.split("/")
        size = pipeline.s3.head_object(Bucket=bucket, Key=quarantine_key)["ContentLength"]
        assert size == len(item.body), item.case
        assert pipeline.raw_exists(key, versions[key])
        assert report["source"]["key"] == key  # odd keys survive the event's URL encoding
    assert not wrong, "\n".join(wrong)

    # And the figures: what the worst file cost
    invocations = pipeline.invocations(since)
    costs = {key: invocations.get(key, []) for key in files}
    memory = {
        files[key].case: max(run.max_memory_mb or 0 for run in runs)
        for key, runs in costs.items()
        if runs
    }
    slowest = max(
        (
            (files[key].case, max(r.duration_ms for r in runs))
            for key, runs in costs.items()
            if runs
        ),
        key=lambda pair: pair[1],
    )
    heaviest = max(memory.items(), key=lambda pair: pair[1])
    bytes_total = sum(len(item.body) for item in files.values())
    figures.add("Hostile input", "bad files tried", f"{len(files)} ({bytes_total / 2**20:.0f} MiB)")
    figures.add(
        "Hostile input",
        "quarantined with the specific reason",
        f"{len(files) - len(wrong)} of {len(files)}, originals kept in raw and quarantine",
    )
    figures.add("Hostile input", "distinct reasons", len({i.reason for i in files.values()}))
    figures.add("Hostile input", "drop -> last report", f"{elapsed:.1f} s")
    figures.add("Hostile input", "slowest invocation", f"{slowest[0]}: {slowest[1]:.0f} ms")
    figures.add(
        "Hostile input",
        "ingest Max Memory Used (max)",
        f"{heaviest[1]} MB ({heaviest[0]}; the function has 1769 MB)",
    )
    for case in ("gzip_bomb", "one_line_50mb"):
        if case in memory:
            figures.add("Hostile input", f"{case} Max Memory Used", f"{memory[case]} MB")
