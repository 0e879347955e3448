"""A small client of the Prometheus HTTP API (and Alertmanager's v2 API) over urllib:
whatever speaks it (Prometheus, Thanos Querier, Mimir, VictoriaMetrics) can be verified.

Credentials come from files only, so they never appear in a shell history or a process
list: a bearer token file, or a basic-auth file holding `user:password`."""

from __future__ import annotations

import base64
import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Unreachable(Exception):
    """The server cannot be reached or does not speak the API: verification cannot start."""


class ApiError(Exception):
    """The server answered, but not this request (an endpoint it lacks, a query it rejects)."""


def one_line(body: str, chars: int = 200) -> str:
    """An error body as one line of text: an auth proxy or a load balancer answers with
    an HTML page, and a report or an exit-2 message is one line."""
    return " ".join(re.sub(r"<[^>]*>", " ", body).split())[:chars]


@dataclass(frozen=True)
class Auth:
    headers: Mapping[str, str] = field(default_factory=dict)
    bearer_token_file: Path | None = None
    basic_auth_file: Path | None = None
    ca_file: Path | None = None

    def all_headers(self) -> dict[str, str]:
        out = dict(self.headers)
        if self.bearer_token_file is not None:
            out["Authorization"] = "Bearer " + self.bearer_token_file.read_text().strip()
        elif self.basic_auth_file is not None:
            pair = self.basic_auth_file.read_text().strip()
            if ":" not in pair:
                raise ValueError(f"{self.basic_auth_file}: expected `user:password`")
            out["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return out


@dataclass
class Client:
    """GET requests against one base URL; `get` returns the decoded JSON body."""

    url: str
    timeout: float = 10.0
    auth: Auth = field(default_factory=Auth)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._headers = self.auth.all_headers()
        self._context = ssl.create_default_context(cafile=str(self.auth.ca_file)) if self.auth.ca_file else None

    def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        query = f"?{urllib.parse.urlencode(list(params))}" if params else ""
        request = urllib.request.Request(f"{self.url}{path}{query}", headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = one_line(exc.read()[:4000].decode(errors="replace"))
            raise ApiError(f"{path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach {self.url}{path}: {reason}") from None
        try:
            return json.loads(body)
        except ValueError:
            raise ApiError(f"{path}: the answer is not JSON") from None


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


class PrometheusAPI:
    """The endpoints the checks read, each returning its `data`."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def data(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        body = self.client.get(path, params)
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", body) if isinstance(body, dict) else body
            raise ApiError(f"{path}: {error}")
        return body.get("data")

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        params = [("query", expr)] + ([("time", f"{at:.3f}")] if at is not None else [])
        data = self.data("/api/v1/query", params)
        if data.get("resultType") == "scalar":
            return [Sample({}, float(data["result"][1]))]
        return [Sample(r["metric"], float(r["value"][1])) for r in data["result"]]

    def last_seen(self, expr: str, lookback_s: float, step_s: float) -> dict[tuple[tuple[str, str], ...], float]:
        """The last time (unix seconds) each series of `expr` had a value in the look-back."""
        end = time.time()
        params = [
            ("query", expr),
            ("start", f"{end - lookback_s:.3f}"),
            ("end", f"{end:.3f}"),
            ("step", f"{step_s:g}s"),
        ]
        data = self.data("/api/v1/query_range", params)
        return {
            tuple(sorted(r["metric"].items())): max(float(t) for t, _ in r["values"])
            for r in data["result"]
            if r["values"]
        }

    def metadata(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = self.data("/api/v1/metadata") or {}
        return out

    def config_yaml(self) -> str:
        return str(self.data("/api/v1/status/config")["yaml"])

    def flags(self) -> dict[str, str]:
        out: dict[str, str] = self.data("/api/v1/status/flags")
        return out

    def runtime_info(self) -> dict[str, Any]:
        out: dict[str, Any] = self.data("/api/v1/status/runtimeinfo")
        return out

    def rule_groups(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.data("/api/v1/rules")["groups"]
        return out

    def alerts(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.data("/api/v1/alerts")["alerts"]
        return out


def alertmanager_config(client: Client) -> str:
    """The configuration Alertmanager runs, as it prints it (secrets as `<secret>`)."""
    body = client.get("/api/v2/status")
    try:
        return str(body["config"]["original"])
    except (KeyError, TypeError):
        raise ApiError("/api/v2/status: no config in the answer") from None
