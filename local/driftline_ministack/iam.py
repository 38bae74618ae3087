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
"""

from __future__ import annotations

import hashlib
import ipaddress

from ministack import app
from ministack.core import iam_evaluator


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def pin_request_origin(source_ip: str, secure_transport: bool) -> None:
    iam_evaluator.pin_request_origin(source_ip, secure_transport or _is_loopback(source_ip))


def install() -> None:
    app.pin_request_origin = pin_request_origin


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
