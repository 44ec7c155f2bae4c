"""IEEE 11073-10101 (MDC) observation codes of the vitals we read from OBX-3."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MdcVital:
    """An IEEE 11073-10101 observation code we map; `rank` orders rival sources."""

    code: int
    mnemonic: str
    vital: str
    rank: int = 0


#: Partition 2 (SCADA) codes: 2 × 65536 + term code, e.g. 147842 = 131072 + 16770.
MDC_VITALS: tuple[MdcVital, ...] = (
    MdcVital(147842, "MDC_ECG_HEART_RATE", "heart_rate", rank=0),  # 16770
    MdcVital(149530, "MDC_PULS_OXIM_PULS_RATE", "heart_rate", rank=1),  # 18458
    MdcVital(150456, "MDC_PULS_OXIM_SAT_O2", "spo2"),  # 19384
    MdcVital(151562, "MDC_RESP_RATE", "resp_rate"),  # 20490
    MdcVital(150021, "MDC_PRESS_BLD_NONINV_SYS", "systolic_bp"),  # 18949
    MdcVital(150022, "MDC_PRESS_BLD_NONINV_DIA", "diastolic_bp"),  # 18950
    MdcVital(150033, "MDC_PRESS_BLD_ART_SYS", "systolic_bp"),  # 18961
    MdcVital(150034, "MDC_PRESS_BLD_ART_DIA", "diastolic_bp"),  # 18962
    MdcVital(150344, "MDC_TEMP", "temperature"),  # 19272
    MdcVital(150364, "MDC_TEMP_BODY", "temperature"),  # 19292
)
_MDC_BY_KEY: dict[str, MdcVital] = {k: v for v in MDC_VITALS for k in (str(v.code), v.mnemonic)}


def mdc_vital(code: str, reference_id: str = "") -> MdcVital | None:
    """The vital of an MDC code, looked up by its number or, failing that, its reference id."""
    return _MDC_BY_KEY.get(code) or _MDC_BY_KEY.get(reference_id)
