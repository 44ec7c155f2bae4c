"""Who is at the console: staff accounts, roles, sign-in sessions and single sign-on.

- `users.py`: the users file (argon2 password hashes, role, wards), re-read when it changes.
- `roles.py`: what each role may see and do (nurse, charge nurse, ops).
- `sessions.py`: signed, expiring session cookies naming the signed-in person.
- `oidc.py`: optional sign-in through the hospital's OpenID Connect provider (authlib).
- `gateways.py`: named ingest credentials, added and revoked without a restart.

The console (`streams/console.py`) asks this package *who* made a request and
*whether* they may do what they ask; an acknowledgement's `by` is always the
signed-in identity, never text typed into a box.
"""

from streams.identity.roles import Role, Staff
from streams.identity.sessions import StaffSessions
from streams.identity.users import User, UsersFile

__all__ = ["Role", "Staff", "StaffSessions", "User", "UsersFile"]
