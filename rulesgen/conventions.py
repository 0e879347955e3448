"""Every generated name in one place: recording rules, groups, files, dashboard UIDs.

Recording rules follow the Prometheus convention `level:metric:operations`
(https://prometheus.io/docs/practices/rules/): `level` is the labels the result
keeps, `metric` the source metric without its `_total` suffix, `operations` the
functions applied, newest first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from rulesgen.promql import Duration

GENERATOR = "rulesgen"


def level(labels: Iterable[str]) -> str:
    """The `level` part: the aggregation labels, or `global` when everything is summed."""
    labels = sorted(set(labels))
    return "_".join(labels) if labels else "global"


def metric_base(metric: str) -> str:
    return metric.removesuffix("_total")


def record_name(labels: Iterable[str], metric: str, operation: str) -> str:
    return f"{level(labels)}:{metric_base(metric)}:{operation}"


def window_op(operation: str, window: Duration) -> str:
    """`rate` + 5m -> `rate5m`."""
    return f"{operation}{window}"


def snake(name: str) -> str:
    """`BillingPendingBacklog` -> `billing_pending_backlog`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def kebab(name: str) -> str:
    return snake(name).replace("_", "-")


def group_name(team: str) -> str:
    return f"{GENERATOR}.{team}"


def rule_file(team: str) -> str:
    return f"{team}.rules.yml"


TESTS_DIR = "tests"
TEST_SUFFIX = ".promtool-test.yaml"


def unit_test_file(alert: str, every: Duration | None = None) -> str:
    """The file name of one alert's tests inside `<env>/tests/`: the alert's own, or
    the one of its scenarios evaluated `every` other interval."""
    return f"{alert}.every-{every}{TEST_SUFFIX}" if every is not None else f"{alert}{TEST_SUFFIX}"


def alert_of(file_name: str) -> str:
    """The alert a test file belongs to (alert names are identifiers, without dots)."""
    return file_name.removesuffix(TEST_SUFFIX).split(".", 1)[0]


NULL_RECEIVER = "null"


def receiver_name(team: str, role: str | None) -> str:
    """`billing` + `pager` -> `billing-pager`; no role is the null receiver."""
    return NULL_RECEIVER if role is None else f"{team}-{role}"


def runbook_url(base_url: str, alert: str) -> str:
    return f"{base_url.rstrip('/')}/{kebab(alert)}"


def dashboard_uid(title: str, env: str) -> str:
    """A stable Grafana UID (at most 40 chars) from the dashboard title and environment,
    so one Grafana can hold every environment's dashboards."""
    slug = dashboard_slug(f"{env} {title}")
    digest = hashlib.sha256(f"{env}/{title}".encode()).hexdigest()[:8]
    return f"{GENERATOR}-{slug}"[:31].rstrip("-") + f"-{digest}"


def dashboard_slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


ALERTS_DASHBOARD = "Alerts overview"


def alert_panel_id(alert: str) -> int:
    """Panel id of an alert on the overview dashboard, derived from its name alone so
    adding or disabling another alert never moves a link (lower rejects collisions)."""
    return int(hashlib.sha256(alert.encode()).hexdigest()[:8], 16) % (2**31 - 1) + 1


def dashboard_url(grafana_base_url: str, env: str, alert: str) -> str:
    """Link to the alert's own panel on the environment's alerts overview dashboard."""
    uid = dashboard_uid(ALERTS_DASHBOARD, env)
    panel = alert_panel_id(alert)
    return f"{grafana_base_url.rstrip('/')}/d/{uid}/{dashboard_slug(ALERTS_DASHBOARD)}?viewPanel={panel}"
