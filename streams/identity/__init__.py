"""Who is at the console and who is sending: staff accounts, roles, sessions, SSO, gateway credentials.

- `users.py`: the users file (argon2 password hashes, role, wards), re-read when it changes.
- `roles.py`: what each role may see and do (nurse, charge nurse, ops).
- `sessions.py`: signed, expiring session cookies naming the signed-in person.
- `visibility.py`: what a person's console shows (their wards; no patient values for ops).
- `oidc.py`: optional sign-in through the hospital's OpenID Connect provider (authlib).
- `gateways.py`: named ingest credentials, added and revoked without a restart.

The console asks this package *who* made a request and *whether* they may do
what they ask; an acknowledgement's `by` is always the signed-in identity.
"""

from streams.exports import public

__all__, __getattr__ = public(
    __name__,
    {
        "roles": ("Role", "Staff"),
        "users": ("User", "UsersFile", "with_password"),
        "sessions": ("StaffSessions",),
        "throttle": ("SignInThrottle",),
        "passwords": ("hash_password", "verify_password"),
        "oidc": ("OidcSettings", "OidcSignIn", "FLOW_COOKIE", "FLOW_MAX_AGE_S", "identities"),
        "gateways": ("Gateway", "GatewaysFile"),
        "signin": ("SignInError", "check_may_act", "sign_in"),
    },
    modules=("visibility",),
)
