"""``driftline score``'s side of a request (driftline.endpoints): how rows are cut into
requests below InvokeEndpoint's 6 MB, which content type a file is sent as, and how the
answers of any problem type are printed."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from driftline import endpoints
from driftline.endpoints import CSV, JSON, JSON_LINES, Scored


def test_a_large_csv_is_cut_into_requests_of_whole_rows_each_with_the_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a CSV with a header and 1,000 rows, and requests bounded at 2 kB
    monkeypatch.setattr(endpoints, "MAX_REQUEST_BYTES", 2048)
    header = b"transaction_id,amount\n"
    rows = [f"t-{i:05d},{i}.5\n".encode() for i in range(1000)]
    # When it is cut into requests
    parts = list(endpoints.requests(header + b"".join(rows), CSV))
    # Then every request starts with the header, stays within the bound, and together
    # they hold every row once, in order
    assert len(parts) > 1
    assert all(part.startswith(header) and len(part) <= 2048 for part in parts)
    assert b"".join(part.removeprefix(header) for part in parts) == b"".join(rows)


def test_json_lines_are_cut_without_a_header_and_a_json_document_goes_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(endpoints, "MAX_REQUEST_BYTES", 100)
    lines = [b'{"id": "%d"}\n' % i for i in range(50)]
    parts = list(endpoints.requests(b"".join(lines), JSON_LINES))
    assert b"".join(parts) == b"".join(lines)
    assert all(len(part) <= 100 for part in parts)
    document = b"[" + b",".join(b'{"id": "%d"}' % i for i in range(50)) + b"]"
    assert list(endpoints.requests(document, JSON)) == [document]


def test_the_content_type_follows_the_file_name_else_the_first_character() -> None:
    assert endpoints.content_type_of(b"a,b\n", "batch.csv") == CSV
    assert endpoints.content_type_of(b'{"a": 1}\n', "rows.jsonl") == JSON_LINES
    assert endpoints.content_type_of(b"[]", "rows.json") == JSON
    assert endpoints.content_type_of(b'  {"a": 1}\n', "-") == JSON_LINES
    assert endpoints.content_type_of(b"a,b\n1,2\n", "-") == CSV


def test_predictions_of_every_problem_type_print_with_their_own_columns() -> None:
    # Given the answers of a binary, a multiclass and a regression endpoint
    answers: dict[str, list[dict[str, Any]]] = {
        "binary": [{"transaction_id": "t-1", "probability": 0.25}],
        "multiclass": [
            {
                "ticket_id": "k-1",
                "prediction": "billing",
                "probability:account": 0.1,
                "probability:billing": 0.9,
            }
        ],
        "regression": [{"sale_id": 7, "prediction": 12.5}, {"sale_id": None, "prediction": 3.0}],
    }
    for problem, predictions in answers.items():
        # When they are printed as CSV
        scored = Scored("dl-dev-x-live", next(iter(predictions[0])), predictions)
        table = list(csv.reader(io.StringIO(scored.as_csv())))
        # Then the header is the id column and the model's columns, one line per row
        assert table[0] == list(predictions[0]), problem
        assert len(table) == len(predictions) + 1, problem
        assert table[1] == [str(value) for value in predictions[0].values()], problem
    assert table[2] == ["", "3.0"]  # a row without an id keeps its place


@pytest.mark.parametrize("size", [2048, endpoints.MAX_REQUEST_BYTES])
def test_a_csv_of_a_header_alone_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    from driftline.errors import DriftlineError

    # Given an endpoint whose runtime records every request
    sent: list[bytes] = []

    class Runtime:
        def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
            sent.append(request["Body"])
            raise AssertionError("no request should be sent")

    class Target:
        def client(self, name: str) -> Runtime:
            return Runtime()

    monkeypatch.setattr(endpoints, "endpoint_for", lambda target, dataset: "dl-dev-x-live")
    # When a file holds a header line alone, short or longer than one request
    header = b"reading_id," + b"c" * size + b"\r\n"
    # Then it is refused as holding no rows, and nothing is sent
    with pytest.raises(DriftlineError, match="holds no rows to score, only a header line"):
        endpoints.score(Target(), "x", header, "rows.csv")  # type: ignore[arg-type]
    assert sent == []
