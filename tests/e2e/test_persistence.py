"""The restore path of the local cloud's kept state, piece by piece, in its own interpreter.

``local/driftline_localcloud/persistence*.py`` runs inside LocalStack, so these tests run
their steps with the local cloud's Python (installed by the session, not started): a
save in one process and a load in another, with different string-hash salts, as a
restart does. ``tests/reliability/test_restart.py`` restarts the whole local cloud.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from driftline.localcloud import LocalCloud


@pytest.fixture(scope="module")
def cloud_python() -> Path:
    # The persistence driver is the LocalStack base's: its interpreter, whichever base
    # the session runs on.
    cloud = LocalCloud(base_name="localstack")
    cloud.install()
    return cloud.venv_python


def run(python: Path, script: str, hash_seed: int) -> Any:
    """Runs ``script`` with the local cloud's Python; it prints one JSON document."""
    environment = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    result = subprocess.run(
        [str(python), "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


S3_SETUP = """
import hashlib, io, json, sys
from pathlib import Path
from types import SimpleNamespace
from localstack.services.s3.models import S3Bucket, S3Object, VersionedKeyStore, s3_stores
from localstack.services.s3.storage.ephemeral import EphemeralS3ObjectStore
from driftline_localcloud.persistence_s3 import load_object_data, save_object_data

store = s3_stores["000000000000"]["us-east-1"]
raw = S3Bucket("raw", "000000000000", "us-east-1", owner={"ID": "owner"})
versioned = S3Bucket("versioned", "000000000000", "us-east-1", owner={"ID": "owner"})
versioned.objects = VersionedKeyStore()
store.buckets.update(raw=raw, versioned=versioned)
# (bucket, key, version, bytes): small and past the in-memory size, two versions of a key
OBJECTS = [
    ("raw", "scoring/2026/a.csv", None, b"id,amount\\n1,2\\n"),
    ("raw", "big.bin", None, bytes(range(256)) * 4096),
    ("versioned", "model.tar.gz", "v1", b"first"),
    ("versioned", "model.tar.gz", "v2", b"second"),
]
"""


def test_s3_object_bytes_survive_a_restart_whose_string_hashes_differ(
    cloud_python: Path, tmp_path: Path
) -> None:
    # Given objects written to S3's in-memory store, and its state saved, in one process
    saved = run(
        cloud_python,
        S3_SETUP
        + f"""
storage = EphemeralS3ObjectStore({str(tmp_path / "before")!r})
names = []
for bucket, key, version, data in OBJECTS:
    storage.create_bucket(bucket)
    s3_object = S3Object(key=key, version_id=version)
    store.buckets[bucket].objects.set(key, s3_object)
    with storage.open(bucket, s3_object, mode="w") as stored:
        stored.write(io.BytesIO(data))
    names.append(storage._key_from_s3_object(s3_object))
service = SimpleNamespace(_provider=SimpleNamespace(_storage_backend=storage))
count = save_object_data(service, Path({str(tmp_path / "saved")!r}))
print(json.dumps({{"count": count, "names": names}}))
""",
        hash_seed=1,
    )
    # When another process, salted differently, loads them into its own store
    loaded = run(
        cloud_python,
        S3_SETUP
        + f"""
storage = EphemeralS3ObjectStore({str(tmp_path / "after")!r})
service = SimpleNamespace(_provider=SimpleNamespace(_storage_backend=storage))
count = load_object_data(service, Path({str(tmp_path / "saved")!r}))
read, names = [], []
for bucket, key, version, data in OBJECTS:
    s3_object = S3Object(key=key, version_id=version)
    names.append(storage._key_from_s3_object(s3_object))
    with storage.open(bucket, s3_object, mode="r") as stored:
        read.append(stored.read() == data)
print(json.dumps({{"count": count, "names": names, "read": read}}))
""",
        hash_seed=2,
    )

    # Then every version reads back byte for byte, though the store's names changed
    assert saved["count"] == loaded["count"] == 4
    assert saved["names"] != loaded["names"]
    assert loaded["read"] == [True, True, True, True]


def test_saved_stores_hold_no_held_locks_no_running_executions_and_ssm_parameters(
    cloud_python: Path,
) -> None:
    # Given a held lock, a running and a finished Step Functions execution (workers that
    # cannot be pickled) and SSM parameters, saved with the reducers
    result = run(
        cloud_python,
        """
        import json, socket, threading
        from types import SimpleNamespace
        from localstack.aws.api.stepfunctions import ExecutionStatus
        from localstack.services.stepfunctions.backend.execution import Execution
        from localstack.state import pickle
        from moto.ssm.models import ParameterDict
        from driftline_localcloud.persistence_fixes import STOPPED_CAUSE, register_reducers

        def execution(status, events):
            item = object.__new__(Execution)
            history = SimpleNamespace(get_event_history=lambda: events)
            item.__dict__.update(
                exec_arn="arn:aws:states:us-east-1:000000000000:execution:m:" + status,
                exec_status=status, stop_date=None, error=None, cause=None, output={"ok": 1},
                exec_worker=SimpleNamespace(env=SimpleNamespace(event_manager=history),
                                            socket=socket.socket()),
                _cloud_watch_logging_session=socket.socket(), _activity_store={},
            )
            return item

        register_reducers()
        lock = threading.RLock()
        lock.acquire()
        parameters = ParameterDict("000000000000", "us-east-1")
        parameters["/cdk-bootstrap/hnb659fds/version"].append("30")
        state = {
            "lock": lock,
            "running": execution(ExecutionStatus.RUNNING, [{"id": 1, "type": "ExecutionStarted"}]),
            "done": execution(ExecutionStatus.SUCCEEDED, [{"id": 1}, {"id": 2}]),
            "parameters": parameters,
        }
        back = pickle.loads(pickle.dumps(state))
        taken = []
        other = threading.Thread(target=lambda: taken.append(back["lock"].acquire(timeout=2)))
        other.start()
        other.join()
        running, done, parameters = back["running"], back["done"], back["parameters"]
        print(json.dumps({
            "lock taken by another thread": taken == [True],
            "running": [running.exec_status, running.cause == STOPPED_CAUSE,
                        running.stop_date is not None, running.to_history_output()["events"]],
            "done": [done.exec_status, done.output, len(done.to_history_output()["events"])],
            "parameters": [type(parameters).__name__, parameters.region_name, dict(parameters)],
        }))
        """,
        hash_seed=3,
    )

    # Then the lock comes back free, the running execution ABORTED with its history so
    # far, the finished one as it was, and the parameters in moto's own dict
    assert result["lock taken by another thread"] is True
    assert result["running"] == ["ABORTED", True, True, [{"id": 1, "type": "ExecutionStarted"}]]
    assert result["done"] == ["SUCCEEDED", {"ok": 1}, 2]
    assert result["parameters"] == [
        "ParameterDict",
        "us-east-1",
        {"/cdk-bootstrap/hnb659fds/version": ["30"]},
    ]


def test_loaded_eventbridge_rules_get_their_target_senders_back(cloud_python: Path) -> None:
    # Given a bus with a rule and its targets in EventBridge's store, as a load leaves
    # it: the provider has no services or senders for them
    result = run(
        cloud_python,
        """
        import json
        from types import SimpleNamespace
        from localstack.services.events.event_bus import EventBusService
        from localstack.services.events.models import events_stores
        from localstack.services.events.provider import EventsProvider
        from localstack.services.events.rule import RuleService
        from driftline_localcloud.persistence_fixes import restore_event_targets

        account, region = "000000000000", "us-east-1"
        bus = EventBusService.create_event_bus_service("driftline-dev", region, account).event_bus
        targets = {
            "Target0": {"Id": "Target0",
                        "Arn": "arn:aws:sqs:us-east-1:000000000000:driftline-dev-failures"},
        }
        rule = RuleService.create_rule_service(
            "on-validated", region, account, None, '{"source": ["driftline.ingest"]}',
            "ENABLED", None, None, None, "driftline-dev", targets,
        ).rule
        bus.rules[rule.name] = rule
        events_stores[account][region].event_buses[bus.name] = bus
        provider = EventsProvider()

        # When the targets are restored
        restored = restore_event_targets(SimpleNamespace(_provider=provider))
        print(json.dumps({
            "restored": restored,
            "senders": sorted(provider._target_sender_store),
            "rules": sorted(provider._rule_services_store),
            "buses": sorted(provider._event_bus_services_store),
        }))
        """,
        hash_seed=4,
    )

    # Then the rule's target has its sender, and the rule and bus their services
    rule_arn = "arn:aws:events:us-east-1:000000000000:rule/driftline-dev/on-validated"
    assert result["restored"] == 1
    assert result["senders"] == [f"{rule_arn}-Target0"]
    assert result["rules"] == [rule_arn]
    assert "arn:aws:events:us-east-1:000000000000:event-bus/driftline-dev" in result["buses"]


def test_kept_endpoints_are_served_again_after_a_load(cloud_python: Path) -> None:
    # Given SageMaker's store as a load leaves it: an endpoint InService with its config,
    # one whose config was deleted, one Failed, and no process serving any of them
    result = run(
        cloud_python,
        """
        import json
        from driftline_localcloud.sagemaker.endpoints import EndpointService
        from driftline_localcloud.sagemaker.store import Stores, arn

        account, region = "000000000000", "us-east-1"
        stores = Stores()
        store = stores.region(account, region)
        config = {"EndpointConfigName": "cfg-v2", "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "m-v2", "InitialVariantWeight": 1.0}]}
        store.endpoint_configs["cfg-v2"] = config
        for name, config_name, status in (
            ("scoring", "cfg-v2", "InService"),
            ("orphan", "cfg-gone", "InService"),
            ("broken", "cfg-v2", "Failed"),
        ):
            store.endpoints[name] = {
                "EndpointName": name, "EndpointArn": arn(account, region, "endpoint", name),
                "EndpointConfigName": config_name, "EndpointStatus": status,
            }
        service = EndpointService.__new__(EndpointService)
        service.stores, service.live = stores, {}
        created = []

        class Deployments:
            def start_create(self, account_, region_, endpoint, config_):
                created.append([endpoint["EndpointName"], config_["EndpointConfigName"]])

        service.deployments = Deployments()

        # When the endpoints are restored
        started = service.restore()
        print(json.dumps({
            "started": started,
            "created": created,
            "status": {n: e["EndpointStatus"] for n, e in store.endpoints.items()},
            "reason": store.endpoints["orphan"].get("FailureReason", ""),
            "live": sorted(service.live),
        }))
        """,
        hash_seed=5,
    )

    # Then the endpoint with its config is created again from that config (Creating until
    # its processes serve), the one without a config fails with a reason, and every one
    # is known to InvokeEndpoint again (which answers "not in service" until InService)
    assert result["started"] == ["scoring"]
    assert result["created"] == [["scoring", "cfg-v2"]]
    assert result["status"] == {"scoring": "Creating", "orphan": "Failed", "broken": "Failed"}
    assert "endpoint config was deleted" in result["reason"]
    assert len(result["live"]) == 3


def test_a_sagemaker_store_saved_before_a_field_existed_loads_with_it_empty(
    cloud_python: Path,
) -> None:
    # Given a region store pickled by an older plugin: no endpoint configs or endpoints
    result = run(
        cloud_python,
        """
        import json, pickle
        from driftline_localcloud.sagemaker.store import RegionStore

        old = RegionStore()
        old.models["m"] = {"ModelName": "m"}
        state = old.__getstate__()
        del state["endpoint_configs"], state["endpoints"]
        saved = pickle.dumps(state)

        # When it is loaded by today's plugin
        store = RegionStore.__new__(RegionStore)
        store.__setstate__(pickle.loads(saved))
        print(json.dumps({"models": sorted(store.models), "configs": store.endpoint_configs,
                          "endpoints": store.endpoints}))
        """,
        hash_seed=6,
    )

    # Then what was saved is there and the new fields are empty, not missing
    assert result == {"models": ["m"], "configs": {}, "endpoints": {}}
