"""Group liveness and future-tolerance settings: defaults that give failover <= 15 s, and mistakes named."""

from __future__ import annotations

import pytest

from streams.config import Settings


def test_default_group_settings_replace_fausts_minute_long_session(monkeypatch):
    for name in ("WARDWATCH_FAST_REBALANCE", "WARDWATCH_SESSION_TIMEOUT_S", "WARDWATCH_GROUP_INSTANCE_ID"):
        monkeypatch.delenv(name, raising=False)
    from streams.worker.app import faust_settings

    conf = faust_settings(Settings.from_env(), 4)
    assert (conf["broker_session_timeout"], conf["broker_heartbeat_interval"], conf["broker_rebalance_timeout"]) == (
        6.0,
        1.0,
        10.0,
    )
    assert conf["consumer_group_instance_id"] is None
    monkeypatch.setenv("WARDWATCH_GROUP_INSTANCE_ID", "ward-worker-0")
    assert faust_settings(Settings.from_env(), 4)["consumer_group_instance_id"] == "ward-worker-0"


@pytest.mark.parametrize(
    "env, words",
    [
        ({"WARDWATCH_SESSION_TIMEOUT_S": "2"}, "WARDWATCH_HEARTBEAT_INTERVAL_S"),
        ({"WARDWATCH_REBALANCE_TIMEOUT_S": "0"}, "WARDWATCH_REBALANCE_TIMEOUT_S"),
        ({"WARDWATCH_FUTURE_TOLERANCE_S": "-5"}, "WARDWATCH_FUTURE_TOLERANCE_S"),
    ],
)
def test_impossible_values_are_errors_naming_the_variable(monkeypatch, env, words):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=words):
        Settings.from_env()
