"""Quality guard on the real name_bench pairs: the matcher must keep its F1 at the match threshold."""

from __future__ import annotations

import csv

from kyc_core.screening.compare import DEFAULT_THRESHOLDS, compare_two_names
from kyc_core.screening.model import entity_type


def test_name_bench_f1_stays_above_the_issue_target(shared_data):
    path = shared_data / "benchmarks" / "name_bench" / "cases.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        cases = list(csv.DictReader(handle))
    assert len(cases) == 826
    tp = fp = fn = 0
    for case in cases:
        predicted = (
            compare_two_names(case["name1"], case["name2"], entity_type(case["schema"])).score
            >= DEFAULT_THRESHOLDS.match
        )
        expected = case["is_match"] == "true"
        tp += predicted and expected
        fp += predicted and not expected
        fn += expected and not predicted
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.85, (precision, recall, f1)
