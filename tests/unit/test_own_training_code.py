"""A dataset's own training code (``TrainingSpec.source_dir``): the spec's names, synth's
check of the folder, its packaging, the prepare step's job request, the local cloud's
requirements check, and the worked example (``tests/fixtures/own_training``) trained and
served under the container contract."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow.csv as pacsv
import pytest
from driftline_runtime.baseline import Baseline
from driftline_runtime.contracts import DatasetSpec, TrainingSpec
from driftline_runtime.training_code import SERVING_PROGRAM, code_problems
from pydantic import ValidationError

from driftline.samples.contract_rows import generate_rows
from infra.constructs.training_code import code_files, sourcedir_tarball
from infra.contracts_layer import check

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "own_training"
Loader = Callable[[str, str], ModuleType]


def parcel_specs() -> tuple[DatasetSpec, DatasetSpec]:
    sys.path.insert(0, str(FIXTURE / "contracts"))
    try:
        module = importlib.import_module("parcel_delays")
    finally:
        sys.path.remove(str(FIXTURE / "contracts"))
    training, scoring = module.DATASETS
    return training, scoring


def code_folder(root: Path, *files: str) -> Path:
    folder = root / "code"
    folder.mkdir()
    for name in files:
        (folder / name).write_text("print('hello')\n")
    return folder


# -- the spec ---------------------------------------------------------------------------
def test_source_dir_defaults_to_train_py_and_driftlines_trainer_without_it() -> None:
    assert TrainingSpec().source_dir is None
    assert TrainingSpec(source_dir="models/mine").entry_point == "train.py"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"entry_point": "fit.py"}, "set source_dir to its folder too"),
        ({"source_dir": "code", "entry_point": "../fit.py"}, "must be a .py file inside"),
        ({"source_dir": "code", "entry_point": "/opt/fit.py"}, "must be a .py file inside"),
        ({"source_dir": "code", "entry_point": "fit.sh"}, "must be a .py file inside"),
        ({"source_dir": ""}, "at least 1 character"),
    ],
)
def test_a_spec_that_names_its_code_wrongly_is_refused_with_the_reason(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        TrainingSpec.model_validate(settings)


def test_the_code_folder_must_exist_with_its_entry_script_and_serving_code(
    tmp_path: Path,
) -> None:
    # Given specs pointing at a missing folder, a file, and folders lacking a script
    (tmp_path / "a-file").write_text("")
    missing = TrainingSpec(source_dir="nowhere")
    a_file = TrainingSpec(source_dir="a-file")
    code_folder(tmp_path, "inference.py")
    no_entry = TrainingSpec(source_dir="code", entry_point="fit.py")
    # Then each problem names the dataset, the setting and what is missing
    assert code_problems("loans", missing, tmp_path) == [
        f"dataset 'loans': training.source_dir 'nowhere' does not exist "
        f"(looked for {tmp_path / 'nowhere'})"
    ]
    assert "is not a folder" in code_problems("loans", a_file, tmp_path)[0]
    (problem,) = code_problems("loans", no_entry, tmp_path)
    assert "holds no fit.py (its entry_point)" in problem
    (tmp_path / "code" / "fit.py").write_text("")
    (tmp_path / "code" / SERVING_PROGRAM).unlink()
    (problem,) = code_problems("loans", no_entry, tmp_path)
    assert "holds no inference.py (its serving code)" in problem
    # And a complete folder, relative or absolute, has none
    (tmp_path / "code" / SERVING_PROGRAM).write_text("")
    assert code_problems("loans", no_entry, tmp_path) == []
    absolute = TrainingSpec(source_dir=str(tmp_path / "code"), entry_point="fit.py")
    assert code_problems("loans", absolute, ROOT) == []


MISSING_CODE_MODULE = """\
from pydantic import BaseModel

from driftline_runtime.contracts import DatasetSpec, TrainingSpec


class Loan(BaseModel):
    loan_id: str
    amount: float
    defaulted: int


