"""What the ingest function loads when it starts: not the readers' parsers or pyarrow.

A cold start that imports pyarrow, the validator and every AWS client pays for them on
every new execution environment, also for the many events that only refuse or route a
file. The function is imported here from the folders synth ships (the contracts layer
with its manifest), in a fresh interpreter, as Lambda imports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from infra.contracts_layer import build_layer

ROOT = Path(__file__).resolve().parents[2]


def test_the_ingest_handler_starts_without_pyarrow_or_clients_it_may_not_use() -> None:
    # Given the function's code and layers on the path as Lambda puts them
    paths = [
        str(ROOT / "functions" / "ingest"),
        str(build_layer().path / "python"),
        str(ROOT / "layers" / "runtime" / "python"),
    ]
    probe = (
        f"import sys; sys.path[:0] = {paths!r}; import handler, json, botocore.client; "
        "print(json.dumps({'modules': sorted(sys.modules), "
        "'clients': sorted({c.__name__ for c in botocore.client.BaseClient.__subclasses__()})}))"
    )
    environment = {
        **os.environ,
        "CURATED_BUCKET": "curated",
        "QUARANTINE_BUCKET": "quarantine",
        "LINEAGE_TABLE": "lineage",
        "IDEMPOTENCY_TABLE": "idempotency",
        "EVENT_BUS_NAME": "bus",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    # When the handler module is imported in a fresh interpreter
    completed = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    modules = set(loaded["modules"])
    # Then neither pyarrow nor the validator nor the readers' parsers are loaded
    assert "pyarrow" not in modules
    assert not {"driftline_runtime.checking", "driftline_runtime.validation"} & modules
    assert "driftline_runtime.readers.csv_files" not in modules
    # And only the clients every invocation uses were built (each costs its service
    # model): the idempotency store's DynamoDB and the tracer's X-Ray sampler; S3,
    # EventBridge and Step Functions wait for the first call
    assert set(loaded["clients"]) <= {"DynamoDB", "XRay"}
