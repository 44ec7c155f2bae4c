# C layout of the compiled alert policy (monitor/compiled.py; plain Python ignores this file).
# Fields stay Python objects: only how they are found changes (a struct, not a lookup).
# `__dict__` keeps a subclass's or a test's own attributes possible, as in plain Python.

cdef class AlertPolicy:
    cdef dict __dict__
    cdef public object patient_id, config, tracks, episodes, cooldown_until, recent_closed
    cdef public object now_ms, last_data_ms, stream_samples, last_device, last_news2, last_detector
    cdef public object suppressed, discharged, hold_until_ms, hold_from_ms, held, _held_now
    cdef public object _spot_check, cadence_ms
