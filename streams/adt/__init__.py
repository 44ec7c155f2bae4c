"""ADT in the stream: which gateway input is ADT, the `adt` and `patients` topics, the worker's join.

- `gateway.py`: route an HL7 v2 / FHIR body to the ADT parser when it is ADT / an Encounter.
- `places.py`: the worker side: fold `adt` events into the `patients` table (a Faust Table
  co-partitioned with `vitals`, whose changelog *is* the compacted `patients` topic), apply
  discharge / transfer / cancel to the patient's engine, and locate alerts.
- `metrics.py`: counters (closed label sets, no patient id).
"""

from streams.exports import public

__all__, __getattr__ = public(
    __name__,
    {
        "gateway": ("parse_fhir_body", "parse_hl7v2_body"),
        "places": ("AdtPlaces", "register", "settle"),
    },
    modules=("gateway", "metrics"),
)
