"""Reading and writing HL7 v2 text: field access on python-hl7 segments, escapes.

`first` walks python-hl7's containers directly (same path as
`Segment.extract_field`, at a fraction of its cost: this is the parser's hot
loop). Unescaping is our own because `hl7.util.unescape` logs the field's
content at ERROR level on a malformed escape: a privacy leak and a log flood
on hostile input. `escape`/`clean` make text safe to write back (ACKs).
"""

from __future__ import annotations

import re
from typing import Any

import hl7

_ESCAPE = re.compile(r"\\([FSTRE])\\")
_ESCAPED = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}


def decode(raw: bytes | str) -> str:
    """UTF-8, falling back to ISO 8859-1 (HL7's other common charset; cannot fail)."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def normalise(text: str) -> str:
    """CR segment ends, no MLLP framing bytes or surrounding whitespace."""
    text = text.strip().strip("\x0b\x1c").strip()
    return text.replace("\r\n", "\r").replace("\n", "\r")


def segment_id(segment: hl7.Segment) -> str:
    try:
        return str(segment[0])
    except Exception:
        return ""


def field(segment: hl7.Segment, number: int) -> str:
    """Raw (escaped) text of a field, '' when absent."""
    return str(segment(number)) if number < len(segment) else ""


def first(segment: hl7.Segment, number: int, component: int = 1) -> str:
    """First repetition's component (first subcomponent) of a field, unescaped; '' when absent."""
    if number >= len(segment):
        return ""
    node: Any = segment[number]  # hl7's nested sequences (untyped library)
    node = node[0] if node else ""  # first repetition, or the leaf text
    if isinstance(node, str):
        value = node if component == 1 else ""
    elif component > len(node):
        value = ""
    else:
        node = node[component - 1]
        while not isinstance(node, str):
            node = node[0] if node else ""
        value = node
    return unescape(value) if "\\" in value else value


def unescape(value: str) -> str:
    """The separator escapes (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\); others stay verbatim."""
    return _ESCAPE.sub(lambda m: _ESCAPED[m.group(1)], value)


def escape(text: str) -> str:
    """Text safe inside an HL7 field with the standard encoding characters."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    out = flat.replace("\\", "\\E\\")
    for char, sequence in (("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        out = out.replace(char, sequence)
    return out


def clean(value: str, keep: str = "^&") -> str:
    """An echoed header value without separators, escapes or control characters."""
    banned = set("|~\\^&") - set(keep)
    return "".join(ch for ch in value if ch.isprintable() and ch not in banned)[:227]
