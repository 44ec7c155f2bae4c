"""The users and gateways files: written whole, private, and noticed when they change.

Both are small JSON files a command writes and a running worker re-reads, so
adding a person or revoking a gateway needs no restart.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson


def write_private_json(path: Path, doc: object) -> None:
    """Write-then-rename, mode 0600: a worker reading the file never sees half of it, nobody else reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def version_of(path: Path) -> tuple[int, int]:
    """(mtime_ns, size) of the file, (0, 0) when it does not exist: a change means re-read it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)