DATASETS = (
    DatasetSpec(
        name="loans",
        kind="training",
        contract=Loan,
        contract_version="1.0.0",
        id_column="loan_id",
        target="defaulted",
        training=TrainingSpec(source_dir="tests/fixtures/no-such-folder"),
    ),
)
"""


def test_synths_check_names_the_module_of_a_dataset_whose_code_is_missing(
    tmp_path: Path,
) -> None:
    # Given an extra contract module whose training code folder does not exist
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "loans.py").write_text(MISSING_CODE_MODULE)
    # When the contracts are checked, as synth and `driftline contracts check` do
    checked = check([folder])
    # Then the problem names the module's file and the missing folder
    (problem,) = checked.problems
    assert problem.startswith(f"{folder / 'loans.py'}: dataset 'loans': training.source_dir")
    assert "tests/fixtures/no-such-folder' does not exist" in problem


def test_the_worked_example_passes_synths_check() -> None:
    checked = check([FIXTURE / "contracts"])
    assert checked.problems == []
    assert {"parcel-delays", "parcel-batches"} <= {d["name"] for d in checked.datasets}


# -- packaging --------------------------------------------------------------------------
def test_the_folder_is_packed_whole_without_bytecode(tmp_path: Path) -> None:
    # Given a code folder with a sub-package, caches and bytecode
    folder = code_folder(tmp_path, "train.py", "inference.py", "requirements.txt")
    (folder / "model").mkdir()
    (folder / "model" / "parts.py").write_text("")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "train.cpython-313.pyc").write_bytes(b"\0")
    (folder / "stale.pyc").write_bytes(b"\0")
    # When it is packed as its sourcedir.tar.gz
    with tarfile.open(sourcedir_tarball(code_files(folder))) as archive:
        names = sorted(archive.getnames())
    # Then the archive holds the code at its relative paths, and nothing else
    assert names == ["inference.py", "model/parts.py", "requirements.txt", "train.py"]
    # And the same code gives the same archive (its asset hash moves only with the code)
    assert sourcedir_tarball(code_files(folder)) == sourcedir_tarball(code_files(folder))


# -- the prepare step -------------------------------------------------------------------
def preparation_with(load_logic: Loader, dataset_code: dict[str, Any]) -> Any:
    preparation = load_logic("prepare_training", "preparation")
    job = {
        "role_arn": "arn:aws:iam::123456789012:role/sagemaker",
        "image": "sklearn-image",
        "images": {"hist_gradient_boosting": "sklearn-image", "xgboost": "xgboost-image"},
        "instance_type": "ml.m5.large",
        "max_runtime_seconds": 900,
        "volume_kms_key": "arn:aws:kms:us-east-1:123456789012:key/k",
        "source_dir": "s3://assets/driftline.tar.gz",
        "program": "train.py",
        "hyperparameters": {"max_iter": "200", "learning_rate": "0.1"},
        "dataset_code": dataset_code,
    }
    settings = preparation.Settings(
        driftline_stage="test",
        curated_bucket="curated",
        artifacts_bucket="artifacts",
        training_job=json.dumps(job),
        model_package_group_prefix="driftline-test",
    )
    return preparation, preparation.TrainingPreparation(
        settings, preparation.Services(s3=None, registry=None, obs=None)
    )


def test_a_dataset_with_its_own_code_trains_with_it_and_only_its_own_settings(
    load_logic: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the worked example's spec, its code packaged by CDK
    training, _ = parcel_specs()
    code = {"source_dir": "s3://assets/parcel.tar.gz", "program": "train.py"}
    preparation, logic = preparation_with(load_logic, {"parcel-delays": code})
    monkeypatch.setattr(preparation, "spec_of", lambda dataset: training)
    # When its job request is built
    request = logic.training_request("parcel-delays", "job", ["train", "validation", "test"])
    # Then the job runs the dataset's script from the dataset's archive
    hyperparameters = request.HyperParameters
    assert hyperparameters["sagemaker_submit_directory"] == "s3://assets/parcel.tar.gz"
    assert hyperparameters["sagemaker_program"] == "train.py"
    # With the spec's columns and its own hyperparameters, not driftline's trainer's
    assert hyperparameters["regularization"] == "0.5"
    assert json.loads(hyperparameters["features"]) == training.feature_columns
    assert (hyperparameters["target_column"], hyperparameters["id_column"]) == (
        "late",
        "parcel_id",
    )
    assert not {"max_iter", "learning_rate", "algorithm"} & set(hyperparameters)
    # In the framework image of its algorithm (scikit-learn's by default)
    assert request.AlgorithmSpecification.TrainingImage == "sklearn-image"
    # Reading the same metric lines as driftline's trainer prints, the spec's primary
    # metric and the champion's among them
    read = {
        d["Name"]
        for d in request.model_dump(mode="json")["AlgorithmSpecification"]["MetricDefinitions"]
    }
    assert {"test:accuracy", "champion:accuracy"} <= read


def test_code_not_packaged_with_the_deployment_is_a_clear_error(
    load_logic: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a spec with its own code that the deployed settings do not know
    training, _ = parcel_specs()
    preparation, logic = preparation_with(load_logic, {})
    monkeypatch.setattr(preparation, "spec_of", lambda dataset: training)
    # Then the request is refused, saying what to do
    with pytest.raises(preparation.UnknownDatasetVersion, match="deploy again"):
        logic.training_request("parcel-delays", "job", ["train"])


# -- the local cloud's requirements check -------------------------------------------------
def local_module(name: str) -> ModuleType:
    """A module of the local cloud's additions that does not need the emulator."""
    sys.path.insert(0, str(ROOT / "local"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "local"))


