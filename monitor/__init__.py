"""Vital signs in: parsing, the latest-vitals view, NEWS2 and the per-patient baseline detector (pure)."""

from monitor.compiled import install

install()  # the hot path's compiled build, when one matches the source (monitor/compiled.py)
