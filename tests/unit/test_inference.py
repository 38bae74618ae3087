"""training/inference.py: the handlers the scikit-learn serving container and batch
transform call, on a model that training/train.py trained in a fixture."""

from __future__ import annotations

import io
import json
import re
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from driftline.samples import generate_transactions
from tests.unit.test_training import END
from training import inference
from training.inference import (
    FraudModel,
    InvalidInputError,
    UnsupportedContentTypeError,
    input_fn,
    model_fn,
    output_fn,
    predict_fn,
)


@pytest.fixture(scope="module")
def model(model_dir: Path) -> FraudModel:
    return model_fn(str(model_dir))


@pytest.fixture(scope="module")
def scoring() -> pa.Table:
    """Transactions to score: no label, as the batch pipeline receives them."""
    return generate_transactions(40, seed=5, labelled=False, end=END)


def csv_records(table: pa.Table, model: FraudModel) -> str:
    """The batch pipeline's transform input: ``<id>,<features...>`` lines, no header."""
    columns = [model.id_column, *model.feature_columns]
    sink = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    pa_csv.write_csv(table.select(columns), sink, write_options=options)
    return sink.getvalue().decode()


def score(body: str | bytes, content_type: str, model: FraudModel, accept: str) -> str:
    body_out, content_type_out = output_fn(predict_fn(input_fn(body, content_type), model), accept)
    assert content_type_out == accept
    return body_out


def csv_probabilities(body: str) -> dict[str, float]:
    return {line.split(",")[0]: float(line.split(",")[1]) for line in body.splitlines()}


def test_model_fn_loads_the_pipeline_and_the_feature_order(model: FraudModel) -> None:
    # Then the model knows its id column and the feature order of the CSV records
    assert model.id_column == "transaction_id"
    assert model.feature_columns[:3] == ("customer_age", "customer_tenure_days", "amount")
    assert "card_id" not in model.feature_columns
    assert model.feature_kinds["card_present"] == "boolean"


def test_a_multi_record_csv_request_gets_one_line_per_record_with_its_id(
    model: FraudModel, scoring: pa.Table
) -> None:
    # Given 40 records in one request, as batch transform sends them (MultiRecord, Line)
    body = csv_records(scoring, model)
    assert len(body.splitlines()) == 40

    # When the container runs the handlers
    data = input_fn(body, "text/csv")
    prediction = predict_fn(data, model)
    response, content_type = output_fn(prediction, "text/csv")

    # Then each record gets one line, `<id>,<probability>`, in the input's order
    assert content_type == "text/csv"
    lines = response.splitlines()
    assert [line.split(",")[0] for line in lines] == scoring["transaction_id"].to_pylist()
    assert all(0.0 <= float(line.split(",")[1]) <= 1.0 for line in lines)
    assert not response.endswith("\n")


def test_serving_scores_as_training_evaluated(
    model: FraudModel, model_dir: Path, labelled: pa.Table
) -> None:
    # Given the test split's records as CSV (the label is not among the features)
    test = labelled.slice(int(labelled.num_rows * 0.8))
    body = csv_records(test, model)

    # When they are scored through the handlers
    probabilities = csv_probabilities(score(body, "text/csv", model, "text/csv"))

    # Then their AUC is the one training reported for the test split
    scored = [probabilities[record_id] for record_id in test["transaction_id"].to_pylist()]
    auc = roc_auc_score(test["is_fraud"].to_numpy(), scored)
    evaluation = json.loads((model_dir / "evaluation.json").read_text())
    assert auc == pytest.approx(evaluation["metrics"]["test:auc"], abs=1e-4)


def test_json_and_parquet_requests_score_like_csv(model: FraudModel, scoring: pa.Table) -> None:
    # Given the same records as CSV, as JSON objects with named fields (plus a field the
    # model does not use) and as a Parquet file
    via_csv = csv_probabilities(score(csv_records(scoring, model), "text/csv", model, "text/csv"))
    records = scoring.drop_columns(["event_time"]).to_pylist()
    parquet = io.BytesIO()
    pq.write_table(scoring, parquet)

    # When they are scored, answering in JSON
    as_json = json.loads(score(json.dumps(records), "application/json", model, "application/json"))
    instances = json.loads(
        score(json.dumps({"instances": records}), "application/json", model, "application/json")
    )
    as_parquet = json.loads(
        score(parquet.getvalue(), "application/x-parquet", model, "application/json")
    )

    # Then every form gives every record the probability CSV gave it
    for answer in (as_json, instances, as_parquet):
        predictions = answer["predictions"]
        assert [p["transaction_id"] for p in predictions] == list(via_csv)
        assert [p["probability"] for p in predictions] == pytest.approx(
            list(via_csv.values()), abs=1e-8
        )


def test_missing_values_unseen_categories_a_header_and_bytes_are_handled(
    model: FraudModel, scoring: pa.Table
) -> None:
    # Given a UTF-8 body with a charset parameter, a header line, a blank line, one record
    # with empty fields and one with a country and a merchant never seen in training
    header = ",".join([model.id_column, *model.feature_columns])
    first, second = csv_records(scoring.slice(0, 2), model).splitlines()
    fields = first.split(",")
    for column in ("device_trust_score", "card_present", "merchant_category"):
        fields[1 + model.feature_columns.index(column)] = ""
    unseen = second.split(",")
    unseen[1 + model.feature_columns.index("country")] = "ZZ"
    unseen[1 + model.feature_columns.index("merchant_id")] = "m-99999"
    body = "\n".join([header, ",".join(fields), "", ",".join(unseen)]) + "\n"

    # When it is scored
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = score(body.encode(), "text/csv; charset=utf-8", model, "text/csv")

    # Then both records get a probability, and the header none
    lines = response.splitlines()
    assert [line.split(",")[0] for line in lines] == [fields[0], unseen[0]]
    assert all(0.0 <= float(line.split(",")[1]) <= 1.0 for line in lines)


