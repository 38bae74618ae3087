"""State that survives a restart: saved at shutdown, loaded at start.

LocalStack's open-source core keeps the pieces of its persistence: every service
exposes its stores through ``accept_state_visitor`` and implements the state lifecycle
hooks (Lambda restarts its functions after a load, S3 flushes its object files before a
save), and ``localstack.state.pickle`` pickles stores. What it lacks is the driver that
calls them, which is this module: at shutdown, every loaded service's state containers
are written under ``DRIFTLINE_LOCAL_STATE_DIR/<service>/`` (stores and moto backends
pickled, asset directories such as S3's object files copied); at start, every saved
service is loaded and its containers are refilled in place, inside the service's
``on_before_state_load``/``on_after_state_load`` hooks. The plugin's own SageMaker store
takes part the same way (``driftline_localcloud.sagemaker.provider``). What the core's
pickling and reloading miss is made up for in ``persistence_fixes`` (locks, Step
Functions executions, SSM parameters, EventBridge target senders) and
``persistence_s3`` (S3's object bytes).

A service whose state cannot be pickled or loaded is skipped with a warning naming it:
the rest still comes back. ``DRIFTLINE_LOCAL_STATE_DIR`` unset means no persistence.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from driftline_localcloud.persistence_fixes import register_reducers, restore_event_targets
from driftline_localcloud.persistence_s3 import load_object_data, save_object_data

LOG = logging.getLogger(__name__)
SAVED = "saved"  # a marker file: the service's folder is complete
OBJECT_DATA = "object-data"  # S3's object bytes (``persistence_s3``)


# Services others depend on when they reload come first: Lambda restarts its functions
# from code kept in S3 and with roles kept in IAM; stacks come last.
LOAD_ORDER: tuple[str, ...] = tuple(
    "iam sts kms s3 sqs sns dynamodb logs events cloudwatch sagemaker stepfunctions lambda "
    "cloudformation".split()
)


def _load_order(folder: Path) -> tuple[int, str]:
    name = folder.name
    return (LOAD_ORDER.index(name) if name in LOAD_ORDER else len(LOAD_ORDER), name)


def state_dir() -> Path | None:
    folder = os.environ.get("DRIFTLINE_LOCAL_STATE_DIR", "").strip()
    return Path(folder) if folder else None


def _label(container: Any, index: int) -> str:
    name = getattr(container, "service_name", "") or getattr(container, "name", "")
    return f"{index:02d}-{type(container).__name__}-{name}".replace("/", "_").replace(".", "_")


class _Visitor:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index = 0

    def visit(self, container: Any) -> None:
        from localstack.state.core import AssetDirectory

        label = _label(container, self.index)
        self.index += 1
        if isinstance(container, AssetDirectory):
            self.directory(container, self.folder / label)
        else:
            self.pickled(container, self.folder / f"{label}.pickle")

    def directory(self, container: Any, path: Path) -> None:
        raise NotImplementedError

    def pickled(self, container: Any, path: Path) -> None:
        raise NotImplementedError


class SaveVisitor(_Visitor):
    def directory(self, container: Any, path: Path) -> None:
        if Path(container.path).is_dir():
            shutil.copytree(container.path, path, dirs_exist_ok=True)

    def pickled(self, container: Any, path: Path) -> None:
        from localstack.state import pickle

        path.write_bytes(pickle.dumps(container))


class LoadVisitor(_Visitor):
    def directory(self, container: Any, path: Path) -> None:
        if path.is_dir():
            target = Path(container.path)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copytree(path, target, dirs_exist_ok=True)

    def pickled(self, container: Any, path: Path) -> None:
        from localstack.state import pickle

        if not path.is_file():
            return
        loaded = pickle.loads(path.read_bytes())
        refill(container, loaded)


def refill(container: Any, loaded: Any) -> None:
    """Puts ``loaded``'s content into ``container``, which the providers hold.

    Locks are not state: a lock pickled while a request held it would come back held, so
    the live container keeps its own, and the region bundles below an account bundle
    share it again, as LocalStack creates them.
    """
    lock = getattr(container, "lock", None)
    if hasattr(container, "__dict__") and hasattr(loaded, "__dict__"):
        container.__dict__.update(loaded.__dict__)
    if isinstance(container, dict):
        container.clear()
        container.update(loaded)
    if lock is not None:
        container.lock = lock
        for value in container.values() if isinstance(container, dict) else ():
            if hasattr(value, "lock") and hasattr(value, "account_id"):
                value.lock = lock


def save_all() -> None:
    """Writes every loaded service's state; called by a shutdown hook."""
    from localstack.services.plugins import SERVICE_PLUGINS

    root = state_dir()
    if root is None:
        return
    register_reducers()
    for name in SERVICE_PLUGINS.list_loaded_services():
        service = SERVICE_PLUGINS.get_service(name)
        folder = root / name
        staging = root / f".{name}.saving"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        LOG.info("saving the state of %s", name)
        try:
            service.lifecycle_hook.on_before_state_save()
            service.accept_state_visitor(SaveVisitor(staging))
            if name == "s3":
                save_object_data(service, staging / OBJECT_DATA)
            service.lifecycle_hook.on_after_state_save()
        except Exception as error:  # one service must not cost the others their state
            LOG.warning("state of %s not saved: %s: %s", name, type(error).__name__, error)
            shutil.rmtree(staging, ignore_errors=True)
            continue
        (staging / SAVED).touch()
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    LOG.info("state saved in %s", root)


def load_all() -> list[str]:
    """Loads every saved service's state; returns the services loaded."""
    from localstack.services.plugins import SERVICE_PLUGINS

    root = state_dir()
    if root is None or not root.is_dir():
        return []
    loaded = []
    for folder in sorted(root.iterdir(), key=_load_order):
        if not (folder / SAVED).is_file():
            continue
        name = folder.name
        LOG.info("loading the state of %s", name)
        try:
            service = SERVICE_PLUGINS.require(name)
            service.lifecycle_hook.on_before_state_load()
            service.accept_state_visitor(LoadVisitor(folder))
            if name == "s3":
                load_object_data(service, folder / OBJECT_DATA)
            service.lifecycle_hook.on_after_state_load()
            if name == "events":
                restore_event_targets(service)
            if name == "lambda":
                wait_for_functions()
        except Exception as error:
            LOG.warning("state of %s not loaded: %s: %s", name, type(error).__name__, error)
            continue
        loaded.append(name)
    LOG.info("state loaded from %s: %s", root, ", ".join(loaded) or "nothing")
    return loaded


def wait_for_functions(timeout: float = 180) -> None:
    """Lambda restarts each function version in the background; until they are active,
    invocations fail with ``ResourceConflictException``, so the load waits for them."""
    import time

    from localstack.aws.api.lambda_ import State
    from localstack.services.lambda_.invocation.models import lambda_stores

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [
            version.id.qualified_arn()
            for regions in lambda_stores.values()
            for store in regions.values()
            for function in store.functions.values()
            for version in function.versions.values()
            if version.config.state.state == State.Pending
        ]
        if not pending:
            return
        time.sleep(0.5)
    LOG.warning("functions still pending after the state load: %s", ", ".join(pending))
