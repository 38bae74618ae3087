"""IAM enforcement (MiniStack's ``AUTH=true``) with the app's TLS-only bucket policies.

The app's buckets and CDK's bootstrap bucket deny every request without
``aws:SecureTransport`` (cdk-nag asks for it, and it is right on AWS). MiniStack
evaluates that key from the connection's scheme, and the local cloud speaks plain HTTP,
so with enforcement on, CDK could not even publish its assets ("Bucket ... exists, but
we dont have access to it"). A connection to the loopback address never crosses a
network, which is what TLS protects against here, so it counts as secure transport;
a connection from another address (``driftline local up --listen``) does not, and the
TLS-only policies refuse it as AWS would refuse plain HTTP. The policies stay exactly
as the app declares them.

MiniStack answers a denial without a word in its log; ``install`` also has every denial
logged (``IAM denied: User: <principal> is not authorized to perform: <action> on
resource: <arn> ...``), so ``.localcloud/ministack.log`` says which role was refused
what, whichever service answered.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from typing import Any

from ministack import app
from ministack.core import iam_actions, iam_evaluator

logger = logging.getLogger(__name__)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def pin_request_origin(source_ip: str, secure_transport: bool) -> None:
    iam_evaluator.pin_request_origin(source_ip, secure_transport or _is_loopback(source_ip))


def logging_denials(respond: Any) -> Any:
    """MiniStack's denial response, with the denial logged first."""

    def access_denied_response(
        service: str, action: str, principal_arn: str, request_id: str, **details: Any
    ) -> Any:
        logger.warning(
            "IAM denied: %s",
            details.get("message")
            or iam_actions.identity_denial_message(
                action,
                principal_arn,
                str(details.get("resource_arn") or "*"),
                bool(details.get("explicit_deny")),
            ),
        )
        return respond(service, action, principal_arn, request_id, **details)

    return access_denied_response


def install() -> None:
    app.pin_request_origin = pin_request_origin
    if not getattr(iam_actions.access_denied_response, "driftline", False):
        iam_actions.access_denied_response = logging_denials(iam_actions.access_denied_response)
        iam_actions.access_denied_response.driftline = True


def role_credentials(account: str, role_arn: str, service: str) -> dict[str, str]:
    """Keys of a session of ``role_arn`` that ``service`` (SageMaker, Step Functions)
    calls with on the gateway, registered the way MiniStack's Lambda executor registers
    one for a function's execution role: the calls are checked against the role's
    policies, as on AWS. The same role and service always get the same keys."""
    from ministack.services import sts

    digest = hashlib.sha256(f"{service.lower()}:{role_arn}".encode()).hexdigest()
    access_key = f"ASIA{digest[:16].upper()}"
    secret = hashlib.sha256(f"secret:{digest}".encode()).hexdigest()
    token = hashlib.sha256(f"token:{digest}".encode()).hexdigest()
    role_name = role_arn.rsplit("/", 1)[-1]
    sts.register_session(
        access_key,
        {
            "Arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{service}",
            "UserId": f"{role_name}:{service}",
            "SecretAccessKey": secret,
            "SessionToken": token,
        },
    )
    return {
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": token,
    }
