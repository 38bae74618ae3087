"""Starts MiniStack with driftline's additions, on the addresses it was given only.

MiniStack has no plugin entry points: its services, Step Functions integrations and
CloudFormation resource types live in module-level tables. The launcher runs
``python -m driftline_ministack.serve`` instead of ``ministack``; this module registers
driftline's additions into those tables, then serves MiniStack's ASGI app with
Hypercorn bound to each address in ``DRIFTLINE_LISTEN`` (loopback unless the user
opted in to more), which MiniStack's own ``BIND_HOST`` can name only one of. SIGTERM
ends it gracefully, so that MiniStack's shutdown (and its saving of state, when
persistence is on) runs, and SageMaker's job processes are ended with it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

LISTEN_VARIABLE = "DRIFTLINE_LISTEN"
WORK_ROOT_VARIABLE = "DRIFTLINE_SAGEMAKER_WORK"


def bind_addresses(listen: str, port: str) -> list[str]:
    """``127.0.0.1,::1`` -> ``["127.0.0.1:4566", "[::1]:4566"]`` (Hypercorn's form)."""
    addresses = [a.strip() for a in listen.split(",") if a.strip()]
    if not addresses:
        raise SystemExit(f"{LISTEN_VARIABLE} names no address to listen on")
    return [f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in addresses]


def main() -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from ministack import app

    from driftline_ministack import (
        cloudformation,
        cloudwatch_alarms,
        faults,
        iam,
        iam_denials,
        iam_resources,
        lambda_checks,
        lambda_errors,
        lambda_invocations,
        lambda_metrics,
        lambda_queue,
        lambda_runtime,
        logs,
        sagemaker_api,
        sagemaker_state,
        stepfunctions_iam,
        stepfunctions_result_writer,
        stepfunctions_sagemaker,
    )

    gateway = sagemaker_api.register(Path(os.environ[WORK_ROOT_VARIABLE]))
    stepfunctions_sagemaker.register(gateway)
    sagemaker_state.register(gateway.provider, gateway.handle_request)
    stepfunctions_result_writer.install()
    stepfunctions_iam.install()
    cloudformation.register()
    iam.install()
    iam_denials.install()  # after iam: its logging then reads the worded denial
    iam_resources.install()
    lambda_errors.install()
    lambda_queue.install()
    lambda_runtime.install()
    logs.install()
    cloudwatch_alarms.install()
    lambda_metrics.install()
    faults.hook_lambda_faults()
    lambda_invocations.install()  # after the error types and the faults it measures
    lambda_checks.install()

    config = Config()
    config.bind = bind_addresses(os.environ.get(LISTEN_VARIABLE, ""), app._resolve_port())
    config.keep_alive_timeout = 75
    config.loglevel = app.LOG_LEVEL

    async def run() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await serve(faults.with_fault_route(app.app), config, shutdown_trigger=stopping.wait)

    try:
        asyncio.run(run())
    finally:
        gateway.provider.shutdown()


if __name__ == "__main__":
    main()
