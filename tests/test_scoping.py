"""Environment scoping for shared query layers (Thanos, Mimir): with `scope`, every raw
selector matches the environment's external label, so prod rules evaluated against a
global view ignore staging's series; without it they sum them. Proven with promtool on
the generated files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from conftest import minimal_text, require
from rulesgen.pipeline import build_text
from rulesgen.targets.scoping import scoped_expr

# Staging fails 20 transactions in 5 minutes on a global query layer; prod none.
SERIES = [
    {
        "series": 'tx_total{env="staging",instance="a:1",job="app",network="polygon",status="failed"}',
        "values": "0+4x20",
    },
    {"series": 'tx_total{env="prod",instance="a:1",job="app",network="polygon",status="failed"}', "values": "0+0x20"},
    {"series": 'up{env="staging",instance="a:1",job="app"}', "values": "1+0x20"},
    {"series": 'up{env="prod",instance="a:1",job="app"}', "values": "1+0x20"},
]


def rules_file(tmp_path: Path, scope: str) -> Path:
    text = minimal_text() + f"\ntargets:\n  thanos: {{{scope}}}\n"
    doc = yaml.safe_load(build_text(text, tests=False)["prod/thanos/billing.rules.yml"])
    for group in doc["groups"]:
        del group["partial_response_strategy"]  # Thanos's own key, which promtool refuses
    path = tmp_path / "billing.rules.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def fires(tmp_path: Path, scope: str) -> bool:
    """Whether TxFailing fires at 15m for prod with the Thanos rules of `scope`."""
    rules = rules_file(tmp_path, scope)
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": SERIES,
                "alert_rule_test": [{"eval_time": "15m", "alertname": "TxFailing", "exp_alerts": []}],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test))
    proc = subprocess.run(
        [require("promtool"), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert "SUCCESS" in proc.stdout or "alertname: TxFailing" in proc.stderr, proc.stdout + proc.stderr
    return proc.returncode != 0  # the expected silence failed: it fired


def test_unscoped_thanos_rules_page_prod_on_staging_traffic(tmp_path: Path) -> None:
    assert fires(tmp_path, "")


def test_scoped_thanos_rules_read_only_their_environment(tmp_path: Path) -> None:
    assert not fires(tmp_path, 'scope: {env: "{env}"}')
    text = rules_file(tmp_path, 'scope: {env: "{env}"}').read_text()
    assert 'up{env="prod"} offset 5m' in text
    assert 'tx_total{env="prod"}' in text


def test_scoping_leaves_recording_rules_and_own_matchers_alone() -> None:
    got = scoped_expr('sum(rec:x{a="b"}) / x{env="other"} + y', {"env": "prod"}, {"rec:x"})
    assert got == 'sum(rec:x{a="b"}) / x{env="other"} + y{env="prod"}'
