# C layout of the compiled patient engine (monitor/compiled.py; plain Python ignores this file).
# Fields stay Python objects, except that the engine's own view, latest vitals and policy
# are known to be the compiled classes, so the engine reads their fields directly too.
from monitor.latest cimport LatestVitals
from alerts.policy cimport AlertPolicy
from alerts.stream_view cimport StreamView

cdef class PatientEngine:
    cdef public object _charted, _detector_spec, _freshness, _gap_ms, _limits, _max_gap_ms
    cdef public object active, adt_ward, book, config, detector, detector_error, discharged_ms
    cdef public object last_ts, news2_ref, offsets, patient_id, samples, sources
    cdef public object spo2_scale, stream_ms, ward
    cdef public LatestVitals latest
    cdef public AlertPolicy policy
    cdef public StreamView view
