"""The verification wing: checks that read only `output/` and talk to real tools and
servers (promtool, amtool, Prometheus, Alertmanager, VictoriaMetrics, vmalert).

Nothing here imports the pipeline, the spec models, the kinds or the lowering: the wing
judges what was generated, not how (tests/test_architecture.py holds it to that)."""

from rulesgen.verify.tools import PACKAGES, ToolResult, check_rules, run, tool

__all__ = ["PACKAGES", "ToolResult", "check_rules", "run", "tool"]
