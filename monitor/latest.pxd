# C layout of the compiled latest-vitals view (monitor/compiled.py; plain Python ignores this file).
# Fields stay Python objects: only how they are found changes (a struct, not a lookup).

cdef class LatestVitals:
    cdef public list _values, _ts
    cdef public object _fresh, _limits
    # The engine's per-sample calls: direct C calls from the compiled engine.
    cpdef update(self, object sample)
    cpdef tuple news2_of(self, object now_ms, object freshness)
