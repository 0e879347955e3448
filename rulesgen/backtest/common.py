"""What every part of a backtest shares: its error and its times."""

from __future__ import annotations

from datetime import UTC, datetime


class BacktestError(Exception):
    """Bad input to a backtest: one line for the user."""


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> int:
    """RFC 3339 (`2026-11-02T00:00:00Z`, or a date) or unix seconds."""
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BacktestError(f"{text!r} is not a time (RFC 3339 or unix seconds)") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
