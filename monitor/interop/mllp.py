"""MLLP framing (HL7 v2 over TCP): <VT> message <FS><CR>, sans I/O.

`hl7.mllp` (python-hl7 0.4.5) was considered: it ships asyncio
StreamReader/StreamWriter subclasses (`readblock`/`writeblock`) tied to a
socket, whose reader raises on the first block not starting with <VT> and
clears its buffer on overrun, losing any good frames read with it. A
listener needs to keep the good frames, answer the bad ones and carry on,
and the framing should be testable without a socket, so this module is a
byte-in/frames-out decoder with no I/O; the lead's socket server feeds it.

Decoding rules, chosen for real gateways:
- A frame ends at <FS>; the <CR> that should follow is swallowed with any
  CR/LF between frames (some senders add LF, some forget the CR).
- Non-whitespace bytes outside a frame are skipped and flagged GARBAGE once
  per run: the run stays open across `feed` calls (a sender dripping 2,000
  single bytes is one run, not 2,000) until a frame starts, `close()`, or
  the caller ends it with `flush_garbage()` (the listener does when the
  sender pauses).
- A <VT> inside an unfinished frame means the sender restarted: the partial
  frame is flagged TRUNCATED and dropped; so is a partial frame at `close()`.
- A frame growing past `max_frame_bytes` is flagged OVERSIZE and discarded
  up to its <FS> without being buffered, so memory stays bounded.
Errors are flagged (collected, drained by `pop_errors`) rather than raised:
one bad frame must not cost the good frames that arrived in the same read.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
DEFAULT_MAX_FRAME_BYTES = 1_048_576
_SAMPLE_BYTES = 64
_BETWEEN_FRAMES = b"\r\n\t "


class FrameErrorKind(str, enum.Enum):
    GARBAGE = "garbage"
    TRUNCATED = "truncated"
    OVERSIZE = "oversize"


@dataclass(frozen=True, slots=True)
class FrameError:
    """A framing problem: what, how many bytes were lost, and their first bytes."""

    kind: FrameErrorKind
    size: int
    sample: bytes

    def describe(self) -> str:
        """Kind and size only: the bytes may be a patient's message (PID|||MRN...), never logged."""
        return f"MLLP {self.kind.value}: {self.size} bytes discarded"


def frame(message: str | bytes, encoding: str = "utf-8") -> bytes:
    """Wrap one message (e.g. an ACK) for sending."""
    body = message.encode(encoding) if isinstance(message, str) else message
    return START_BLOCK + body + END_BLOCK + CARRIAGE_RETURN


class _State(enum.Enum):
    OUTSIDE = "outside"
    INSIDE = "inside"
    SKIPPING = "skipping"


class MllpDecoder:
    """Feed it bytes as they arrive; get back complete message bodies."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._state = _State.OUTSIDE
        self._buffer = bytearray()
        self._skipped = 0
        self._skipped_sample = b""
        self._garbage = 0
        self._garbage_sample = b""
        self._errors: list[FrameError] = []

    @property
    def pending_bytes(self) -> int:
        """Bytes of an unfinished frame held in memory."""
        return len(self._buffer)

    @property
    def in_frame(self) -> bool:
        """A frame has started and not ended (held or, when oversize, being skipped)."""
        return self._state is not _State.OUTSIDE

    @property
    def garbage_pending(self) -> bool:
        """A run of garbage bytes is open (not yet flagged)."""
        return self._garbage > 0

    def flush_garbage(self) -> list[FrameError]:
        """End the open garbage run (the sender paused) and drain errors."""
        self._flush_garbage()
        return self.pop_errors()

    def pop_errors(self) -> list[FrameError]:
        """Framing errors flagged since the last call (each deserves an AR/log)."""
        errors, self._errors = self._errors, []
        return errors

    def feed(self, data: bytes) -> list[bytes]:
        """Complete frames found so far, in order; partial ones are kept."""
        frames: list[bytes] = []
        position = 0
        while position < len(data):
            if self._state is _State.OUTSIDE:
                position = self._outside(data, position)
            else:
                position = self._inside(data, position, frames)
        return frames

    def close(self) -> list[FrameError]:
        """End of stream: flag whatever was left unfinished, and drain errors."""
        self._flush_garbage()
        if self._state is _State.INSIDE:
            self._flag(FrameErrorKind.TRUNCATED, len(self._buffer), bytes(self._buffer[:_SAMPLE_BYTES]))
        elif self._state is _State.SKIPPING:
            self._flag(FrameErrorKind.OVERSIZE, self._skipped, self._skipped_sample)
        self._reset_frame()
        self._state = _State.OUTSIDE
        return self.pop_errors()

    def _outside(self, data: bytes, position: int) -> int:
        """Skip to the next start byte, flagging anything but whitespace."""
        start = data.find(START_BLOCK, position)
        stop = len(data) if start < 0 else start
        self._note_garbage(data[position:stop])
        if start < 0:
            return len(data)
        self._flush_garbage()
        self._state = _State.INSIDE
        return start + 1

    def _inside(self, data: bytes, position: int, frames: list[bytes]) -> int:
        """Collect frame bytes up to <FS>; a new <VT> first means truncation."""
        end = data.find(END_BLOCK, position)
        restart = data.find(START_BLOCK, position)
        if restart >= 0 and (end < 0 or restart < end):
            self._collect(data[position:restart])
            self._abandon_frame()
            self._state = _State.INSIDE
            return restart + 1
        stop = len(data) if end < 0 else end
        self._collect(data[position:stop])
        if end < 0:
            return len(data)
        if self._state is _State.SKIPPING:
            self._flag(FrameErrorKind.OVERSIZE, self._skipped, self._skipped_sample)
        else:
            frames.append(bytes(self._buffer))
        self._reset_frame()
        self._state = _State.OUTSIDE
        return end + 1

    def _collect(self, chunk: bytes) -> None:
        """Buffer frame bytes, or only count them once the frame is oversize."""
        if self._state is _State.SKIPPING:
            self._skipped += len(chunk)
            return
        if len(self._buffer) + len(chunk) > self.max_frame_bytes:
            self._skipped = len(self._buffer) + len(chunk)
            self._skipped_sample = bytes((self._buffer + chunk[:_SAMPLE_BYTES])[:_SAMPLE_BYTES])
            self._buffer = bytearray()
            self._state = _State.SKIPPING
            return
        self._buffer += chunk

    def _abandon_frame(self) -> None:
        if self._state is _State.SKIPPING:
            self._flag(FrameErrorKind.OVERSIZE, self._skipped, self._skipped_sample)
        else:
            self._flag(FrameErrorKind.TRUNCATED, len(self._buffer), bytes(self._buffer[:_SAMPLE_BYTES]))
        self._reset_frame()

    def _reset_frame(self) -> None:
        self._buffer = bytearray()
        self._skipped = 0
        self._skipped_sample = b""

    def _note_garbage(self, chunk: bytes) -> None:
        if not chunk.strip(_BETWEEN_FRAMES):
            return
        if not self._garbage:
            self._garbage_sample = chunk.lstrip(_BETWEEN_FRAMES)[:_SAMPLE_BYTES]
        self._garbage += len(chunk)

    def _flush_garbage(self) -> None:
        if self._garbage:
            self._flag(FrameErrorKind.GARBAGE, self._garbage, self._garbage_sample)
        self._garbage = 0
        self._garbage_sample = b""

    def _flag(self, kind: FrameErrorKind, size: int, sample: bytes) -> None:
        self._errors.append(FrameError(kind, size, sample))
