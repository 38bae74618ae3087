"""The Baseline model against what training/train.py really writes, and what it refuses."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from driftline_runtime import names
from driftline_runtime.baseline import Baseline, CategoricalProfile, NumericProfile
from pydantic import ValidationError

# The role models run as; no VPC (driftline_runtime.steps.ModelSettings).
MODEL_SETTINGS = '{"role_arn": "arn:aws:iam::000000000000:role/sagemaker", "vpc_config": null}'


def written(model_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((model_dir / names.BASELINE_FILE).read_text())
    return document


def test_a_real_training_jobs_baseline_is_a_baseline(model_dir: Path) -> None:
    # Given the baseline.json a real train.py run wrote into its model folder
    document = written(model_dir)
    # When it is read as the drift monitor and batch inference read it
    baseline = Baseline.model_validate(document)
    # Then every feature is profiled, in the model's input order, by its kind
    assert list(baseline.features) == baseline.feature_columns
    assert isinstance(baseline.features["amount"], NumericProfile)
    assert isinstance(baseline.features["country"], CategoricalProfile)
    assert baseline.features["card_present"].kind == names.BOOLEAN
    assert baseline.prediction.kind == names.NUMERIC
    # And nothing of the document is lost on the way
    assert baseline.model_dump(mode="json") == document


def test_a_version_1_baseline_is_still_a_baseline(model_dir: Path) -> None:
    # Given the baseline of a model trained before version 2: no rows per profile, no
    # quantiles, a prediction profile of the train split that names no split
    document = written(model_dir)
    document["schema_version"] = 1
    for profile in [*document["features"].values(), document["prediction"]]:
        for key in ("rows", "quantiles", "split"):
            profile.pop(key, None)
    # When it is read, then it validates, and says what it lacks
    baseline = Baseline.model_validate(document)
    amount = baseline.features["amount"]
    assert isinstance(amount, NumericProfile) and amount.quantiles is None
    assert baseline.prediction.split is None
    # And the version the training job writes is the names module's
    assert written(model_dir)["schema_version"] == names.BASELINE_SCHEMA_VERSION == 2


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d["features"].pop("amount"), "feature_columns"),
        (lambda d: d["features"]["amount"]["bin_shares"].pop(), "bin_shares"),
        (lambda d: d["features"]["country"]["frequencies"].pop(names.NULL_CATEGORY), "__null__"),
        (lambda d: d.update(schema_version=3), "schema_version"),
        (lambda d: d["features"]["amount"].pop("quantiles"), "quantiles"),
        (lambda d: d["features"]["country"].pop("rows"), "rows"),
        (lambda d: d["prediction"].pop("split"), "split"),
        (lambda d: d["features"]["amount"]["quantiles"].reverse(), "sorted"),
        (lambda d: d["features"]["amount"].update(kind="ordinal"), "kind"),
    ],
)
def test_a_document_that_is_no_baseline_is_refused(
    model_dir: Path, change: Callable[[dict[str, Any]], object], complaint: str
) -> None:
    document = written(model_dir)
    change(document)
    with pytest.raises(ValidationError, match=complaint):
        Baseline.model_validate(document)


def test_registration_refuses_a_model_whose_baseline_is_no_baseline(
    load_logic: Callable[[str, str], ModuleType], model_dir: Path
) -> None:
    # Given a model.tar.gz whose baseline.json lacks its prediction profile
    document = written(model_dir)
    del document["prediction"]
    module = load_logic("register_model", "registration")
    logic = registration_of(module, model_archive(document, "code/inference.py"))
    # When the register step copies it, then it refuses, naming what is missing
    with pytest.raises(module.MissingBaseline, match="prediction"):
        logic.copy_baseline("s3://artifacts/models/x/output/model.tar.gz")


def test_registration_refuses_a_model_without_its_serving_code(
    load_logic: Callable[[str, str], ModuleType], model_dir: Path
) -> None:
    # Given a model.tar.gz with a valid baseline but no code/inference.py (a dataset's own
    # training script that forgot to copy its serving code)
    module = load_logic("register_model", "registration")
    archive = model_archive(written(model_dir), "code/other.py")
    logic = registration_of(module, archive)
    # When the register step reads it, then it refuses before registering, saying why
    with pytest.raises(module.MissingServingCode, match="holds no code/inference.py"):
        logic.copy_baseline("s3://artifacts/models/x/output/model.tar.gz")
    # And with the serving code in place the baseline is copied
    logic = registration_of(module, model_archive(written(model_dir), "code/inference.py"))
    uri = logic.copy_baseline("s3://artifacts/models/x/output/model.tar.gz")
    assert uri == f"s3://artifacts/models/x/{names.BASELINE_FILE}"


def model_archive(document: dict[str, Any], *code: str) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        members = {names.BASELINE_FILE: json.dumps(document).encode()}
        members.update({name: b"def model_fn(model_dir): ...\n" for name in code})
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return archive.getvalue()


def registration_of(module: ModuleType, archive: bytes) -> Any:
    class S3:
        def get_object(self, **_: Any) -> dict[str, Any]:
            return {"Body": io.BytesIO(archive)}

        def put_object(self, **_: Any) -> dict[str, Any]:
            return {}

    return module.ModelRegistration(
        module.Settings(inference_program="inference.py", model=MODEL_SETTINGS),
        module.Services(s3=S3(), registry=None, obs=None),
    )
