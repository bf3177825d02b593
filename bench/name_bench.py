"""Name-matching quality on name_bench: precision, recall and F1 at the match threshold, per category.

Input: ../shared/data/benchmarks/name_bench/cases.csv (826 labelled pairs, columns case_group, schema,
name1, name2, is_match, quality, category, notes). Every pair is scored by the production matcher with
the type its FollowTheMoney schema implies; a pair is predicted a match when its score reaches the
match threshold.

    .venv/bin/python bench/name_bench.py [--cases PATH] [--threshold 0.7] [--errors]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

from kyc_core.screening.compare import DEFAULT_THRESHOLDS, MATCHER_VERSION, compare_two_names
from kyc_core.screening.model import entity_type

DEFAULT_CASES = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks" / "name_bench" / "cases.csv"
)


def load_cases(path: Path) -> list[dict[str, str]]:
    """The labelled pairs, or a clear exit when the file is missing."""
    if not path.is_file():
        sys.exit(f"name_bench: cases file not found: {path} (pass --cases PATH)")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 (0 where undefined)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLDS.match)
    parser.add_argument("--errors", action="store_true", help="list every misclassified pair")
    args = parser.parse_args(argv)
    cases = load_cases(args.cases)
    started = time.perf_counter()
    counts: dict[str, dict[str, list[int]]] = {
        "case_group": defaultdict(lambda: [0, 0, 0, 0]),
        "schema": defaultdict(lambda: [0, 0, 0, 0]),
        "category": defaultdict(lambda: [0, 0, 0, 0]),
    }
    total = [0, 0, 0, 0]  # tp fp fn tn
    errors: list[str] = []
    for case in cases:
        result = compare_two_names(case["name1"], case["name2"], entity_type(case["schema"]))
        predicted = result.score >= args.threshold
        expected = case["is_match"].strip().lower() == "true"
        slot = 0 if predicted and expected else 1 if predicted else 2 if expected else 3
        total[slot] += 1
        category = case["category"] or "(none)"
        for key, value in (
            ("case_group", case["case_group"]),
            ("schema", case["schema"]),
            ("category", category),
        ):
            counts[key][value][slot] += 1
        if slot in (1, 2):
            errors.append(
                f"{'FP' if slot == 1 else 'FN'} {result.score:.3f} {case['schema']:<12} "
                f"{case['name1']!r} ~ {case['name2']!r}"
            )
    elapsed = time.perf_counter() - started
    precision, recall, f1 = prf(total[0], total[1], total[2])
    print(f"name_bench: {len(cases)} pairs from {args.cases}")
    print(
        f"matcher {MATCHER_VERSION}, match threshold {args.threshold:.2f}, {elapsed * 1000 / len(cases):.2f} ms/pair"
    )
    print(f"TP {total[0]}  FP {total[1]}  FN {total[2]}  TN {total[3]}")
    print(f"precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}   (nomenklatura logic-v2: F1 0.790)")
    for key in ("case_group", "schema", "category"):
        print(
            f"\n{key:<28} {'pairs':>5} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'prec':>6} {'rec':>6} {'F1':>6} {'acc':>6}"
        )
        rows = sorted(counts[key].items(), key=lambda kv: -sum(kv[1]))
        for value, (tp, fp, fn, tn) in rows:
            if key == "category" and tp + fp + fn + tn < 3:
                continue
            p, r, f = prf(tp, fp, fn)
            n = tp + fp + fn + tn
            print(
                f"{value[:28]:<28} {n:>5} {tp:>4} {fp:>4} {fn:>4} {tn:>4} {p:>6.3f} {r:>6.3f} {f:>6.3f} {(tp + tn) / n:>6.3f}"
            )
        if key == "category":
            print("(categories with fewer than 3 pairs omitted from this table; they count in the totals)")
    if args.errors:
        print("\nmisclassified:")
        print("\n".join(errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