@pytest.fixture(scope="module")
def requirements() -> ModuleType:
    return local_module("driftline_localcloud.sagemaker.requirements")


def framework(tmp_path: Path, **installed: str) -> Path:
    """A framework environment holding ``installed`` (name -> version); its python."""
    site = tmp_path / "sklearn" / "lib" / "python3.13" / "site-packages"
    for name, version in installed.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    python = tmp_path / "sklearn" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    return python


def test_requirements_the_environment_meets_pass(requirements: ModuleType, tmp_path: Path) -> None:
    python = framework(tmp_path, **{"scikit-learn": "1.9.1", "pandas": "3.1.1"})
    code = code_folder(tmp_path)
    (code / "requirements.txt").write_text(
        '# comment\nscikit_learn>=1.4  # any recent one\npandas\ntomli; python_version < "3.11"\n'
    )
    assert requirements.requirements_problem(code, python, "the code") is None
    (code / "requirements.txt").unlink()  # no file, nothing to check
    assert requirements.requirements_problem(code, python, "the code") is None


def test_requirements_the_environment_lacks_fail_the_job_naming_them(
    requirements: ModuleType, tmp_path: Path
) -> None:
    # Given code that asks for a missing package and a newer pandas
    python = framework(tmp_path, pandas="3.1.1")
    code = code_folder(tmp_path)
    (code / "requirements.txt").write_text("lightgbm==4.0\npandas>=4\n")
    # Then the job's ClientError names both, the environment, and where to pin them
    problem = requirements.requirements_problem(code, python, "the code")
    assert problem.startswith("ClientError: the code requirements.txt asks for what the")
    assert "lightgbm==4.0 (not installed); pandas>=4 (the environment has 3.1.1)" in problem
    assert "local/frameworks/sklearn.txt" in problem
    # And an installer option is refused rather than ignored
    (code / "requirements.txt").write_text("--index-url http://mirror\npandas\n")
    problem = requirements.requirements_problem(code, python, "the code")
    assert "'--index-url http://mirror' is an installer option" in problem


