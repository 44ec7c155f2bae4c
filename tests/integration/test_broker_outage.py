"""Broker outage and an emptied broker (issue #15 item 12), with the real embedded broker stopped and restarted.

Before: `/readyz` said ready during the outage, and after the in-memory broker came back without its
topics the worker sat in recovery forever, silently, while ingest answered 202 / AA.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import orjson
import pytest

from tests.integration.test_ingest import TOKEN, hl7_oru, mllp_session, msa, post
from tests.integration.test_rebalance import wait_until

pytestmark = pytest.mark.integration


def readyz(worker) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/readyz", timeout=5) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def vitals(pid: str) -> bytes:
    return orjson.dumps({"patient_id": pid, "ts": int(time.time() * 1000), "heart_rate": 72})


def test_outage_and_emptied_broker_make_the_worker_not_ready_and_ingest_refuse(broker, worker_factory):
    worker = worker_factory(WARDWATCH_INGEST_TOKENS=TOKEN)
    mllp_port = int(worker.env["WARDWATCH_MLLP_PORT"])
    assert post(worker.web_port, "/ingest/vitals", vitals("MRN-OUT-1"))[0] == 202

    broker.stop()
    wait_until(lambda: readyz(worker)[0] == 503, 20, "/readyz to say not ready during the outage")
    status, body = readyz(worker)
    assert "kafka" in body["waiting_for"] and "unreachable" in body["kafka_problem"], body
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.web_port}/ingest/vitals",
        data=vitals("MRN-OUT-1"),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 503 and refused.value.headers["Retry-After"]
    assert "the Kafka broker is unreachable" in orjson.loads(refused.value.read())["error"]
    (ack,) = mllp_session(mllp_port, [hl7_oru("MRN-OUT-2", "O1", int(time.time() * 1000), 97, 16, 72)])
    assert msa(ack)[1] == "AR" and "the Kafka broker is unreachable" in ack, ack

    broker.start()  # same port, memory storage: every topic is gone
    # The worker notices, says what is missing, puts the topics back, and comes back to work.
    wait_until(lambda: "required topics missing" in worker.log(), 30, "the missing topics to be named in the log")
    wait_until(lambda: readyz(worker)[0] == 200, 90, "the worker to be ready again")
    assert "re-created missing topic vitals" in worker.log()
    status, reply = post(worker.web_port, "/ingest/vitals", vitals("MRN-OUT-3"))
    assert status == 202, reply
    worker.wait_metric("wardwatch_samples_processed_total", 2, timeout=60)
