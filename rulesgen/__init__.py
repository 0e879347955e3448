"""rulesgen: compile typed alert thresholds into Prometheus, Alertmanager and Grafana artefacts."""

__version__ = "0.1.0"
