"""HL7 v2 DTM (date/time) values → epoch milliseconds, zone offsets included.

Own parser rather than `hl7.parse_datetime`, which ignores trailing garbage
and gets negative offsets under one hour wrong (-0030). Minute precision at
least: a date alone does not say when a vital was measured. Without a
written offset HL7 v2 says the sender's local zone applies: the caller passes
MSH-7's offset as `default_offset`, and when none is written anywhere the
time is taken as UTC (and the result says so).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_DTM = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?(?:([+-])(\d{2})(\d{2}))?")


def parse_dtm(text: str, default_offset: timedelta | None = None) -> tuple[int, bool]:
    """HL7 DTM (YYYYMMDDHHMM[SS[.S…]][±HHMM]) → (epoch ms, True if UTC was assumed).

    Minute precision at least: a date alone does not say when a vital was
    measured. Without an offset, `default_offset` (MSH-7's) applies, else UTC.
    """
    match = _DTM.fullmatch(text)
    if not match:
        raise ValueError(f"{text[:40]!r} is not an HL7 time YYYYMMDDHHMM[SS[.S]][+/-ZZZZ]")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    offset, assumed = default_offset or timedelta(0), default_offset is None
    if sign:
        if int(off_h) > 14 or int(off_m) > 59:
            raise ValueError(f"{text!r} has an impossible zone offset")
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
        assumed = False
    micro = int((fraction or "0").ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, timezone(offset)
        )
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    return round(moment.timestamp() * 1000), assumed


def offset_of(text: str) -> timedelta | None:
    """The zone offset written in a DTM, or None."""
    match = _DTM.fullmatch(text.strip())
    if not match or not match.group(8):
        return None
    sign, hours, minutes = match.group(8), int(match.group(9)), int(match.group(10))
    if hours > 14 or minutes > 59:
        return None
    return timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
