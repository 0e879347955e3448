"""The scenario model's histogram quantile is Prometheus's, to the last bit: generated
tests put quantiles exactly on a threshold, where one ulp decides what fires."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import require
from rulesgen.model.series import bucket_quantile
from rulesgen.promql import number

INF = math.inf
WINDOW = 300.0  # rates over 5m: the bucket counts a test series gains in one 5m step, / 300

# (quantile, {le: requests in the window}) of histograms whose quantile is delicate
HISTOGRAMS: list[tuple[float, dict[float, float]]] = [
    (0.5, {0.1: 10, 0.2: 5, INF: 8}),  # a higher bucket counts less: the envelope raises it
    (0.95, {0.1: 0, 0.2: 95, INF: 100}),  # the rank exactly at the top of a bucket
    (0.95, {0.0: 100, 0.1: 100, INF: 100}),  # the rank in a bucket at 0
    (0.95, {0.1: 50, 0.2: 60, INF: 100}),  # the rank past the last finite bucket
    (0.95, {0.1: 10, 0.235234: 60, 0.24: 95, INF: 100}),
    (0.9, {0.05: 3, 0.1: 1, 0.4: 7, 4.8: 2, INF: 9}),  # several dips
]


def test_a_higher_bucket_counting_less_is_raised_to_the_count_before_it() -> None:
    # Series summed by `le` from instances whose layouts differ: le="0.2" lacks the
    # instances without it, le="+Inf" lags a scrape. Prometheus's envelope counts 10
    # everywhere: the rank 5 lies halfway into the first bucket.
    assert bucket_quantile(0.5, [(0.1, 10.0), (0.2, 5.0), (INF, 8.0)]) == 0.05


def test_buckets_of_one_upper_bound_add_up() -> None:
    assert bucket_quantile(0.5, [(0.1, 4.0), (0.1, 6.0), (INF, 10.0)]) == 0.05


def test_the_rank_at_the_top_of_a_bucket_is_its_upper_bound_exactly() -> None:
    # q * total equals the bucket's count as doubles: rank / count is exactly 1.
    assert 0.95 * (100 / WINDOW) == 95 / WINDOW
    assert bucket_quantile(0.95, [(0.0994737, 0.0), (0.1, 95 / WINDOW), (INF, 100 / WINDOW)]) == 0.1


def test_a_bucket_at_or_under_zero_holding_the_rank_is_its_bound() -> None:
    assert bucket_quantile(0.95, [(0.0, 1.0), (0.1, 1.0), (INF, 1.0)]) == 0.0


def test_a_rank_past_the_last_finite_bucket_is_that_bucket_bound() -> None:
    assert bucket_quantile(0.95, [(0.1, 50.0), (0.2, 60.0), (INF, 100.0)]) == 0.2


@pytest.mark.parametrize(
    "buckets",
    [[(0.1, 1.0), (0.2, 2.0)], [(INF, 0.0), (0.1, 0.0)], [(INF, 3.0)], []],
    ids=["no +Inf", "no requests", "+Inf alone", "nothing"],
)
def test_histograms_without_a_quantile_are_nan(buckets: list[tuple[float, float]]) -> None:
    assert math.isnan(bucket_quantile(0.5, buckets))


def test_the_model_agrees_with_promtool_bit_for_bit(tmp_path: Path) -> None:
    """Each histogram as bucket counters gaining their counts in one 5m step: promtool's
    `histogram_quantile` of their rates equals the model's exactly (promtool compares
    the expected value as a double)."""
    require("promtool")
    tests = []
    for n, (q, counts) in enumerate(HISTOGRAMS):
        series = [
            {"series": f'h_bucket{{case="{n}",le="{"+Inf" if math.isinf(le) else number(le)}"}}', "values": f"0 {c:g}"}
            for le, c in counts.items()
        ]
        expected = bucket_quantile(q, [(le, c / WINDOW) for le, c in counts.items()])
        check = {
            "expr": f'histogram_quantile({q}, rate(h_bucket{{case="{n}"}}[5m]))',
            "eval_time": "5m",
            "exp_samples": [{"labels": f'{{case="{n}"}}', "value": expected}],
        }
        tests.append({"interval": "5m", "input_series": series, "promql_expr_test": [check]})
    (tmp_path / "rules.yml").write_text("groups: []\n")
    (tmp_path / "test.yml").write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "tests": tests}))
    result = subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
