"""The verification wing without servers: what it reads from rule expressions, from
expectations.json and how it reports (the live checks are in test_verify_live.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from conftest import OUTPUT
from rulesgen.cli import parser
from rulesgen.lower.routing import expected_receiver
from rulesgen.spec.validate import load_spec
from rulesgen.verify.client import Auth
from rulesgen.verify.findings import Finding, render
from rulesgen.verify.run import CHECKS
from rulesgen.verify.selectors import canonical, literal_values, reads, simple_comparison


@pytest.mark.parametrize(
    ("regex", "values"),
    [
        ("arbitrum|polygon", ("arbitrum", "polygon")),
        ("/v1/nodes|/v1/notifications", ("/v1/nodes", "/v1/notifications")),
        (r"a\.b|c", ("a.b", "c")),
        ("polygon.*", None),
        ("(a|b)", None),
    ],
)
def test_only_an_alternation_of_literals_has_values(regex: str, values: tuple[str, ...] | None) -> None:
    assert literal_values(regex) == values


def test_reads_follow_the_ast() -> None:
    (read,) = reads('sum by (le) (rate(h_bucket{route=~"/a|/b",m="GET",x!="y"}[5m] offset 1w)) > 0.5')
    assert (read.metric, read.range_s, read.offset_s, read.counter) == ("h_bucket", 300, 604800, True)
    assert read.values == {"route": {"/a", "/b"}, "m": {"GET"}}


def test_expressions_compare_by_meaning() -> None:
    assert canonical('sum by(a)(x{b="c"})>5') == canonical('sum by (a) (x{b="c"}) > 5')
    assert canonical("x > 5") != canonical("x > 6")
    comparison = simple_comparison("sum by (n) (x) > 20")
    assert comparison is not None and (comparison.op, comparison.threshold) == (">", 20)
    assert simple_comparison("a > 1 and b > 1") is None


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_expectations_receivers_are_the_spec_routing(env: str) -> None:
    """The receiver expectations.json derives from the route tree is the one the spec
    means (lower.routing computes it from the spec alone)."""
    doc = load_spec(OUTPUT.parent / "thresholds.yaml")
    expectations = json.loads((OUTPUT / env / "expectations.json").read_text())
    rules = [rule for alert in expectations["alerts"].values() for rule in alert["rules"]]
    assert rules
    for rule in rules:
        assert rule["receiver"] == expected_receiver(doc, env, rule["labels"]), rule


def test_skip_takes_every_check_and_nothing_else() -> None:
    for name in CHECKS:
        assert parser().parse_args(["verify", "--prometheus", "u", "--skip", name]).skip == [name]
    with pytest.raises(SystemExit):
        parser().parse_args(["verify", "--prometheus", "u", "--skip", "nothing"])


def test_reports_in_every_format() -> None:
    findings = [
        Finding("output/prod/prometheus/b.rules.yml:11", "RG303", 'x has no series with n="a|b"', "x{n}", "t.yaml:3:1"),
        Finding("output/prod/prometheus/b.rules.yml:9", "RG321", "A is at 19, within 10% of firing", "A"),
    ]
    text = render(findings, "text").splitlines()
    assert text[0].startswith("output/prod/prometheus/b.rules.yml:9: info RG321")  # line 9 before line 11
    assert text[-1] == "1 error(s), 0 warning(s), 1 note(s)"
    assert render(findings, "github").splitlines()[1] == (
        '::error file=t.yaml,line=3,title=RG303::x has no series with n="a|b" (output/prod/prometheus/b.rules.yml:11)'
    )
    assert '| error | RG303 | `output/prod/prometheus/b.rules.yml:11` | x has no series with n="a\\|b" |' in render(
        findings, "markdown"
    )
    assert json.loads(render(findings, "json"))["ok"] is False


def test_credentials_come_from_files(tmp_path: Path) -> None:
    basic = tmp_path / "basic"
    basic.write_text("verify:s3cret\n")
    assert Auth({"X-Scope-OrgID": "billing"}, basic_auth_file=basic).all_headers() == {
        "X-Scope-OrgID": "billing",
        "Authorization": "Basic " + base64.b64encode(b"verify:s3cret").decode(),
    }
    token = tmp_path / "token"
    token.write_text("abc\n")
    assert Auth(bearer_token_file=token).all_headers() == {"Authorization": "Bearer abc"}
    basic.write_text("no colon")
    with pytest.raises(ValueError, match="expected `user:password`"):
        Auth(basic_auth_file=basic).all_headers()
