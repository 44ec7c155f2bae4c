"""How long large FHIR Bundles stall a worker's event loop (issue #15 item 6).

Starts the embedded broker and one `wardwatch worker`, then POSTs N Bundles of
about 1 MiB (real vital-sign Observations) at once to /ingest/fhir while a
probe asks /healthz every 20 ms. /healthz is answered on the worker's event
loop, the same loop that runs the agents, timers and alert publishing, so its
slowest answer during the burst is the loop's longest stall.

    python -m streams.bench.ingest_stall                 # this checkout's worker
    python -m streams.bench.ingest_stall --code-dir /tmp/ww-before   # another checkout's worker
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

from streams.kafka import EmbeddedBroker, free_port

TOKEN = "stall-token"
T0 = 1_795_597_200_000


def bundle(patient: str, target_bytes: int = 1_000_000) -> bytes:
    """A collection Bundle of SpO2 / RR Observations, just under `target_bytes`."""

    def obs(code: str, value: int, unit: str, ts_ms: int) -> dict:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts_ms / 1000))
        return {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{patient}"},
                "device": {"reference": "Device/bed-7"},
                "effectiveDateTime": stamp,
                "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            }
        }

    entries: list[dict] = []
    size = 60
    step = 0
    while True:
        pair = [obs("59408-5", 96, "%", T0 + step * 1000), obs("9279-1", 16, "/min", T0 + step * 1000)]
        grow = len(orjson.dumps(pair))
        if size + grow > target_bytes:
            break
        entries += pair
        size += grow
        step += 1
    return orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})


def wait_ready(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"worker not ready within {timeout} s")


async def burst(port: int, bodies: list[bytes]) -> tuple[list[float], list[int], float]:
    """Probe latencies (s), POST statuses, and the wall time of the burst."""
    from aiohttp import ClientSession, ClientTimeout

    latencies: list[float] = []
    done = asyncio.Event()
    async with ClientSession(timeout=ClientTimeout(total=120)) as http:

        async def probe() -> None:
            while not done.is_set():
                started = time.perf_counter()
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    await resp.read()
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)

        async def post(body: bytes) -> int:
            async with http.post(
                f"http://127.0.0.1:{port}/ingest/fhir",
                data=body,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/fhir+json"},
            ) as resp:
                await resp.read()
                return resp.status

        prober = asyncio.create_task(probe())
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        statuses = await asyncio.gather(*(post(b) for b in bodies))
        took = time.perf_counter() - started
        done.set()
        await prober
    return latencies, list(statuses), took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=int, default=8, help="Bundles posted at once (default 8)")
    parser.add_argument(
        "--code-dir",
        default=str(Path(__file__).resolve().parents[2]),
        help="checkout whose worker is measured (default: this one)",
    )
    args = parser.parse_args(argv)
    bodies = [bundle(f"MRN-STALL-{i}") for i in range(args.bundles)]
    print(
        f"{args.bundles} Bundles of {len(bodies[0]):,} bytes, {len(orjson.loads(bodies[0])['entry']):,} "
        f"entries each; worker code from {args.code_dir}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(log_path=Path(tmp) / "broker.log") as broker:
        web_port = free_port()
        env = {
            **os.environ,
            "WARDWATCH_KAFKA_BOOTSTRAP": broker.bootstrap,
            "WARDWATCH_APP_ID": "stall",
            "WARDWATCH_WEB_PORT": str(web_port),
            "WARDWATCH_WEB_HOST": "127.0.0.1",
            "WARDWATCH_METRICS_PORT": str(free_port()),
            "WARDWATCH_MLLP_PORT": str(free_port()),
            "WARDWATCH_DATA_DIR": str(Path(tmp) / "data"),
            "WARDWATCH_FAST_REBALANCE": "1",
            "WARDWATCH_INGEST_TOKENS": TOKEN,
            "PYTHONPATH": args.code_dir,
        }
        with open(Path(tmp) / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                cwd=args.code_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_ready(web_port)
                latencies, statuses, took = asyncio.run(burst(web_port, bodies))
            finally:
                worker.terminate()
                worker.wait(30)
    latencies.sort()
    print(
        f"POST statuses {statuses}, burst {took:.1f} s; /healthz probes {len(latencies)}: "
        f"median {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
