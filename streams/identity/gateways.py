"""Named ingest credentials: one per gateway, added and revoked without restarting a worker.

A JSON file (`WARDWATCH_GATEWAYS_FILE`) written by `wardwatch gateway`:

    {"schema": 1,
     "gateways": {"icu-monitors": {"token_sha256": "9f2c...", "added": "2026-12-02T19:30:00Z",
                                   "addresses": ["10.20.0.0/24"]}}}

Only a SHA-256 of each token is stored (tokens are 256-bit random, so a
plain hash is enough; nobody can guess one from its digest). The worker
re-reads the file when it changes, so `wardwatch gateway revoke NAME` locks a
gateway out at its next request. The name goes into every dead-letter record
the gateway causes, so an integrator can find their own rejects.

`addresses` (optional) names the networks a gateway's MLLP connections come
from: MLLP has no header for a token, so when any gateway lists addresses,
the MLLP listener only accepts connections from them, and names them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from streams.identity.private_file import version_of, write_private_json

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Gateway:
    name: str
    token_sha256: str
    added: str
    addresses: tuple[str, ...] = ()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class GatewaysFile:
    """The gateways file, re-read whenever it changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._key: tuple[int, int] = (-1, -1)
        self._gateways: dict[str, Gateway] = {}

    def gateways(self) -> dict[str, Gateway]:
        key = version_of(self.path)
        if key != self._key:
            self._gateways = _parse(self.path.read_bytes()) if key != (0, 0) else {}
            self._key = key
        return self._gateways

    def name_for_token(self, token: str | None) -> str | None:
        """The gateway holding `token`, or None. Every entry is compared (constant time each)."""
        if not token:
            return None
        digest = _digest(token).encode()
        found = None
        for gateway in self.gateways().values():
            if hmac.compare_digest(digest, gateway.token_sha256.encode()):
                found = gateway.name
        return found

    def restricts_addresses(self) -> bool:
        return any(g.addresses for g in self.gateways().values())

    def name_for_address(self, address: str | None) -> str | None:
        """The gateway whose `addresses` include this peer (MLLP), or None."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return None
        for gateway in self.gateways().values():
            if any(ip in ipaddress.ip_network(net, strict=False) for net in gateway.addresses):
                return gateway.name
        return None

    # ---- the `wardwatch gateway` command ------------------------------------------
    def add(self, name: str, addresses: tuple[str, ...] = ()) -> str:
        """Create (or rotate) a gateway's token; returns the token, shown once and never stored."""
        if not NAME.match(name):
            raise ValueError(f"gateway name {name!r}: use 1-64 of a-z 0-9 . _ -, starting with a letter or digit")
        for net in addresses:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad one
        token = secrets.token_urlsafe(32)
        added = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self._write({**self.gateways(), name: Gateway(name, _digest(token), added, tuple(addresses))})
        return token

    def revoke(self, name: str) -> bool:
        current = self.gateways()
        if name not in current:
            return False
        self._write({k: v for k, v in current.items() if k != name})
        return True

    def _write(self, gateways: dict[str, Gateway]) -> None:
        doc = {
            "schema": 1,
            "gateways": {
                g.name: {
                    "token_sha256": g.token_sha256,
                    "added": g.added,
                    **({"addresses": list(g.addresses)} if g.addresses else {}),
                }
                for g in sorted(gateways.values(), key=lambda g: g.name)
            },
        }
        write_private_json(self.path, doc)


def _parse(raw: bytes) -> dict[str, Gateway]:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"gateways file is not valid JSON: {exc}") from None
    out = {}
    for name, entry in (doc.get("gateways") or {}).items() if isinstance(doc, dict) else ():
        if isinstance(entry, dict) and isinstance(entry.get("token_sha256"), str):
            out[name] = Gateway(
                name,
                entry["token_sha256"],
                str(entry.get("added", "")),
                tuple(str(a) for a in entry.get("addresses") or ()),
            )
    return out
