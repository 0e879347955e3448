"""`rulesgen simulate --scrape-interval`: what the interval changes in the file, and
what it leaves alone."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

from conftest import SPEC, run_cli
from rulesgen.backtest.simulate import simulate
from rulesgen.spec.validate import load_spec

Series = dict[str, list[tuple[int, float]]]


def _series(path: Path) -> Series:
    out: Series = defaultdict(list)
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, value, ts = line.rsplit(" ", 2)
            out[key].append((int(ts), float(value)))
    return out


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Series, str]]:
    doc = load_spec(SPEC)
    out = {}
    for step in (30, 60):
        path = tmp_path_factory.mktemp(f"sim{step}") / "h.om"
        incidents = simulate(doc, 0.1, 1, path, step)
        out[step] = (_series(path), incidents.read_text())
    return out


def test_every_series_is_sampled_at_the_interval(histories: dict[int, tuple[Series, str]]) -> None:
    for step, (series, _) in histories.items():
        for samples in series.values():
            gaps = [b[0] - a[0] for a, b in pairwise(samples)]
            # a failed scrape or a Prometheus restart leaves a longer gap, never a shorter one
            assert min(gaps) == step and all(gap % step == 0 for gap in gaps)


def test_a_longer_interval_writes_fewer_samples_of_the_same_series(histories: dict[int, tuple[Series, str]]) -> None:
    fine, coarse = histories[30][0], histories[60][0]
    assert fine.keys() == coarse.keys()
    assert sum(map(len, coarse.values())) * 2 == pytest.approx(sum(map(len, fine.values())), rel=0.01)


def test_counters_count_the_same_events_whatever_the_interval(histories: dict[int, tuple[Series, str]]) -> None:
    """A counter grows by rate x interval per scrape: at a time both files sample, the
    totals agree to within the events one scrape can round away."""
    key = 'redis_keyspace_hits_total{instance="redis-0:9121",job="redis"}'
    fine, coarse = dict(histories[30][0][key]), dict(histories[60][0][key])
    last = max(fine.keys() & coarse.keys())
    assert coarse[last] == pytest.approx(fine[last], rel=0.01)
    assert coarse[last] > 1000


def test_incidents_do_not_move_with_the_interval(histories: dict[int, tuple[Series, str]]) -> None:
    assert histories[30][1] == histories[60][1]


def test_the_cli_takes_a_duration_and_refuses_one_outside_1s_to_2m(tmp_path: Path) -> None:
    out = tmp_path / "h.om"
    done = run_cli("simulate", "--spec", str(SPEC), "--days", "1", "--scrape-interval", "2m", "--out", str(out))
    assert done.returncode == 0, done.stderr
    samples = _series(out)
    assert {t % 120 for s in samples.values() for t, _ in s} == {0}
    assert len(samples['up{instance="redis-0:9121",job="redis"}']) == pytest.approx(24 * 30, abs=2)  # less a restart
    for bad in ("5m", "1.5s", "soon"):
        done = run_cli("simulate", "--spec", str(SPEC), "--scrape-interval", bad, "--out", str(tmp_path / "x.om"))
        assert done.returncode == 2 and "--scrape-interval" in done.stderr, done.stderr
        assert not (tmp_path / "x.om").exists()
