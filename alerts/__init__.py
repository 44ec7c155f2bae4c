"""Alerts out: rules, the per-patient alert policy and the engine that runs them (pure)."""

from monitor.compiled import install

install()  # the hot path's compiled build, when one matches the source (monitor/compiled.py)
