"""IAM enforcement in LocalStack's gateway, on by default (``DRIFTLINE_LOCAL_IAM=0`` turns it off).

Every request signed with a role's temporary credentials is checked when that role is
one an AWS service assumes for the app: its trust policy names Lambda, Step Functions,
SageMaker or EventBridge. Those are the calls a function, a state machine's tasks and
integrations, a SageMaker job or a rule's target makes. The user's own credentials, and
roles the user assumes (CDK's bootstrap roles, which trust the account), stay allowed,
as they hold administrator rights in any account driftline deploys to.

A check reads the role's inline and attached policies and its permissions boundary from
LocalStack's IAM store, the target's resource policy (bucket, queue, topic, key), and
evaluates them with ``driftline_localcloud.iam.policy``. A denied call gets the error
AWS's service would return, and the local cloud's log names the role, the action and the
resource.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import unquote

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.chain import HandlerChain
from localstack.http import Response
from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

from driftline_localcloud.iam.actions import Call, Check, checks
from driftline_localcloud.iam.policy import Document, Outcome, Request, evaluate, parse

LOG = logging.getLogger(__name__)

SERVICE_PRINCIPALS = frozenset(
    f"{service}.amazonaws.com" for service in ("lambda", "states", "sagemaker", "events")
)
# The error code each protocol's clients expect for a denied call.
ERROR_CODES = {"s3": "AccessDenied", "sqs": "AccessDenied", "sts": "AccessDenied"}
ERROR_CODES |= {"iam": "AccessDenied", "monitoring": "AccessDenied", "sns": "AuthorizationError"}
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def enabled() -> bool:
    return os.environ.get("DRIFTLINE_LOCAL_IAM", "1").strip().lower() not in ("0", "false", "no")


class AccessDenied(CommonServiceException):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code=code, message=message, status_code=403, sender_fault=True)


class IamEnforcer:
    """A request handler placed after LocalStack has parsed the service request."""

    def __call__(self, chain: HandlerChain, context: RequestContext, response: Response) -> None:
        if context.service is None or context.operation is None:
            return
        if _lambda_log_delivery(context):
            return
        identity = _identity(context)
        if identity is None:
            return
        role_arn, account, policies, boundary = identity
        service = context.service.service_name
        call = Call(
            service=service,
            operation=context.operation.name,
            parameters=context.service_request or {},
            account=context.account_id or account,
            region=context.region or "us-east-1",
        )
        secure = "true" if _from_loopback(context) else "false"
        for check in [*checks(call), *_s3_key_checks(call)]:
            outcome = _check(check, call, role_arn, account, policies, boundary, secure)
            if not outcome.allowed:
                message = (
                    f"User: {role_arn} is not authorized to perform: {check.action} on "
                    f"resource: {check.resource} because {_why(outcome)}"
                )
                LOG.warning("IAM denied: %s (DRIFTLINE_LOCAL_IAM=0 turns checks off)", message)
                raise AccessDenied(ERROR_CODES.get(service, "AccessDeniedException"), message)


def _lambda_log_delivery(context: RequestContext) -> bool:
    """LocalStack's Lambda answers a missing log stream with ``CreateLogGroup`` before
    ``CreateLogStream``, as the function's role; AWS's creates the stream only, which
    the role is granted (and is checked here). So ``CreateLogGroup`` for a group that
    exists is not held against the role: it would only fail with ``ResourceAlreadyExists``."""
    if context.service.service_name != "logs" or context.operation.name != "CreateLogGroup":
        return False
    from moto.logs.models import logs_backends

    name = (context.service_request or {}).get("logGroupName")
    backend = logs_backends[context.account_id][context.region]
    return name in backend.groups


def _why(outcome: Outcome) -> str:
    if outcome.boundary and outcome.statement:
        return f"statement {outcome.statement} of its permissions boundary explicitly denies it"
    if outcome.boundary:
        return "no permissions boundary allows it"
    if outcome.statement:
        return f"statement {outcome.statement} explicitly denies it"
    return "no identity-based or resource-based policy allows it"


def _check(
    check: Check,
    call: Call,
    role_arn: str,
    account: str,
    policies: list[Document],
    boundary: Document | None,
    secure: str,
) -> Outcome:
    context = {
        "aws:SecureTransport": secure,
        "aws:PrincipalArn": role_arn,
        "aws:PrincipalAccount": account,
        "aws:RequestedRegion": call.region,
        **check.context,
    }
    resource_policy, required = _resource_policy(check, call)
    request = Request(role_arn, account, check.action, check.resource, context)
    return evaluate(
        request, policies, resource_policy, resource_policy_required=required, boundary=boundary
    )


def _from_loopback(context: RequestContext) -> bool:
    """Loopback and in-process calls count as TLS: AWS's endpoints are TLS-only anyway."""
    remote = getattr(context.request, "remote_addr", None)
    return not remote or remote in LOOPBACK


