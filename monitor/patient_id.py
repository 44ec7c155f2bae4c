"""What a patient identifier may look like, on every ingest path.

An identifier becomes a Kafka key, a state-table key, a line in the console
and in an operator's terminal. A megabyte-long one cannot be produced (the
sender was told "Kafka unavailable" and retried forever), and one carrying
CR/LF or an ANSI escape can forge log lines or repaint a terminal. So the
contract limits it to MAX_PATIENT_ID_CHARS printable characters (FHIR's own
`id` type stops at 64), checked where each format reads it: contract JSON
(`monitor.parse`, on Kafka and HTTP), HL7 PID-3 and FHIR `subject`.
"""

from __future__ import annotations

#: Longest patient identifier accepted (characters).
MAX_PATIENT_ID_CHARS = 64


def patient_id_problem(patient_id: str) -> str | None:
    """Why `patient_id` is not acceptable, or None. The reason never repeats the value.

    `str.isprintable` (C speed, ~50 ns) is False for C0/C1 controls (CR, LF,
    ESC of ANSI sequences, NUL), DEL, line/paragraph separators and other
    invisible format characters: all of them are refused.
    """
    if len(patient_id) <= MAX_PATIENT_ID_CHARS and patient_id.isprintable():
        return None
    if len(patient_id) > MAX_PATIENT_ID_CHARS:
        return f"patient_id is {len(patient_id)} characters, limit {MAX_PATIENT_ID_CHARS}"
    return "patient_id contains control or invisible characters (CR, LF, escape sequences, ...)"
