# C layout of the compiled stream view (monitor/compiled.py; plain Python ignores this file).
# Fields stay Python objects: only how they are found changes (a struct, not a lookup).

cdef class StreamView:
    cdef public object _ref, jumped_last, recent, run, suspect
    # The engine's per-sample calls: direct C calls from the compiled engine.
    cpdef remember(self, object ts, object clean)
    cpdef end_run(self, object clean)