# -- the worked example, under the container contract ----------------------------------
def test_the_worked_example_trains_reports_its_metric_and_serves_from_its_model(
    tmp_path: Path,
) -> None:
    # Given the example's channels (drawn from its contract) in a job folder
    training, _ = parcel_specs()
    table = generate_rows(training, 1_500, seed=7, end=datetime(2026, 11, 1, tzinfo=UTC))
    table = table.select([training.id_column, *training.feature_columns, str(training.target)])
    env = {**os.environ, "SM_MODEL_DIR": str(tmp_path / "model")}
    env["SM_OUTPUT_DIR"] = str(tmp_path / "output")
    for name, (start, end) in {"train": (0, 1000), "validation": (1000, 1250)}.items():
        env[f"SM_CHANNEL_{name.upper()}"] = str(tmp_path / name)
        (tmp_path / name).mkdir()
        pacsv.write_csv(table.slice(start, end - start), tmp_path / name / "part-0.csv")
    env["SM_CHANNEL_TEST"] = str(tmp_path / "test")
    (tmp_path / "test").mkdir()
    pacsv.write_csv(table.slice(1250), tmp_path / "test" / "part-0.csv")
    (tmp_path / "model").mkdir()
    # And the hyperparameters as the API hands them over (strings), which the toolkit
    # decodes into SM_HPS and renders as arguments, as the local cloud's jobs do
    toolkit = local_module("driftline_localcloud.sagemaker.toolkit")
    strings = {
        "features": json.dumps(training.feature_columns),
        "id_column": training.id_column,
        "problem": "binary",
        "regularization": "0.5",
        "target_column": str(training.target),
    }
    decoded = {name: toolkit.decode_hyperparameter(value) for name, value in strings.items()}
    env["SM_HPS"] = toolkit.env_value(decoded)
    arguments = toolkit.command_arguments(decoded)
    # When its entry point runs as the framework container runs it
    source = ROOT / str(training.training.source_dir)
    result = subprocess.run(
        [sys.executable, training.training.entry_point, *arguments],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then it prints the spec's primary metric on the held-out split
    assert result.returncode == 0, result.stderr
    assert f"{training.primary_metric_name}=" in result.stdout
    # And leaves a valid drift baseline in the model's feature order
    model = tmp_path / "model"
    baseline = Baseline.model_validate_json((model / "baseline.json").read_text())
    assert baseline.feature_columns == training.feature_columns
    # And its serving code in code/, which answers batch transform's CSV from the model
    serve = subprocess.run(
        [
            sys.executable,
            "-c",
            "import inference as i, sys; m = i.model_fn(sys.argv[1]); "
            "print(i.output_fn(i.predict_fn(i.input_fn(sys.argv[2], 'text/csv'), m), "
            "'text/csv')[0])",
            str(model),
            "17,120.5,3.2,swift,true\n18,,1.0,parcelco,false\n",
        ],
        cwd=model / "code",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert serve.returncode == 0, serve.stderr
    lines = serve.stdout.strip().splitlines()
    assert [line.split(",")[0] for line in lines] == ["17", "18"]
    assert all(0.0 <= float(line.split(",")[1]) <= 1.0 for line in lines)

    # Given that model as the approved champion of the next job (its champion channel)
    (tmp_path / "champion").mkdir()
    with tarfile.open(tmp_path / "champion" / "model.tar.gz", "w:gz") as archive:
        for path in sorted(model.rglob("*")):
            archive.add(path, arcname=path.relative_to(model).as_posix(), recursive=False)
    env["SM_CHANNEL_CHAMPION"] = str(tmp_path / "champion")
    env["SM_MODEL_DIR"] = str(tmp_path / "next-model")
    (tmp_path / "next-model").mkdir()
    # When the next job runs, Then it scores the champion on its own test rows too
    again = subprocess.run(
        [sys.executable, training.training.entry_point, *arguments],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    primary = training.primary_metric_name.split(":", 1)[1]
    # (the same model on the same rows: the same measure)
    printed = dict(
        line.rstrip(";").split("=", 1) for line in again.stdout.splitlines() if "=" in line
    )
    assert printed[f"champion:{primary}"] == printed[f"test:{primary}"]
