"""Node.js custom resources on the local cloud: CDK's ``auto_delete_objects`` and the
provider framework (``custom_resources.Provider``), deployed with the project's CDK CLI.

Both are Lambda-backed custom resources whose handlers are Node.js functions that CDK
ships (the provider framework's ``onEvent`` wrapper calls a Python function of ours).
The stack is deployed into the running local cloud, an object is put in the bucket,
and the stack is destroyed: the bucket must be gone with its object, as on AWS.

    python -m benchmarks.node_custom_resources           # against the running local cloud
    python -m benchmarks.node_custom_resources app       # the CDK app itself (cdk --app)

Prints one line per check and returns non-zero when one fails (the README's base
comparison records the outcome).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from driftline import deploy
from driftline.localcloud import ACCOUNT_ID, REGION, ROOT, LocalCloud
from driftline.target import Target

STACK = "driftline-bench-node-custom-resources"
OUT = ROOT / "build" / "bench-node-custom-resources.out"
ON_EVENT = """
def handler(event, context):
    name = event["ResourceProperties"]["Name"]
    return {"PhysicalResourceId": "widget-" + name, "Data": {"Greeting": "hello " + name}}
"""


def app() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda, aws_s3, custom_resources

    root = cdk.App(outdir=str(OUT))
    stack = cdk.Stack(root, STACK, env=cdk.Environment(account=ACCOUNT_ID, region=REGION))
    bucket = aws_s3.Bucket(
        stack, "Scratch", removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True
    )
    on_event = aws_lambda.Function(
        stack,
        "OnEvent",
        runtime=aws_lambda.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=aws_lambda.Code.from_inline(ON_EVENT),
    )
    provider = custom_resources.Provider(stack, "Provider", on_event_handler=on_event)
    widget = cdk.CustomResource(
        stack, "Widget", service_token=provider.service_token, properties={"Name": "blue"}
    )
    cdk.CfnOutput(stack, "BucketName", value=bucket.bucket_name)
    cdk.CfnOutput(stack, "Greeting", value=widget.get_att_string("Greeting"))
    root.synth()


@dataclass
class Outcome:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append((name, passed, detail))
        return passed

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)

    def summary(self) -> str:
        if self.passed:
            return "works (deploy, Data via the provider framework, auto-delete on destroy)"
        failed = next((name, detail) for name, ok, detail in self.checks if not ok)
        return f"fails at {failed[0]}: {failed[1]}"


def last_lines(error: Exception, count: int = 6) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines[-count:])


def measure(cloud: LocalCloud) -> Outcome:
    outcome = Outcome()
    command = [sys.executable, "-m", "benchmarks.node_custom_resources", "app"]
    cdk_app = ["--app", " ".join(command), "--output", str(OUT)]
    try:
        deploy.bootstrap_local(cloud)
        deploy.run_cdk(["deploy", STACK, "--require-approval", "never", *cdk_app], cloud)
    except deploy.DeployError as error:
        outcome.add("deploy", False, last_lines(error))
        return outcome
    outcome.add("deploy", True)
    target = Target("local")
    stacks = target.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    greeting = outputs.get("Greeting")
    outcome.add("provider framework Data", greeting == "hello blue", f"Greeting={greeting!r}")
    s3 = target.client("s3")
    bucket = outputs["BucketName"]
    s3.put_object(Bucket=bucket, Key="left/behind.txt", Body=b"x")
    try:
        deploy.run_cdk(["destroy", STACK, "--force", *cdk_app], cloud)
    except deploy.DeployError as error:
        outcome.add("destroy", False, last_lines(error))
        return outcome
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    outcome.add("auto-delete on destroy", bucket not in names, f"{bucket} still exists")
    return outcome


def main() -> int:
    if sys.argv[1:] == ["app"]:
        app()
        return 0
    cloud = LocalCloud()
    if not cloud.is_running():
        raise SystemExit("Start the local cloud first (driftline local up --no-deploy).")
    Path(OUT).mkdir(parents=True, exist_ok=True)
    outcome = measure(cloud)
    for name, passed, detail in outcome.checks:
        print(f"{name:<28} {'ok' if passed else 'FAILED'}  {'' if passed else detail}")
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
