"""Named ingest credentials: stored as digests, found by token or MLLP address, re-read on change (#20)."""

from __future__ import annotations

import os

import pytest

from streams.identity.gateways import GatewaysFile
from streams.ingest import IngestAccess


def test_tokens_are_stored_as_digests_and_named(tmp_path):
    gateways = GatewaysFile(tmp_path / "g.json")
    token = gateways.add("icu-monitors")
    assert token not in gateways.path.read_text() and len(token) >= 40
    assert oct(os.stat(gateways.path).st_mode)[-3:] == "600"
    assert gateways.name_for_token(token) == "icu-monitors"
    assert gateways.name_for_token(token + "x") is None and gateways.name_for_token(None) is None
    assert gateways.name_for_token("\udcff") is None  # undecodable header bytes never match, never raise
    with pytest.raises(ValueError, match="gateway name"):
        gateways.add("Bad Name!")


def test_access_names_the_sender_and_follows_the_file(tmp_path):
    path = tmp_path / "g.json"
    writer = GatewaysFile(path)
    token = writer.add("icu-monitors")
    access = IngestAccess(("shared-token",), False, GatewaysFile(path))
    assert access.who(token) == "icu-monitors"
    assert access.who("shared-token") == "ingest-token"
    assert access.who("nope") is None and not access.allows("nope")
    writer.revoke("icu-monitors")
    os.utime(path, ns=(5, 5))
    assert access.who(token) is None
    assert access.mllp_gateway("10.0.0.1") == "mllp"  # no addresses listed: the network decides
    writer.add("lab", ("10.0.0.0/24",))
    os.utime(path, ns=(6, 6))
    assert access.mllp_gateway("10.0.0.1") == "lab" and access.mllp_gateway("10.9.0.1") is None
