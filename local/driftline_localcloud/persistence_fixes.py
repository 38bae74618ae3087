"""What the core's pickling and reloading miss, service by service (``persistence`` uses it).

At save time, reducers registered with ``localstack.state.pickle`` keep only what a
restart can use: locks come back new and unheld; moto's SSM parameter dict is rebuilt
with its account and region (its pickled form cannot be constructed); a Step Functions
execution keeps its description and event history but not its worker (threads, clients,
the running program), and one still running comes back ABORTED, as its worker ended
with the process. After a load, EventBridge's targets get the senders the provider keeps
outside its stores, as ``PutTargets`` would create them.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

LOG = logging.getLogger(__name__)
STOPPED_CAUSE = "The local cloud stopped while the execution ran."


def register_reducers() -> None:
    """Registers the reducers; called before a save."""
    import _thread

    from localstack.services.stepfunctions.backend.execution import Execution
    from localstack.state import pickle

    pickle.add_dispatch_entry(_thread.LockType, _reduce_lock)
    pickle.add_dispatch_entry(_thread.RLock, _reduce_rlock)
    pickle.add_dispatch_entry(Execution, _reduce_execution, subclasses=True)
    try:
        from moto.ssm.models import ParameterDict
    except ImportError:  # SSM's backend is not installed: nothing of it to save
        return
    pickle.add_dispatch_entry(ParameterDict, _reduce_parameter_dict)


# -- locks: dill keeps an RLock's owner and count, so a lock held while its store was
# saved would come back held by a thread that no longer exists.
def _reduce_lock(pickler: Any, lock: Any) -> None:
    import _thread

    pickler.save_reduce(_thread.allocate_lock, (), obj=lock)


def _reduce_rlock(pickler: Any, lock: Any) -> None:
    import _thread

    pickler.save_reduce(_thread.RLock, (), obj=lock)


# -- SSM ---------------------------------------------------------------------------------
def _reduce_parameter_dict(pickler: Any, parameters: Any) -> None:
    flags = {k: v for k, v in vars(parameters).items() if k not in ("account_id", "region_name")}
    pickler.save_reduce(
        parameter_dict,
        (parameters.account_id, parameters.region_name, dict(parameters), flags),
        obj=parameters,
    )


def parameter_dict(account: str, region: str, items: dict[str, Any], flags: dict[str, Any]) -> Any:
    from moto.ssm.models import ParameterDict

    parameters = ParameterDict(account, region)
    parameters.update(items)
    vars(parameters).update(flags)
    return parameters


# -- Step Functions ----------------------------------------------------------------------
class KeptHistory:
    """Stands in for a finished execution's worker: ``GetExecutionHistory`` reads
    ``exec_worker.env.event_manager.get_event_history()``."""

    def __init__(self, events: list[Any]) -> None:
        self.env = self
        self.event_manager = self
        self.events = events

    def get_event_history(self) -> list[Any]:
        return self.events

    def stop(self, stop_date: Any, error: str | None, cause: str | None) -> None:
        """A finished execution has nothing to stop."""


def _reduce_execution(pickler: Any, execution: Any) -> None:
    from localstack.aws.api.stepfunctions import ExecutionStatus

    state = dict(vars(execution))
    worker = state.pop("exec_worker", None)
    try:
        events = list(worker.env.event_manager.get_event_history()) if worker else []
    except Exception as error:  # the history is a nicety; the description must be kept
        LOG.warning("history of %s not kept: %s", execution.exec_arn, error)
        events = []
    state["exec_worker"] = KeptHistory(events)
    # Sessions and stores of the running process; the next one has its own.
    state["_cloud_watch_logging_session"] = None
    state["_activity_store"] = None
    if state.get("exec_status") in (None, ExecutionStatus.RUNNING):
        state["exec_status"] = ExecutionStatus.ABORTED
        state["stop_date"] = datetime.datetime.now(tz=datetime.UTC)
        state["error"] = "States.Runtime"
        state["cause"] = STOPPED_CAUSE
    pickler.save_reduce(execution_from_state, (type(execution), state), obj=execution)


def execution_from_state(cls: type, state: dict[str, Any]) -> Any:
    execution: Any = object.__new__(cls)
    vars(execution).update(state)
    return execution


# -- EventBridge -------------------------------------------------------------------------
def restore_event_targets(service: Any) -> int:
    """Recreates the rule services and target senders the events provider keeps beside
    its stores, and the schedules of scheduled rules; returns the targets restored."""
    from localstack.services.events.event_bus import EventBusService
    from localstack.services.events.models import events_stores
    from localstack.services.events.rule import RuleService

    provider = service._provider
    restored = 0
    for account, regions in events_stores.items():
        for region, store in regions.items():
            for bus in store.event_buses.values():
                provider._event_bus_services_store[bus.arn] = EventBusService(bus)
                for rule in bus.rules.values():
                    rule_service = RuleService(rule)
                    provider._rule_services_store[rule.arn] = rule_service
                    for target in rule.targets.values():
                        provider.create_target_sender(target, rule.arn, rule.name, region, account)
                        restored += 1
                    if rule_service.schedule_cron:
                        rule_service.create_schedule_job(
                            provider._get_scheduled_rule_job_function(account, region, rule)
                        )
    return restored
