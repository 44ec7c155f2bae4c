# C types for the compiled detector (monitor/compiled.py builds it; plain Python ignores this file).
# The baselines become C structs of doubles, so the ~3 baseline updates and the scoring of
# every sample stop looking attributes up: about 3 us a sample less (domain, interleaved A/B).
# Counts and event times are C long longs (ints either way), the warm-up count a double
# (the setting may be a float).
cimport cython

cdef class _EWMean:
    cdef public long long n
    cdef public double value

cdef class _EWVar:
    cdef public _EWMean mean
    cdef public double value
    @cython.locals(mean=_EWMean, diff=cython.double, incr=cython.double)
    cpdef update(self, double x, double alpha, double clip)
    @cython.locals(mean=_EWMean, diff=cython.double, d=cython.double)
    cpdef update_held(self, double x, double alpha, double clip, double var_alpha, double var_clip)

cdef class _VitalBaseline:
    cdef public _EWVar var
    cdef public double fast, quick, slow, floor, sd, sparse
    cdef public long long fast_ts
    cdef public double need
    cdef public int direction
    @cython.locals(fast=cython.double, dt=cython.double, var=_EWVar, held=cython.double, n=cython.longlong,
                   alpha=cython.double, sd=cython.double, diff=cython.double, bad=cython.double,
                   variance=cython.double, floor=cython.double, sparse=cython.double,
                   a=cython.double, q=cython.double, w=cython.double, direction=cython.int)
    cpdef double update(self, double value, long long ts_ms, double tau_s, bint learn, double memory_s)

@cython.locals(base=_VitalBaseline, learn=bint, tau=cython.double, memory=cython.double)
cpdef _learn(object det, object sample, long long ts, object skip)

@cython.locals(base=_VitalBaseline, mean_=_EWMean, warm_any=bint, top=cython.double, extra=cython.double,
               trending=bint, direction=cython.int, mean=cython.double, std=cython.double,
               current=cython.double, quick=cython.double, trend=cython.double, drift=cython.double,
               z=cython.double, bad=cython.double, score=cython.double, valid_ms=cython.double)
cpdef _score(object det, long long ts)
