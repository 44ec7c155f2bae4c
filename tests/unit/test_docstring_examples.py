"""The runnable examples in docstrings run: an example that no longer works misleads the next reader."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "monitor.detector",
    "alerts.evaluation.matrix.results",
    "alerts.stream_view",
    "streams.identity.sessions",
    "streams.webauth",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no example to run"
    assert result.failed == 0