def test_an_empty_request_gets_an_empty_answer(model: FraudModel) -> None:
    assert score("", "text/csv", model, "text/csv") == ""
    assert json.loads(score("[]", "application/json", model, "application/json")) == {
        "predictions": []
    }


@pytest.mark.parametrize(("fields", "message"), [(5, "has 5 fields"), (18, "has 18 fields")])
def test_csv_records_with_too_few_or_too_many_fields_are_rejected(
    model: FraudModel, scoring: pa.Table, fields: int, message: str
) -> None:
    # Given a good record followed by one with the wrong number of fields
    good, broken = csv_records(scoring.slice(0, 2), model).splitlines()
    values = (broken.split(",") + ["x"] * fields)[:fields]
    body = good + "\n" + ",".join(values)

    # Then scoring it names the record and the expected layout
    expected = f"CSV record 2 {message}; expected 17: transaction_id,customer_age,"
    with pytest.raises(InvalidInputError, match=re.escape(expected)):
        predict_fn(input_fn(body, "text/csv"), model)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("amount", "lots", "column 'amount': 1 value(s) are not finite numbers, e.g. 'lots'"),
        ("amount", "inf", "column 'amount': 1 value(s) are not finite numbers, e.g. 'inf'"),
        ("card_present", "maybe", "column 'card_present': 'maybe' is not a boolean"),
    ],
)
def test_csv_values_of_the_wrong_kind_are_rejected(
    model: FraudModel, scoring: pa.Table, column: str, value: str, message: str
) -> None:
    # Given a good record followed by one with a value that does not fit its column
    good, broken = csv_records(scoring.slice(0, 2), model).splitlines()
    values = broken.split(",")
    values[1 + model.feature_columns.index(column)] = value
    body = good + "\n" + ",".join(values)

    # Then scoring it names the column and the value
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        predict_fn(input_fn(body, "text/csv"), model)


def test_json_records_without_a_feature_are_rejected(model: FraudModel, scoring: pa.Table) -> None:
    # Given JSON records that lack the amount
    records = scoring.drop_columns(["event_time", "amount"]).to_pylist()

    # Then scoring them names the missing feature
    with pytest.raises(InvalidInputError, match="missing feature column\\(s\\): amount"):
        predict_fn(input_fn(json.dumps(records), "application/json"), model)
    with pytest.raises(InvalidInputError, match="list of objects"):
        input_fn('{"transaction_id": "t-1"}', "application/json")


def test_unsupported_content_types_are_rejected(model: FraudModel, scoring: pa.Table) -> None:
    # Given a request in XML, and a CSV request that asks for an XML answer
    prediction = predict_fn(input_fn(csv_records(scoring, model), "text/csv"), model)

    # Then both say which types work
    with pytest.raises(UnsupportedContentTypeError, match="'application/xml'.*text/csv"):
        input_fn("<records/>", "application/xml")
    with pytest.raises(UnsupportedContentTypeError, match="'application/xml'.*text/csv"):
        output_fn(prediction, "application/xml")


def test_a_model_folder_without_the_model_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=inference.MODEL_FILE):
        model_fn(str(tmp_path))


def test_a_file_as_dropped_for_scoring_is_scored_by_column_name(
    model: FraudModel, scoring: pa.Table
) -> None:
    # Given rows with a header in the dataset's own columns, reversed, plus a label the
    # model does not use, as CSV and as JSON Lines
    table = scoring.slice(0, 5)
    columns = list(reversed(table.column_names))
    labelled = table.select(columns).append_column("is_fraud", pa.array([0] * len(table)))
    sink = io.BytesIO()
    pa_csv.write_csv(labelled, sink)
    as_csv = sink.getvalue().decode()
    as_json_lines = "\n".join(json.dumps(row, default=str) for row in labelled.to_pylist())
    positional = csv_probabilities(score(csv_records(table, model), "text/csv", model, "text/csv"))

    # When each is scored
    by_name = csv_probabilities(score(as_csv, "text/csv", model, "text/csv"))
    lines = json.loads(score(as_json_lines, "application/jsonlines", model, "application/json"))

    # Then each row gets the probability it gets positionally, keyed by its id
    assert by_name.keys() == positional.keys()
    assert list(by_name.values()) == pytest.approx(list(positional.values()), abs=1e-8)
    assert [p["transaction_id"] for p in lines["predictions"]] == list(positional)


def test_a_header_without_a_feature_is_a_client_error(model: FraudModel) -> None:
    # Given a header that lacks a feature column
    header = ",".join([model.id_column, *model.feature_columns[1:]])
    # When it is scored, then the error names the column and carries a 4xx status
    with pytest.raises(InvalidInputError, match=model.feature_columns[0]) as raised:
        score(header + "\n", "text/csv", model, "text/csv")
    assert raised.value.status_code == 400
    with pytest.raises(UnsupportedContentTypeError) as unsupported:
        input_fn("x", "text/plain")
    assert unsupported.value.status_code == 415
