"""The deploy targets: prometheus-operator objects, vmalert, Mimir and Thanos rule files.

What is validated, and why:

- Every target carries exactly the plain Prometheus rule groups (the ones promtool
  tests), parsed back from each file and compared; only each format's own keys differ.
- PrometheusRule objects are validated against the PrometheusRule CRD's
  `openAPIV3Schema` (prometheus-operator v0.82.2, vendored in tests/schemas), made strict the way the API
  server's strict field validation is: an unknown field is an error, not silently pruned.
  A wrong object (an integer `for`, a misspelt field, a bad duration) must fail it.
  Names are DNS-1123 subdomains, namespaces DNS-1123 labels, label keys and values
  valid, all by Kubernetes' own rules. `kubectl kustomize` builds each environment's
  kustomization with the Grafana ConfigMaps when kubectl is installed.
- vmalert files pass `vmalert -dryRun`, which parses every expression (MetricsQL) and
  every annotation template with vmalert's functions, and fails on an unknown group key.
- Mimir: `mimirtool rules load` decodes a file strictly into `namespace` and `groups`
  (each a Prometheus rule group, optionally with `source_tenants`), rejects a namespace
  loaded twice and a group name repeated within a namespace. We check exactly those keys,
  unique namespaces per environment and unique group names, and that promtool accepts the
  groups once `namespace` is removed (promtool rejects the file with it: promtool is
  strict, so the stripped check covers every rule).
- Thanos Ruler: each group has `partial_response_strategy` (`abort` or `warn`, from the
  options); promtool accepts the groups once it is removed and rejects them with it.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs among the dev dependencies
import pytest
import yaml
from pydantic import ValidationError

from conftest import ROOT, SPEC, require
from rulesgen.ir import AlertRule, Compare, EnvIR, ProgramIR, Quantity, RecordingRule, RuleGroup, TestSuite
from rulesgen.pipeline import compile_spec
from rulesgen.promql import Duration
from rulesgen.spec.validate import load_spec
from rulesgen.targets import grafana, kubernetes, mimir, prometheus, thanos, vmalert
from rulesgen.targets.base import Options

# Vendored with its source, version and license (tests/schemas/README.md): a clone runs every test.
CRD = Path(__file__).resolve().parent / "schemas" / "monitoring.coreos.com_prometheusrules.yaml"

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.fixture(scope="module")
def program() -> ProgramIR:
    assert ROOT.is_dir()
    return compile_spec(load_spec(SPEC), tests=False)


@pytest.fixture(scope="module")
def prom_groups(program: ProgramIR) -> dict[str, list[dict[str, Any]]]:
    """The plain Prometheus groups, keyed by `<env>/<team>`, as parsed from their files."""
    out = {}
    for path, content in prometheus.emit(program, TestSuite(), Options()).items():
        env, _, name = path.split("/")
        out[f"{env}/{name.removesuffix('.rules.yml')}"] = yaml.safe_load(content)["groups"]
    return out


def env_team(path: str, prefix: str = "", suffix: str = ".rules.yml") -> str:
    env, *_, name = path.split("/")
    return f"{env}/{name.removeprefix(prefix).removesuffix(suffix)}"


def promtool_check(tmp: Path, name: str, doc: Any) -> subprocess.CompletedProcess[str]:
    path = tmp / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return subprocess.run(
        [require("promtool"), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )


def toy_program(*teams: str) -> ProgramIR:
    """A hand-built IR: one group per team, one recording and one alerting rule each."""
    groups = tuple(
        RuleGroup(
            name=f"rulesgen.{team}",
            file=f"{team}.rules.yml",
            interval=Duration.parse("1m"),
            rules=(
                RecordingRule(record="job:up:sum", expr="sum by (job) (up)"),
                AlertRule(
                    alert="Down",
                    expr="job:up:sum == 0",
                    for_=Duration.parse("5m"),
                    labels=(("severity", "critical"),),
                    annotations=(("summary", "{{ $labels.job }} is down"),),
                    condition=Compare(Quantity("job:up:sum", "count", "up targets per job"), "==", 0),
                ),
            ),
        )
        for team in teams
    )
    return ProgramIR(source="toy.yaml", envs=(EnvIR(env="prod", alerts=(), groups=groups),))


# --- prometheus-operator -------------------------------------------------------------


def strict_schema(schema: Any) -> Any:
    """The CRD schema as the API server applies it with strict field validation: unknown
    fields are errors (a CRD's structural schema would otherwise prune them silently).
    Go's regexes allow `^(?i)...`; Python wants the flag first."""
    if isinstance(schema, dict):
        out = {k: strict_schema(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        if isinstance(out.get("pattern"), str) and out["pattern"].startswith("^(?i)"):
            out["pattern"] = "(?i)^" + out["pattern"].removeprefix("^(?i)")
        return out
    if isinstance(schema, list):
        return [strict_schema(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def crd_validator() -> jsonschema.protocols.Validator:
    (crd,) = [doc for doc in yaml.safe_load_all(CRD.read_text()) if doc]
    assert crd["spec"]["names"]["kind"] == "PrometheusRule"
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = strict_schema(version["schema"]["openAPIV3Schema"])
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def metadata_errors(metadata: dict[str, Any]) -> list[str]:
    errors = []
    name, namespace = metadata["name"], metadata["namespace"]
    if len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        errors.append(f"name {name!r}")
    if len(namespace) > 63 or not DNS1123_LABEL.match(namespace):
        errors.append(f"namespace {namespace!r}")
    for key in [*metadata.get("labels", {}), *metadata.get("annotations", {})]:
        prefix, _, label = key.rpartition("/")
        if (prefix and not DNS1123_SUBDOMAIN.match(prefix)) or len(label) > 63 or not LABEL_NAME.match(label):
            errors.append(f"key {key!r}")
    for value in metadata.get("labels", {}).values():
        if len(value) > 63 or not LABEL_VALUE.match(value):
            errors.append(f"label value {value!r}")
    return errors


def test_prometheusrules_pass_the_crd_schema_and_carry_the_prometheus_groups(
    program: ProgramIR,
    prom_groups: dict[str, list[dict[str, Any]]],
    crd_validator: jsonschema.protocols.Validator,
) -> None:
    files = kubernetes.emit(program, kubernetes.Options())
    rules = {path: yaml.safe_load(content) for path, content in files.items() if "/kubernetes/" in path}
    assert {env_team(p, "prometheusrule-", ".yaml") for p in rules} == set(prom_groups)
    for path, obj in rules.items():
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in crd_validator.iter_errors(obj)]
        assert not errors, (path, errors)
        assert (obj["apiVersion"], obj["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
        assert not metadata_errors(obj["metadata"]), (path, metadata_errors(obj["metadata"]))
        assert obj["metadata"]["namespace"] == "monitoring"
        assert obj["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "rulesgen",
            "release": "kube-prometheus-stack",
        }
        assert obj["spec"]["groups"] == prom_groups[env_team(path, "prometheusrule-", ".yaml")]
    names = [obj["metadata"]["name"] for obj in rules.values()]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "groups", 0, "rules", -1, "for"), 5),  # an integer where the CRD wants a duration string
        (("spec", "groups", 0, "rules", -1, "for"), "5 minutes"),
        (("spec", "groups", 0, "interval"), "1 minute"),
        (("spec", "groups", 0, "rules", -1, "forr"), "5m"),  # unknown field
        (("spec", "groups", 0, "name"), ""),
        (("spec", "groups", 0, "rules", -1, "labels", "severity"), 1),
        (("spec", "groups", 0, "partial_response_strategy"), "sometimes"),
    ],
)
def test_the_crd_schema_rejects_a_bad_object(
    program: ProgramIR, crd_validator: jsonschema.protocols.Validator, path: tuple[Any, ...], value: Any
) -> None:
    files = kubernetes.emit(program, kubernetes.Options())
    good = yaml.safe_load(files["prod/kubernetes/prometheusrule-billing.yaml"])
    assert crd_validator.is_valid(good)
    bad = copy.deepcopy(good)
    target = bad
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert not crd_validator.is_valid(bad)


def test_the_crd_schema_rejects_an_object_without_spec(crd_validator: jsonschema.protocols.Validator) -> None:
    assert not crd_validator.is_valid({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule"})


def test_kustomization_lists_every_rule_and_dashboard_configmap(program: ProgramIR) -> None:
    files = kubernetes.emit(program, kubernetes.Options())
    dashboards = grafana.emit(program, TestSuite(), Options())
    for env in program.envs:
        doc = yaml.safe_load(files[f"{env.env}/kustomization.yaml"])
        assert doc["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
        assert doc["kind"] == "Kustomization"
        assert doc["namespace"] == "monitoring"
        resources = doc["resources"]
        assert len(resources) == len(set(resources))
        # Only files in or below the kustomization's directory: kustomize refuses `../`.
        assert all(not r.startswith(("/", "..")) and "/../" not in r for r in resources)
        expected_rules = {p.removeprefix(f"{env.env}/") for p in files if p.startswith(f"{env.env}/kubernetes/")}
        expected_maps = {
            p.removeprefix(f"{env.env}/") for p in dashboards if p.startswith(f"{env.env}/grafana/configmaps/")
        }
        assert expected_maps, "the Grafana emitter wrote no ConfigMaps"
        assert set(resources) == expected_rules | expected_maps


def test_kustomize_builds_each_environment(program: ProgramIR, tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomization is checked by structure only")
    files = {
        **kubernetes.emit(program, kubernetes.Options(namespace="observability")),
        **grafana.emit(program, TestSuite(), Options()),
    }
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    for env in program.envs:
        done = subprocess.run(
            [kubectl, "kustomize", str(tmp_path / env.env)], capture_output=True, text=True, check=False, timeout=60
        )
        assert done.returncode == 0, done.stderr
        objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
        kinds = sorted(obj["kind"] for obj in objects)
        teams = len(env.groups)
        assert kinds.count("PrometheusRule") == teams
        assert kinds.count("ConfigMap") == len(kinds) - teams > 0
        assert {obj["metadata"]["namespace"] for obj in objects} == {"observability"}


def test_kubernetes_options_shape_the_objects(program: ProgramIR) -> None:
    options = kubernetes.Options(
        namespace="obs",
        labels={"prometheus": "main", "example.com/tier": "rules"},
        annotations={"argocd.argoproj.io/sync-wave": "1"},
        dashboards=False,
    )
    files = kubernetes.emit(program, options)
    obj = yaml.safe_load(files["staging/kubernetes/prometheusrule-platform.yaml"])
    assert obj["metadata"] == {
        "name": "rulesgen-staging-platform",
        "namespace": "obs",
        "labels": {"app.kubernetes.io/managed-by": "rulesgen", "example.com/tier": "rules", "prometheus": "main"},
        "annotations": {"argocd.argoproj.io/sync-wave": "1"},
    }
    kustomization = yaml.safe_load(files["staging/kustomization.yaml"])
    assert kustomization["namespace"] == "obs"
    assert all(r.startswith("kubernetes/") for r in kustomization["resources"])
    assert not any(
        p.endswith("kustomization.yaml") for p in kubernetes.emit(program, kubernetes.Options(kustomization=False))
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"namespace": "Monitoring"},
        {"namespace": "a" * 64},
        {"labels": {"release": "kube prometheus"}},
        {"labels": {"-release": "x"}},
        {"labels": {"Example.com/x": "y"}},
        {"labels": {"release": "x" * 64}},
        {"labels": {"app.kubernetes.io/managed-by": "helm"}},
        {"labels": {"release": 1}},  # strict: no coercion
        {"annotations": {"bad key": "x"}},
        {"enabled": "yes"},
        {"namspace": "monitoring"},  # a typo is an error, not ignored
    ],
)
def test_kubernetes_options_reject_invalid_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        kubernetes.Options.model_validate(bad)


def test_object_names_are_dns_names_and_never_collide() -> None:
    files = kubernetes.emit(toy_program("data_eng"), kubernetes.Options())
    obj = yaml.safe_load(files["prod/kubernetes/prometheusrule-data_eng.yaml"])
    assert obj["metadata"]["name"] == "rulesgen-prod-data-eng"
    with pytest.raises(ValueError, match="both map to 'rulesgen-prod-data-eng'"):
        kubernetes.emit(toy_program("data_eng", "data-eng"), kubernetes.Options())


# --- vmalert --------------------------------------------------------------------------


def vmalert_dry_run(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("vmalert")
    if exe is None:
        pytest.fail("vmalert is not installed: run `make test` (scripts/install-tools.sh installs victoria-metrics)")
    return subprocess.run(
        [exe, "-dryRun", "-rule.validateExpressions", "-rule.validateTemplates", *(f"-rule={p}" for p in paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_vmalert_accepts_every_rule_file(
    program: ProgramIR, prom_groups: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    files = vmalert.emit(program, vmalert.Options())
    assert {env_team(p) for p in files} == set(prom_groups)
    for env in program.envs:
        paths = []
        for path, content in files.items():
            if path.startswith(f"{env.env}/vmalert/"):
                (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / path).write_bytes(content)
                paths.append(tmp_path / path)
                (group,) = yaml.safe_load(content)["groups"]
                assert group.pop("type") == "prometheus"
                assert [group] == prom_groups[env_team(path)]
        # All of an environment's files at once, as one vmalert loads them.
        done = vmalert_dry_run(paths)
        assert done.returncode == 0, done.stderr[-3000:]


def test_vmalert_dry_run_rejects_a_template_it_cannot_render(program: ProgramIR, tmp_path: Path) -> None:
    doc = yaml.safe_load(vmalert.emit(program, vmalert.Options())["prod/vmalert/billing.rules.yml"])
    alert = next(r for r in doc["groups"][0]["rules"] if "alert" in r)
    alert["annotations"]["summary"] = "{{ $value | humanizeWeird }}"
    path = tmp_path / "bad.rules.yml"
    path.write_text(yaml.safe_dump(doc))
    done = vmalert_dry_run([path])
    assert done.returncode != 0
    assert "humanizeWeird" in done.stderr


def test_vmalert_options(program: ProgramIR) -> None:
    files = vmalert.emit(program, vmalert.Options(concurrency=4))
    (group,) = yaml.safe_load(files["prod/vmalert/billing.rules.yml"])["groups"]
    assert list(group) == ["name", "type", "interval", "concurrency", "rules"]
    assert group["concurrency"] == 4
    for bad in ({"concurrency": 0}, {"concurrency": "2"}, {"type": "graphite"}):
        with pytest.raises(ValidationError):
            vmalert.Options.model_validate(bad)


# --- Mimir ----------------------------------------------------------------------------


def test_mimir_namespace_files_follow_mimirtools_format(
    program: ProgramIR, prom_groups: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    files = mimir.emit(program, mimir.Options())
    assert {env_team(p, suffix=".yaml") for p in files} == set(prom_groups)
    namespaces: dict[str, set[str]] = {}
    for path, content in files.items():
        doc = yaml.safe_load(content)
        env, team = env_team(path, suffix=".yaml").split("/")
        assert list(doc) == ["namespace", "groups"]
        assert doc["namespace"] == f"rulesgen-{env}-{team}"
        # mimirtool refuses a namespace loaded twice.
        assert doc["namespace"] not in namespaces.setdefault(env, set())
        namespaces[env].add(doc["namespace"])
        names = [g["name"] for g in doc["groups"]]
        assert all(names) and len(set(names)) == len(names)
        for group in doc["groups"]:
            assert set(group) <= {"name", "interval", "rules", "source_tenants"}
        assert doc["groups"] == prom_groups[f"{env}/{team}"]

        rejected = promtool_check(tmp_path, "mimir-as-is.yml", doc)
        assert rejected.returncode != 0 and "namespace" in rejected.stderr + rejected.stdout
        accepted = promtool_check(tmp_path, "mimir-groups.yml", {"groups": doc["groups"]})
        assert accepted.returncode == 0, accepted.stderr + accepted.stdout


def test_mimir_namespace_prefix(program: ProgramIR) -> None:
    files = mimir.emit(program, mimir.Options(namespace_prefix="obs_"))
    assert yaml.safe_load(files["staging/mimir/billing.yaml"])["namespace"] == "obs_staging-billing"
    for bad in ("a/b", "a b", "ä"):
        with pytest.raises(ValidationError):
            mimir.Options(namespace_prefix=bad)


# --- Thanos ---------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["abort", "warn"])
def test_thanos_groups_carry_the_partial_response_strategy(
    program: ProgramIR, prom_groups: dict[str, list[dict[str, Any]]], tmp_path: Path, strategy: str
) -> None:
    options = thanos.Options() if strategy == "abort" else thanos.Options(partial_response_strategy="warn")
    files = thanos.emit(program, options)
    assert {env_team(p) for p in files} == set(prom_groups)
    for path, content in files.items():
        doc = yaml.safe_load(content)
        assert list(doc) == ["groups"]
        for group in doc["groups"]:
            assert list(group) == ["name", "interval", "partial_response_strategy", "rules"]
            assert group["partial_response_strategy"] == strategy
        rejected = promtool_check(tmp_path, "thanos-as-is.yml", doc)
        assert rejected.returncode != 0 and "partial_response_strategy" in rejected.stderr + rejected.stdout
        stripped = [{k: v for k, v in g.items() if k != "partial_response_strategy"} for g in doc["groups"]]
        assert stripped == prom_groups[env_team(path)]
        accepted = promtool_check(tmp_path, "thanos-groups.yml", {"groups": stripped})
        assert accepted.returncode == 0, accepted.stderr + accepted.stdout


def test_thanos_options_reject_unknown_strategies() -> None:
    for bad in ("ABORT", "fail", ""):
        with pytest.raises(ValidationError):
            thanos.Options.model_validate({"partial_response_strategy": bad})


# --- all targets ----------------------------------------------------------------------


def test_every_target_is_deterministic_and_quotes_its_strings(program: ProgramIR) -> None:
    again = compile_spec(load_spec(SPEC), tests=False)
    emitters: list[Callable[[ProgramIR], Mapping[str, bytes]]] = [
        lambda p: kubernetes.emit(p, kubernetes.Options()),
        lambda p: vmalert.emit(p, vmalert.Options()),
        lambda p: mimir.emit(p, mimir.Options()),
        lambda p: thanos.emit(p, thanos.Options()),
    ]
    for emit in emitters:
        first = emit(program)
        assert first == emit(again)
        for path, content in first.items():
            assert content.startswith(b"# Generated by rulesgen from thresholds.yaml"), path
            assert not plain_values(content.decode()), (path, plain_values(content.decode()))


def plain_values(text: str) -> list[str]:
    """Values written without quotes, other than integers and booleans: every string must be
    double-quoted, so that no YAML reader retypes `on`, `no` or `1e3`."""
    out: list[str] = []
    previous: yaml.Token | None = None
    for token in yaml.scan(text):
        if isinstance(token, yaml.ScalarToken) and token.plain and not isinstance(previous, yaml.KeyToken):
            value: str = token.value
            if not re.fullmatch(r"-?[0-9]+|true|false", value):
                out.append(value)
        previous = token
    return out


def test_plain_values_finds_an_unquoted_string() -> None:
    assert plain_values('a: "x"\nb: 1\nc: [ok]\nd:\n- "y"\n- no\n') == ["ok", "no"]
