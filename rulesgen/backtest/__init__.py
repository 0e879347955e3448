"""Backtesting: how often each alert would have fired and notified on recorded history
(`rulesgen backtest`), and simulated history of the platform to run it on
(`rulesgen simulate`)."""
