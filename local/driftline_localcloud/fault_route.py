"""The fault-injection route on LocalStack's gateway (``/_driftline/faults``).

The registry itself (``faults.py``) knows no base; this mounts its answers on
LocalStack's router.
"""

from __future__ import annotations

import json

from localstack.http import Request, Response, route
from localstack.services.edge import ROUTER
from localstack.utils.objects import singleton_factory

from driftline_localcloud.faults import FAULTS_PATH, faults


class FaultRoute:
    @route(FAULTS_PATH, methods=["GET", "POST", "DELETE"])
    def endpoint(self, request: Request) -> Response:
        status, document = faults().handle(request.method, request.get_data())
        body = json.dumps(document) if document is not None else ""
        return Response(body, status, mimetype="application/json")


@singleton_factory
def mount_fault_route() -> None:
    ROUTER.add(FaultRoute())
