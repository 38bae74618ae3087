"""The label per problem type (training/sklearn_classifier/target.py): what a target column
may hold, how the model sees it, and the reasons a split is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.sklearn_classifier.container import TrainingError
from training.sklearn_classifier.target import check_labels, encode, target_of


def test_binary_takes_0_1_and_booleans_as_the_same_two_classes() -> None:
    target = target_of(pd.Series(["0", "1", "true", "False"]), "binary", "label")
    assert target.classes == ("0", "1")
    assert encode(pd.Series(["1", "false", "TRUE", "0.0"]), "test", target).tolist() == [1, 0, 1, 0]


def test_binary_takes_any_two_labels_the_second_in_sort_order_positive() -> None:
    target = target_of(pd.Series(["yes", "no", "no"]), "binary", "approved")
    assert target.classes == ("no", "yes")
    assert encode(pd.Series(["yes", "no"]), "train", target).tolist() == [1, 0]


def test_binary_with_three_labels_says_to_declare_multiclass() -> None:
    with pytest.raises(TrainingError, match="holds 3 labels.*problem='multiclass'"):
        target_of(pd.Series(["a", "b", "c"]), "binary", "label")


def test_multiclass_integers_are_one_class_however_written_and_ordered_by_value() -> None:
    target = target_of(pd.Series(["10", "2", "2.0", "1"]), "multiclass", "grade")
    assert target.classes == ("1", "2", "10")
    assert encode(pd.Series(["2.0", "10", "1"]), "test", target).tolist() == [1, 2, 0]


def test_a_class_the_train_split_lacks_fails_the_split_with_the_known_classes() -> None:
    target = target_of(pd.Series(["a", "b"]), "multiclass", "team")
    with pytest.raises(TrainingError, match=r"1 missing or unknown.*'c'.*classes: a, b"):
        encode(pd.Series(["a", "c"]), "test", target)


def test_regression_takes_finite_numbers_only() -> None:
    target = target_of(pd.Series(["1.5"]), "regression", "units")
    assert encode(pd.Series(["1.5", "2"]), "train", target).tolist() == [1.5, 2.0]
    with pytest.raises(TrainingError, match="2 missing or non-numeric"):
        encode(pd.Series(["1", "inf", ""]), "train", target)


def test_a_constant_regression_target_and_a_rare_class_are_refused() -> None:
    regression = target_of(pd.Series(["3"]), "regression", "units")
    with pytest.raises(TrainingError, match="constant"):
        check_labels(np.full(10, 3.0), "train", regression, min_rows=5)
    classes = target_of(pd.Series(["a", "b", "c"]), "multiclass", "team")
    with pytest.raises(TrainingError, match="fewer than 2 rows of class 'c'"):
        check_labels(np.asarray([0, 0, 1, 1, 2]), "train", classes, min_rows=5)
