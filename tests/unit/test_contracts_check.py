"""``driftline contracts check``: the project's contracts pass, and each kind of mistake
gets a clear error naming the module's file, the line where it can, and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline.cli import main
from infra.contracts_layer import ContractsCheck, check

ROOT = Path(__file__).resolve().parents[2]

CONTRACT = """\
from __future__ import annotations

from pydantic import BaseModel, Field

from driftline_runtime.contracts import DatasetSpec, TableRules


class Row(BaseModel):
    row_id: str
    amount: float = Field(ge=0)
    label: int = Field(ge=0, le=1)


"""


def spec(**settings: str) -> str:
    """A DATASETS tuple of one spec: a valid training dataset unless ``settings`` say else."""
    values = {
        "name": '"{name}"',
        "kind": '"training"',
        "contract": "Row",
        "contract_version": '"1.0.0"',
        "id_column": '"row_id"',
        "target": '"label"',
        **settings,
    }
    arguments = "".join(f"        {key}={value},\n" for key, value in values.items())
    return f"DATASETS = (\n    DatasetSpec(\n{arguments}    ),\n)\n"


# One module per kind of mistake: (module, source, what its error must say).
MISTAKES = {
    "import_error": (
        CONTRACT + "import not_a_package\n" + spec(),
        "line 14: ModuleNotFoundError: No module named 'not_a_package'",
    ),
    "syntax_error": (CONTRACT + "DATASETS = (\n", "line 14: SyntaxError: '(' was never closed"),
    "unknown_field": (
        CONTRACT + spec(problme='"binary"'),
        "line 15: DatasetSpec is invalid: problme: Extra inputs are not permitted",
    ),
    "bad_name": (
        CONTRACT + spec(name='"Bad_Name"'),
        "DatasetSpec is invalid: name: String should match pattern",
    ),
    "missing_column": (
        CONTRACT + spec(id_column='"nope"'),
        "DatasetSpec is invalid: id_column names columns the contract lacks: ['nope']",
    ),
    "bad_rule": (
        CONTRACT + spec(rules="TableRules(min_rows=-1)"),
        "line 22: TableRules is invalid: min_rows: Input should be greater than or equal to 0",
    ),
    "raises": (
        CONTRACT + "raise RuntimeError('the schema registry is down')\n",
        "line 14: RuntimeError: the schema registry is down",
    ),
    "no_datasets": (CONTRACT + "DATASET = ()\n", "defines no DATASETS tuple of DatasetSpec"),
    "not_a_spec": (
        CONTRACT + 'DATASETS = ({"name": "dict"},)\n',
        "DATASETS[0] is dict, not a DatasetSpec",
    ),
    "unsupported_constraint": (
        CONTRACT.replace("Field(ge=0)", "Field(multiple_of=5)") + spec(),
        "dataset 'unsupported-constraint': contract Row.amount: the validator cannot check "
        "the constraint MultipleOf(multiple_of=5)",
    ),
    "duplicate": (
        CONTRACT + spec(name='"transactions"'),
        "dataset 'transactions' is declared twice: in duplicate.py and in transactions.py",
    ),
    "unknown_model_dataset": (
        CONTRACT + spec(kind='"inference"', target="None", model_dataset='"nothing"'),
        "dataset 'unknown-model-dataset': model_dataset 'nothing' is not a declared training "
        "dataset (training datasets: ",
    ),
    "labels_for_not_inference": (
        CONTRACT + spec(kind='"labels"', labels_for='"transactions"'),
        "labels_for 'transactions' is not a declared inference dataset",
    ),
    "labels_without_labels_for": (
        CONTRACT + spec(kind='"labels"'),
        "a labels dataset needs labels_for",
    ),
    "model_dataset_not_training": (
        CONTRACT + spec(kind='"inference"', target="None", model_dataset='"scoring"'),
        "model_dataset 'scoring' is not a declared training dataset",
    ),
}


def write_module(folder: Path, module: str, source: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{module}.py"
    path.write_text(source.replace("{name}", module.replace("_", "-")))
    return path


@pytest.fixture(scope="module")
def checked_mistakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ContractsCheck]:
    """Every mistake in one folder, checked once (each check starts an interpreter)."""
    folder = tmp_path_factory.mktemp("mistakes")
    for module, (source, _) in MISTAKES.items():
        write_module(folder, module, source)
    return folder, check([folder])


def test_the_project_contracts_pass_and_each_dataset_is_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the project's contract modules; When they are checked
    code = main(["contracts", "check"])
    out = capsys.readouterr().out
    # Then the check passes and lists each dataset with its kind, columns and rules
    assert code == 0, out
    assert "transactions: training, declared in layers/contracts/python/" in out
    assert "scoring: inference, declared in" in out
    assert "scoring-labels: labels, declared in" in out
    assert "labels_for scoring" in out
    assert "currency               str       required  one of EUR, USD, GBP" in out
    assert "amount                 float     required  > 0; <= 50000" in out
    assert "rules: unique_key transaction_id; min_rows 5; max_bad_row_share 0.05" in out
    assert "model_dataset transactions" in out
    assert "9 dataset(s) in 3 module(s): every contract loads and can be checked" in out


@pytest.mark.parametrize("module", sorted(MISTAKES))
def test_each_kind_of_mistake_is_named_with_its_module(
    checked_mistakes: tuple[Path, ContractsCheck], module: str
) -> None:
    # Given a folder where every module holds a different mistake; When it is checked
    folder, checked = checked_mistakes
    _, expected = MISTAKES[module]
    # Then this module's mistake is reported, located by its file
    where = f"{folder / module}.py"
    if module == "duplicate":  # located at whichever module declares the name second
        where = "layers/contracts/python/driftline_contracts/transactions.py"
    ours = [problem for problem in checked.problems if problem.startswith(where)]
    assert any(expected in problem for problem in ours), checked.problems
    # And no dataset of a module that does not load is listed as if it were fine
    assert module.replace("_", "-") not in {d["name"] for d in checked.datasets}


def test_one_broken_module_fails_the_command_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given one module whose spec has a field the spec does not know
    source, expected = MISTAKES["unknown_field"]
    path = write_module(tmp_path, "loans", source)
    # When the CLI checks it with the project's contracts
    code = main(["contracts", "check", "--extra", str(tmp_path)])
    captured = capsys.readouterr()
    # Then it exits non-zero with one line naming the file, the line and the field
    assert code == 1
    assert f"error: {path}, {expected}" in captured.err
    # And the datasets that do load are still listed
    assert "transactions: training" in captured.out
    assert "1 problem(s), listed below" in captured.out


# The project's datasets, by module name, then in each module's order.
PROJECT_DATASETS = [
    "store-sales",
    "store-sales-batches",
    "store-sales-labels",
    "tickets",
    "ticket-triage",
    "ticket-triage-labels",
    "transactions",
    "scoring",
    "scoring-labels",
]


def test_json_output_lists_datasets_and_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = MISTAKES["no_datasets"]
    write_module(tmp_path, "helpers", source)
    assert main(["contracts", "check", "--json", "--extra", str(tmp_path)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in document["datasets"]] == PROJECT_DATASETS
    assert document["datasets"][0]["source"].endswith("driftline_contracts/store_sales.py")
    (problem,) = document["problems"]
    assert "helpers.py: defines no DATASETS" in problem


def test_a_helper_module_with_a_leading_underscore_declares_nothing(tmp_path: Path) -> None:
    # Given a helper module that the contracts import and that declares no dataset
    write_module(tmp_path, "_shared", "ALLOWED = ('a', 'b')\n")
    # When checked, Then it is no problem
    checked = check([tmp_path])
    assert checked.problems == []
    assert [d["name"] for d in checked.datasets] == PROJECT_DATASETS


def test_an_extra_module_may_not_replace_a_project_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_module(tmp_path, "transactions", CONTRACT + spec())
    assert main(["contracts", "check", "--extra", str(tmp_path)]) == 1
    message = capsys.readouterr().err
    assert f"{tmp_path}/transactions.py: a contract module named 'transactions' exists" in message
    assert "(layers/contracts/python/driftline_contracts/transactions.py)" in message


def test_a_missing_extra_folder_is_a_precondition_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A path to fix before anything is checked: exit 2, as every missing file
    assert main(["contracts", "check", "--extra", str(tmp_path / "absent")]) == 2
    assert capsys.readouterr().err == (
        f"error: extra_contract_folders: {tmp_path}/absent is not a folder. Check the path (a "
        "relative one starts at the project's folder).\n"
    )
