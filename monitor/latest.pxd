# C layout of the compiled latest-vitals view (monitor/compiled.py; plain Python ignores this file).
# Fields stay Python objects: only how they are found changes (a struct, not a lookup).

cdef class LatestVitals:
    cdef public list _values, _ts
    cdef public object _fresh, _limits
