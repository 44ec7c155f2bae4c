"""Delivery channels behind one small interface: `await channel.send(notification)`.

Adding SMS or a vendor pager API is one new class with `name`, `redaction`
and `send`, plus one line in `build_channels`. A channel never raises for a
delivery problem: it returns a `DeliveryResult` saying whether to retry.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import orjson

from alerts.notification import Notification
from alerts.routing import ChannelSpec, Redaction, Routing
from streams.notify.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    ok: bool
    retryable: bool = False
    detail: str = ""


class Channel(Protocol):
    name: str
    redaction: Redaction

    async def send(self, notification: Notification) -> DeliveryResult: ...

    async def close(self) -> None: ...


class ConsoleChannel:
    """Prints the page on standard output: the demo's pager (a display, not the log, so
    the log stays free of patient data whatever the channel's redaction)."""

    def __init__(self, spec: ChannelSpec) -> None:
        self.name, self.redaction = spec.name, spec.redaction

    async def send(self, notification: Notification) -> DeliveryResult:
        r = notification.recipient
        print(f"--- page to {r.name} ({r.role}, {r.address}) ---\n{notification.text}", flush=True)
        return DeliveryResult(True)

    async def close(self) -> None:
        pass


class WebhookChannel:
    """Signed JSON POST to a paging gateway; 5xx, 408, 429 and network errors are retried."""

    def __init__(self, spec: ChannelSpec, secret: bytes) -> None:
        self.name, self.redaction, self.url, self.secret = spec.name, spec.redaction, spec.url or "", secret
        self.timeout = aiohttp.ClientTimeout(total=spec.timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _headers(self, notification: Notification, body: bytes) -> dict[str, str]:
        now = int(time.time())
        return {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: sign(self.secret, now, body),
            DELIVERY_HEADER: notification.dedupe_key,
        }

    async def send(self, notification: Notification) -> DeliveryResult:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        body = orjson.dumps(notification.to_wire())
        try:
            async with self._session.post(self.url, data=body, headers=self._headers(notification, body)) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return DeliveryResult(True, detail=f"HTTP {resp.status}")
                retry = resp.status >= 500 or resp.status in (408, 429)
                return DeliveryResult(False, retry, f"HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return DeliveryResult(False, True, f"{type(exc).__name__}: {exc}"[:200])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class ChannelConfigError(ValueError):
    pass


def build_channels(routing: Routing) -> dict[str, Channel]:
    """One transport per configured channel; a webhook's secret comes from its environment variable."""
    out: dict[str, Channel] = {}
    for name, spec in routing.channels.items():
        if spec.type == "console":
            out[name] = ConsoleChannel(spec)
            continue
        secret = os.environ.get(spec.secret_env or "", "")
        if not secret:
            raise ChannelConfigError(
                f"channel {name}: set the webhook secret in ${spec.secret_env or '<secret_env>'} "
                "(the routing file names the variable, never the secret)"
            )
        out[name] = WebhookChannel(spec, secret.encode())
    return out
