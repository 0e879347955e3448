"""prometheus-operator: one PrometheusRule object per environment and team, and a
kustomization that deploys them together with the Grafana dashboard ConfigMaps.

Files, per environment:

    <env>/kubernetes/prometheusrule-<team>.yaml   a `monitoring.coreos.com/v1` PrometheusRule
    <env>/kustomization.yaml                      lists the rules and `grafana/configmaps/*.yaml`

The kustomization sits at the environment's root, not in `kubernetes/`, because kustomize
refuses resource files outside the directory of the kustomization (`../grafana/...` fails
with "security; file ... is not in or below ..."). An Argo CD Application or a Flux
Kustomization then points at `<env>/`.

The rule groups are exactly the plain Prometheus ones (`prometheus.groups_document`), so a
PrometheusRule evaluates the same rules that promtool tested.

Defaults: namespace `monitoring` and the label `release: kube-prometheus-stack`, which is
what the kube-prometheus-stack Helm chart's Prometheus selects PrometheusRules by when it
is installed under that release name (its `ruleSelector` is `release: <release name>`
unless `ruleSelectorNilUsesHelmValues` is false). Set `labels` to whatever your
Prometheus object's `ruleSelector` matches; `{}` adds no selector label.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from rulesgen import conventions
from rulesgen.ir import EnvIR, ProgramIR, RuleGroup
from rulesgen.targets import base
from rulesgen.targets.base import Tests, header
from rulesgen.targets.prometheus import groups_document
from rulesgen.targets.yamlout import dump

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PrometheusRule"
MANAGED_BY = "app.kubernetes.io/managed-by"

# Kubernetes' own validation (k8s.io/apimachinery/pkg/util/validation), as regexes.
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # at most 63 characters
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")  # at most 253
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")  # at most 63
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")  # at most 63


def qualified_name_error(key: str) -> str | None:
    """Why `key` is not a valid label or annotation key (`[prefix/]name`), or None."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return f"{key!r}: the prefix before '/' must be a DNS-1123 subdomain of at most 253 characters"
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return f"{key!r}: the name must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric"
    return None


def label_value_error(value: str) -> str | None:
    """Why `value` is not a valid Kubernetes label value, or None."""
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return f"{value!r}: a label value is at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric"
    return None


def dns_name(*parts: str) -> str:
    """An object name (DNS-1123 subdomain) from spec identifiers: `billing_ops` -> `billing-ops`.

    Team and environment names may contain `_`, which Kubernetes names may not."""
    name = re.sub(r"[^a-z0-9.-]+", "-", "-".join(parts).lower())
    name = re.sub(r"-{2,}", "-", name)[:253].strip("-.")
    if not _DNS1123_SUBDOMAIN.match(name):
        raise ValueError(f"cannot derive a Kubernetes object name from {parts!r}")
    return name


class Options(base.Options):
    """The `kubernetes` target's settings. `emit` ignores `enabled`: the caller skips
    disabled targets."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    namespace: str = "monitoring"
    # What the Prometheus object's `ruleSelector` matches (kube-prometheus-stack: `release`).
    labels: dict[str, str] = Field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    # E.g. `argocd.argoproj.io/sync-wave` or `kustomize.toolkit.fluxcd.io/prune`.
    annotations: dict[str, str] = Field(default_factory=dict)
    kustomization: bool = True
    # List the Grafana dashboard ConfigMaps in the kustomization; turn off when the Grafana
    # target is off, or kustomize fails on the missing files.
    dashboards: bool = True

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if len(value) > 63 or not _DNS1123_LABEL.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes namespace (a DNS-1123 label of at most 63 characters)")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        errors = [e for k, v in value.items() for e in (qualified_name_error(k), label_value_error(v)) if e]
        if MANAGED_BY in value:
            errors.append(f"{MANAGED_BY!r} is set by rulesgen")
        if errors:
            raise ValueError("; ".join(errors))
        return value

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, value: dict[str, str]) -> dict[str, str]:
        errors = [e for e in map(qualified_name_error, value) if e]
        if errors:
            raise ValueError("; ".join(errors))
        return value


def team_of(group: RuleGroup) -> str:
    """The team a rule group belongs to: rulesgen writes one group per team, in `<team>.rules.yml`."""
    return group.file.removesuffix(".yml").removesuffix(".yaml").removesuffix(".rules")


def prometheus_rule(env: EnvIR, group: RuleGroup, options: Options) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": dns_name(conventions.GENERATOR, env.env, team_of(group)),
        "namespace": options.namespace,
        "labels": {MANAGED_BY: conventions.GENERATOR, **dict(sorted(options.labels.items()))},
    }
    if options.annotations:
        metadata["annotations"] = dict(sorted(options.annotations.items()))
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": groups_document([group])}


def dashboard_configmaps(program: ProgramIR, env: str) -> list[str]:
    """Paths, relative to `<env>/`, of the ConfigMaps the Grafana emitter writes: one per
    dashboard, named by the same UID convention (the alerts overview and each board)."""
    return sorted(f"grafana/configmaps/{d.uid}.yaml" for d in program.env(env).dashboards)


def emit(program: ProgramIR, options: Options) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for env in program.envs:
        rule_files: list[str] = []
        names: dict[str, str] = {}
        for group in env.groups:
            obj = prometheus_rule(env, group, options)
            name = obj["metadata"]["name"]
            # `billing-ops` and `billing_ops` would map to one object and overwrite each other.
            if name in names:
                raise ValueError(f"{env.env}: groups {names[name]!r} and {group.name!r} both map to {name!r}")
            names[name] = group.name
            path = f"kubernetes/prometheusrule-{team_of(group)}.yaml"
            files[f"{env.env}/{path}"] = dump(
                obj, header(program.source, f"{env.env} PrometheusRule of group {group.name}")
            )
            rule_files.append(path)
        if not options.kustomization:
            continue
        resources = sorted(rule_files) + (dashboard_configmaps(program, env.env) if options.dashboards else [])
        files[f"{env.env}/kustomization.yaml"] = dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # Puts the dashboard ConfigMaps, which name no namespace, beside the rules.
                "namespace": options.namespace,
                "resources": resources,
            },
            header(program.source, f"{env.env} PrometheusRules and dashboards for kustomize, Argo CD or Flux"),
        )
    return files


def _emit(program: ProgramIR, tests: Tests, options: Options) -> dict[str, bytes]:
    return emit(program, options)


TARGET = base.Target(
    "kubernetes",
    Options,
    _emit,
    default=False,
    description="PrometheusRule objects and a kustomization per environment",
)
