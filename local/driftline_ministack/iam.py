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
