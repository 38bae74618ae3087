"""The roles the end-to-end tests give the functions, jobs and state machines they make.

The local cloud checks a role's calls against its policies, as AWS does, so a resource
a test creates needs a role that exists, trusts the service that assumes it and allows
what the test's code calls, and nothing more: a function's logs and the bucket listing
one test makes; a SageMaker job's own test buckets and logs; a test state machine's
SageMaker calls, the role it passes and the rule ``.sync`` follows jobs with. The
tests' job, model and state machine names are random, so SageMaker actions are granted
on any resource, and only the actions the tests use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from driftline.localcloud import ACCOUNT_ID

FUNCTION_ROLE = "driftline-test-function"
SAGEMAKER_ROLE = "driftline-test-sagemaker"
# The buckets the SageMaker tests create (tests/e2e/test_sagemaker_local.py,
# test_processing_jobs.py and test_endpoints_local.py).
SAGEMAKER_TEST_BUCKETS = ("driftline-sagemaker-test-*", "driftline-endpoint-test-*")
SAGEMAKER_JOBS = ("TrainingJob", "TransformJob", "ProcessingJob")


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"


@dataclass(frozen=True)
class ResourceRole:
    name: str
    services: tuple[str, ...]
    statements: tuple[dict[str, Any], ...]

    @property
    def arn(self) -> str:
        return role_arn(self.name)

    def trust(self) -> str:
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": list(self.services)},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )

    def policy(self) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(self.statements)})


def logs_of(*groups: str) -> dict[str, Any]:
    """Writing to the log groups named (``*`` allowed), as a service's runtime does."""
    return {
        "Effect": "Allow",
        "Action": [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "logs:DescribeLogStreams",
        ],
        "Resource": [
            f"arn:aws:logs:*:{ACCOUNT_ID}:log-group:{group}{suffix}"
            for group in groups
            for suffix in ("", ":*")
        ],
    }


FUNCTION = ResourceRole(
    FUNCTION_ROLE,
    ("lambda.amazonaws.com",),
    (
        logs_of("/aws/lambda/driftline-test-*"),
        # tests/e2e/test_lambda_runtime.py: the runtime's boto3 lists the buckets
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    ),
)
SAGEMAKER = ResourceRole(
    SAGEMAKER_ROLE,
    ("sagemaker.amazonaws.com", "states.amazonaws.com"),
    (
        # The jobs' and endpoints' own calls: their inputs, outputs, code and captures.
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/*" for bucket in SAGEMAKER_TEST_BUCKETS],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": [f"arn:aws:s3:::{bucket}" for bucket in SAGEMAKER_TEST_BUCKETS],
        },
        logs_of("/aws/sagemaker/*"),
        # The test state machines' SageMaker tasks, .sync included.
        {
            "Effect": "Allow",
            "Action": [
                "sagemaker:CreateModel",
                # test_endpoints_local.py: the endpoint calls the deployment races on.
                "sagemaker:CreateEndpoint",
                "sagemaker:UpdateEndpoint",
                *(
                    f"sagemaker:{verb}{job}"
                    for job in SAGEMAKER_JOBS
                    for verb in ("Create", "Describe", "Stop")
                ),
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role_arn(SAGEMAKER_ROLE),
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": [
                f"arn:aws:events:*:{ACCOUNT_ID}:rule/StepFunctionsGetEventsForSageMaker{job}sRule"
                for job in SAGEMAKER_JOBS
            ],
        },
    ),
)
TEST_ROLES = (FUNCTION, SAGEMAKER)


def ensure_roles(iam: Any) -> None:
    """Creates the test roles, or brings existing ones up to date (trust and policy)."""
    for role in TEST_ROLES:
        try:
            iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=role.trust())
        except iam.exceptions.EntityAlreadyExistsException:
            iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=role.trust())
        iam.put_role_policy(
            RoleName=role.name, PolicyName="driftline-test", PolicyDocument=role.policy()
        )
