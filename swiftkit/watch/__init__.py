"""Watching runs: reading run directories (swift's logs, checkpoints, swiftkit's markers), a run's
state, loss curves and their checks. Never imports torch or swift."""
