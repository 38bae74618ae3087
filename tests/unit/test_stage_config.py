"""Stage configuration from cdk.json context."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from driftline_runtime import layout, names
from pydantic import ValidationError

from infra.config import STAGES_KEY, load_stage_config

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)

CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]


def lookup(overrides: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    values = {**CONTEXT, **(overrides or {})}
    return values.get


def test_dev_is_the_default_stage() -> None:
    config = load_stage_config(lookup(), account=None, region=None)
    assert config.stage == "dev"
    assert config.prefix == "driftline-dev"


def test_prod_keeps_data_on_removal() -> None:
    config = load_stage_config(
        lookup({"stage": "prod"}), account="123456789012", region="eu-west-1"
    )
    assert config.destroy_on_removal is False
    assert config.account == "123456789012"


def test_single_values_can_be_overridden_from_the_command_line() -> None:
    # Given `cdk synth -c driftline:log_retention_days=30` (context values arrive as strings)
    config = load_stage_config(lookup({"driftline:log_retention_days": "30"}), None, None)
    assert config.log_retention_days == 30


def test_unknown_stage_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown stage 'qa'.*\['dev', 'prod'\]"):
        load_stage_config(lookup({"stage": "qa"}), None, None)


def test_invalid_value_fails_instead_of_defaulting() -> None:
    with pytest.raises(ValidationError, match="lambda_architecture"):
        load_stage_config(lookup({"driftline:lambda_architecture": "sparc"}), None, None)


def test_every_declared_dataset_name_is_valid_in_sagemaker_names() -> None:
    # Dataset names become part of training job, model and package group names:
    # [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, with the longest prefix driftline adds.
    import re

    from driftline_contracts import datasets

    for name in datasets():
        group = f"driftline-{'x' * 10}-{name}"
        job = names.sagemaker_name("x" * 10, name, "12345678-20261127093000-99999")
        for sagemaker_name in (group, job):
            assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", sagemaker_name), sagemaker_name


def test_sagemaker_vpc_comes_as_comma_separated_ids_and_needs_both_parts() -> None:
    # Given subnets and security groups on the command line (one string each)
    config = load_stage_config(
        lookup(
            {
                "driftline:sagemaker_subnet_ids": "subnet-0a1, subnet-0b2",
                "driftline:sagemaker_security_group_ids": "sg-0c3",
            }
        ),
        None,
        None,
    )
    assert config.sagemaker_subnet_ids == ("subnet-0a1", "subnet-0b2")
    assert config.sagemaker_security_group_ids == ("sg-0c3",)
    # Then subnets without security groups are refused, naming both settings
    with pytest.raises(ValidationError, match="sagemaker_security_group_ids are set together"):
        load_stage_config(lookup({"driftline:sagemaker_subnet_ids": "subnet-0a1"}), None, None)


def test_alarm_email_is_optional_but_checked() -> None:
    assert load_stage_config(lookup(), None, None).alarm_email is None
    with pytest.raises(ValidationError, match="alarm_email"):
        load_stage_config(lookup({"driftline:alarm_email": "not-an-address"}), None, None)


def test_a_cdk_json_with_the_old_drift_thresholds_says_where_they_went() -> None:
    # Given a stage still carrying the PSI thresholds that drift verdicts used to take
    stages = json.loads(json.dumps(CONTEXT["driftline:stages"]))
    stages["dev"]["drift_thresholds"] = {"default": {"numeric": 0.2}}
    # Then the synth fails and names the setting that replaced them
    with pytest.raises(ValidationError, match=r"spec's `drift` \(DriftSettings"):
        load_stage_config(lookup({"driftline:stages": stages}), None, None)


def test_a_cdk_json_with_rows_per_part_says_parts_are_sized_by_bytes_now() -> None:
    # Given a stage still carrying the row count that used to size batch inference parts
    stages = json.loads(json.dumps(CONTEXT["driftline:stages"]))
    stages["dev"]["inference_rows_per_part"] = 1000
    # Then the synth fails and names the setting that replaced it
    with pytest.raises(ValidationError, match=r"set inference_part_size_mib"):
        load_stage_config(lookup({"driftline:stages": stages}), None, None)


@pytest.mark.parametrize("size", ["0", "513"])
def test_the_part_size_is_at_least_1_mib_and_at_most_512(size: str) -> None:
    with pytest.raises(ValidationError, match="inference_part_size_mib"):
        load_stage_config(lookup({"driftline:inference_part_size_mib": size}), None, None)
    assert load_stage_config(lookup({"driftline:inference_part_size_mib": "512"}), None, None)


@pytest.mark.parametrize("stage", ["dev-x", "Dev", "averyverylongstage"])
def test_a_stage_name_that_could_overlap_another_or_overflow_a_job_name_is_refused(
    stage: str,
) -> None:
    # Given a stage whose prefix another stage's could start with (a hyphen), or too long
    # When the stage config is read / Then it is refused, naming the setting
    with pytest.raises(ValidationError, match="stage"):
        load_stage_config(
            lookup({"stage": stage, STAGES_KEY: {stage: CONTEXT[STAGES_KEY]["dev"]}}), None, None
        )


def test_sagemaker_names_carry_the_stage_and_fit_63_characters() -> None:
    # Given two long dataset names that share their first 30 characters
    first, second = "a" * 30 + "-one", "a" * 30 + "-two"
    # When jobs are named for them in the longest stage
    names_made = [
        names.sagemaker_name(
            "s" * 10, d, layout.run_id("12345678" * 4, NOW, "arn:execution:x"), reserve=6
        )
        for d in (first, second)
    ]
    # Then each starts with its stage's prefix, fits with the reserve, and they differ
    assert all(n.startswith("dl-ssssssssss-") for n in names_made)
    assert all(len(n) + 6 <= 63 for n in names_made)
    assert names_made[0] != names_made[1]
    # And a short name is kept whole
    assert names.sagemaker_name("dev", "loans", "run") == "dl-dev-loans-run"


def test_two_runs_on_one_version_started_in_the_same_second_get_different_names() -> None:
    # Given a drop's own training run and one started by hand on the same version,
    # in the same second (SageMaker refuses a second job of a name: ResourceInUse)
    arn = "arn:aws:states:us-east-1:1:execution:driftline-dev-training:"
    runs = [layout.run_id("a" * 32, NOW, arn + execution) for execution in ("e-1", "e-2")]
    # Then their ids differ, and each run keeps its own id when prepared again
    assert runs[0] != runs[1]
    assert runs[0] == layout.run_id("a" * 32, NOW, arn + "e-1")
    assert runs[0].startswith("aaaaaaaa-20261127093000-")


def test_no_permissions_boundary_by_default() -> None:
    # Given cdk.json's stages, whose boundary is null (a missing key once CDK reads it)
    for stage in ("dev", "prod"):
        config = load_stage_config(lookup({"stage": stage}), None, None)
        # Then no stage bounds its roles
        assert config.permissions_boundary is None


@pytest.mark.parametrize(
    "boundary",
    [
        "driftline-boundary",
        "Guard+Rails=v2,team@ops.x_y",
        "arn:aws:iam::123456789012:policy/driftline-boundary",
        "arn:aws-us-gov:iam::123456789012:policy/landing/zone/boundary",
        "arn:aws:iam::aws:policy/PowerUserAccess",
    ],
)
def test_a_permissions_boundary_is_a_policy_name_or_arn(boundary: str) -> None:
    # Given `-c driftline:permissions_boundary=<name or ARN>`
    config = load_stage_config(
        lookup({"driftline:permissions_boundary": boundary}), "123456789012", None
    )
    # Then the stage bounds its roles with it, as given
    assert config.permissions_boundary == boundary


@pytest.mark.parametrize(
    "boundary",
    [
        "",
        "has space",
        "a" * 129,
        "arn:aws:iam::123456789012:role/driftline-boundary",
        "arn:aws:iam::1234:policy/driftline-boundary",
        "arn:aws:s3:::bucket/policy/x",
        "arn:aws:iam::123456789012:policy/",
    ],
)
def test_a_permissions_boundary_that_is_no_policy_is_refused(boundary: str) -> None:
    # When the boundary is neither a policy name nor a policy ARN
    # Then the synth stops with a message naming the setting and both accepted forms
    with pytest.raises(ValidationError, match="permissions_boundary: .* neither a managed policy"):
        load_stage_config(lookup({"driftline:permissions_boundary": boundary}), None, None)


def test_a_permissions_boundary_of_another_account_is_refused() -> None:
    # Given a stage deployed to one account and a boundary policy of another
    arn = "arn:aws:iam::210987654321:policy/driftline-boundary"
    # Then the synth stops, naming both accounts
    with pytest.raises(ValidationError, match="account 210987654321.*account 123456789012"):
        load_stage_config(lookup({"driftline:permissions_boundary": arn}), "123456789012", None)
