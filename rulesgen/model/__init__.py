"""The semantics rulesgen shares: a model of Prometheus 2.42 PromQL evaluation, the alert
state machine and Go template functions. Kinds, test generation, verify and backtest
read it; it imports nothing of the compiler but the IR and PromQL helpers."""
