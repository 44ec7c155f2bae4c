"""Issue #15 item 15: the gateway example verifies bytes and de-duplicates on the signed body's id."""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
from aiohttp.test_utils import TestClient, TestServer

from examples.webhook_receiver import Receiver, delivery_id, valid
from streams.notify.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"pager-secret"


def test_valid_rejects_tampering_replays_and_odd_headers_without_raising() -> None:
    body, ts = b'{"delivery_id": "a|raised|ada/pager"}', 1_795_640_373
    good = sign(SECRET, ts, body)
    assert valid(SECRET, str(ts), body, good, now=ts + 5)
    assert not valid(SECRET, str(ts), body + b" ", good, now=ts + 5)
    assert not valid(SECRET, str(ts), body, good, now=ts + 3600)
    for odd in ("sha256=é" + "0" * 63, "sha256=\udcff", "", None):
        assert not valid(SECRET, str(ts), body, odd, now=ts)  # type: ignore[arg-type]
        assert not verify(SECRET, str(ts), body, odd, now=ts)  # type: ignore[arg-type]


def test_delivery_id_comes_from_the_body() -> None:
    assert delivery_id(b'{"delivery_id": "x|raised|p/c"}') == "x|raised|p/c"
    assert delivery_id(b"[1]") is None and delivery_id(b"not json") is None and delivery_id(b"{}") is None


async def test_receiver_shows_each_signed_delivery_once_whatever_the_header_says() -> None:
    shown: list[dict] = []
    client = TestClient(TestServer(Receiver(SECRET, shown.append).app()))
    await client.start_server()

    async def deliver(doc: dict, header: str, signature: str | None = None) -> int:
        body = orjson.dumps(doc)
        ts = int(time.time())
        headers = {
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: signature or sign(SECRET, ts, body),
            DELIVERY_HEADER: header,
        }
        resp = await client.post("/wardwatch", data=body, headers=headers)
        return resp.status

    first = {"delivery_id": "a1|raised|ada/pager", "text": "page 1"}
    second = {"delivery_id": "a2|raised|ada/pager", "text": "page 2"}
    try:
        assert await deliver(first, first["delivery_id"]) == 200
        assert await deliver(first, "something-else") == 200  # a replay under another header: not shown again
        assert await deliver(second, first["delivery_id"]) == 200  # a header cannot suppress another page
        assert await deliver(second, "x", signature="sha256=ü" + "0" * 63) == 401  # non-ASCII: 401, not 500
    finally:
        await client.close()
    assert [doc["text"] for doc in shown] == ["page 1", "page 2"]


def test_docs_quote_the_tested_receiver() -> None:
    source = (ROOT / "examples" / "webhook_receiver.py").read_text()
    for doc in ("docs/delivery.md", "README.md"):
        text = (ROOT / doc).read_text()
        blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
        quoted = [b for b in blocks if "def valid(" in b]
        assert quoted, f"{doc} has no verifier example"
        for block in quoted:
            for chunk in block.split("\n\n\n"):
                assert chunk.strip() in source, f"{doc} quotes code that is not examples/webhook_receiver.py"
        assert 'headers["X-Wardwatch-Delivery"]' not in text