def _identity(
    context: RequestContext,
) -> tuple[str, str, list[Document], Document | None] | None:
    """The role, its account, its policies and its permissions boundary (None: it has
    none), for a service-assumed role's credentials."""
    from localstack.services.iam.models import iam_stores
    from localstack.services.sts.models import sts_stores

    key = extract_access_key_id_from_auth_header(context.request.headers)
    if not key:
        credential = context.request.args.get("X-Amz-Credential", "")
        key = credential.split("/", 1)[0]
    if not key:
        return None
    credentials = sts_stores["000000000000"]["us-east-1"].credentials.get(key)
    if credentials is None or ":assumed-role/" not in credentials.arn:
        return None
    account = credentials.account_id
    role_name = credentials.arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    store = iam_stores[account]["us-east-1"]
    role = store.ROLES.get(role_name)
    if role is None or not _assumed_by_a_service(role.role.get("AssumeRolePolicyDocument")):
        return None
    policies = [parse(document) for document in role.inline_policies.values()]
    for arn in role.attached_policy_arns:
        if document := _managed_policy(store, arn):
            policies.append(document)
    return str(role.role["Arn"]), account, policies, _boundary(store, role.role)


def _boundary(store: Any, role: Mapping[str, Any]) -> Document | None:
    """The role's permissions boundary; one whose policy is not found allows nothing, so
    a missing policy never widens what the role may do."""
    arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if not arn:
        return None
    document = _managed_policy(store, str(arn))
    if document is None:
        LOG.warning("IAM: the permissions boundary %s of %s is not found", arn, role.get("Arn"))
        return {"Version": "2012-10-17", "Statement": []}
    return document


def _assumed_by_a_service(trust: str | Mapping[str, Any] | None) -> bool:
    if not trust:
        return False
    for statement in parse(trust).get("Statement", []):
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if SERVICE_PRINCIPALS.intersection(services):
            return True
    return False


def _managed_policy(store: Any, arn: str) -> Document | None:
    policy = store.MANAGED_POLICIES.get(arn)
    if policy is not None:
        version = policy.versions.get(policy.policy.get("DefaultVersionId", "v1"))
        return parse(version["Document"]) if version else None
    if ":iam::aws:policy/" in arn:
        found = _aws_managed_policies().get(arn.rsplit("/", 1)[-1])
        return found["Document"] if found else None
    return None


@cache
def _aws_managed_policies() -> dict[str, Any]:
    path = resources.files("localstack.services.iam") / "resources" / "aws_managed_policies.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _resource_policy(check: Check, call: Call) -> tuple[str | None, bool]:
    """The target's resource policy, and whether it must allow (KMS key policies)."""
    service = check.action.split(":", 1)[0]
    try:
        if service == "s3" and check.resource.startswith("arn:"):
            return _bucket_policy(check.resource.split(":::", 1)[1].split("/", 1)[0]), False
        if service == "sqs":
            return _queue_policy(check.resource), False
        if service == "sns":
            return _topic_policy(check.resource, call), False
        if service == "kms":
            return _key_policy(check.resource, call)
    except (KeyError, IndexError, AttributeError):
        LOG.debug("no resource policy found for %s", check.resource)
    return None, False


