"""What each staff role may see and do on the console.

| role | sees | acknowledges / resolves |
|---|---|---|
| nurse | alerts of their wards (and alerts with no known ward) | the same |
| charge nurse | every ward of their unit (and alerts with no known ward) | the same |
| ops | every alert, without patient values (no vitals, no reasons, no patient id) | nothing |

Alerts whose ward is unknown are shown to (and can be acknowledged by) every
clinical role: hiding an alert because routing data is missing would silence a
patient.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(str, enum.Enum):
    NURSE = "nurse"
    CHARGE_NURSE = "charge_nurse"
    OPS = "ops"


@dataclass(frozen=True, slots=True)
class Staff:
    """A signed-in person as the console sees them (no credential in here)."""

    username: str
    display_name: str
    role: Role
    wards: frozenset[str] = frozenset()
    method: str = "password"  # or "oidc"

    @property
    def clinical(self) -> bool:
        return self.role is not Role.OPS

    def sees_ward(self, ward: str | None) -> bool:
        """May this person see alerts of `ward`? Unknown wards are visible to every clinical role."""
        if self.role is Role.OPS:
            return True
        return not ward or ward in self.wards

    def may_act_on(self, ward: str | None) -> bool:
        """May this person acknowledge or resolve an alert of `ward`?"""
        return self.clinical and self.sees_ward(ward)

    @property
    def sees_values(self) -> bool:
        """Ops watch the system, not the patients: no vitals, reasons or patient ids."""
        return self.clinical