def _bucket(name: str) -> Any:
    """LocalStack's bucket of that name, in whichever account and region holds it."""
    from localstack.services.s3.models import s3_stores

    owner = s3_stores["000000000000"]["us-east-1"].global_bucket_map.get(name)
    if owner is None:
        return None
    for region_store in s3_stores[owner].values():
        if found := region_store.buckets.get(name):
            return found
    return None


def _bucket_policy(name: str) -> str | None:
    bucket = _bucket(name)
    policy = bucket.policy if bucket is not None else None
    return policy if isinstance(policy, str) or policy is None else json.dumps(policy)


def _queue_policy(arn: str) -> str | None:
    from localstack.services.sqs.models import sqs_stores

    _, _, _, region, account, name = arn.split(":", 5)
    queue = sqs_stores[account][region].queues.get(name)
    return queue.attributes.get("Policy") if queue is not None else None


def _topic_policy(arn: str, call: Call) -> str | None:
    from localstack.services.sns.models import sns_stores

    _, _, _, region, account, _ = arn.split(":", 5)
    topic = sns_stores[account][region].topics.get(arn)
    return topic["attributes"].get("Policy") if topic else None


def _key_policy(arn: str, call: Call) -> tuple[str | None, bool]:
    from localstack.services.kms.models import kms_stores

    _, _, _, region, account, resource = arn.split(":", 5)
    store = kms_stores[account][region]
    if resource.startswith("alias/"):
        alias = store.aliases.get(resource)
        if alias is None:
            return None, False
        resource = f"key/{alias.metadata['TargetKeyId']}"
    key = store.keys.get(resource.removeprefix("key/"))
    return (key.policy, True) if key is not None else (None, False)


S3_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart"})
S3_READS = frozenset({"GetObject", "HeadObject", "CopyObject"})


def _s3_key_checks(call: Call) -> list[Check]:
    """What S3 asks KMS for the caller: a data key to write into a bucket whose default
    encryption is a KMS key (or with a key named in the request), decryption to read an
    object encrypted with one; ``kms:ViaService`` names S3."""
    if call.service != "s3" or not call.parameters.get("Bucket"):
        return []
    bucket = _bucket(str(call.parameters["Bucket"]))
    if bucket is None:
        return []
    via = {"kms:ViaService": f"s3.{call.region}.amazonaws.com"}
    found: list[Check] = []
    if call.operation in S3_WRITES and (key := _write_key(call, bucket)):
        found.append(Check("kms:GenerateDataKey", _key_arn(key, call), via))
    if call.operation in S3_READS:
        if call.operation == "CopyObject":
            source_bucket, _, source_key = (
                unquote(str(call.parameters.get("CopySource", ""))).lstrip("/").partition("/")
            )
        else:
            source_bucket, source_key = bucket.name, str(call.parameters.get("Key", ""))
        stored = _stored_object(source_bucket, source_key.split("?", 1)[0])
        if stored is not None and stored.kms_key_id:
            found.append(Check("kms:Decrypt", _key_arn(str(stored.kms_key_id), call), via))
    return found


def _write_key(call: Call, bucket: Any) -> str | None:
    if key := call.parameters.get("SSEKMSKeyId"):
        return str(key)
    rule = (bucket.encryption_rule or {}).get("ApplyServerSideEncryptionByDefault") or {}
    if rule.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse") and rule.get("KMSMasterKeyID"):
        return str(rule["KMSMasterKeyID"])
    return None


def _stored_object(bucket_name: str, key: str) -> Any:
    bucket = _bucket(bucket_name)
    if bucket is None:
        return None
    try:
        return bucket.objects.get(key)
    except Exception:  # a delete marker or a missing key: S3 answers that itself
        return None


def _key_arn(key: str, call: Call) -> str:
    if key.startswith("arn:"):
        return key
    return call.arn("kms", key if key.startswith("alias/") else f"key/{key}")
