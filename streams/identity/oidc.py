"""Sign-in through the hospital's OpenID Connect provider (authorization code flow with PKCE).

Built on authlib's async OAuth 2 / OpenID client (the same mixins its Starlette
integration uses) with httpx underneath: discovery from
`<issuer>/.well-known/openid-configuration`, PKCE S256, `state` and `nonce`
checked, and the ID token's signature, issuer, audience, expiry and nonce
validated against the provider's JWKS. Nothing here trusts a claim that did
not come in a signed ID token.

The flow's short-lived secrets (state, nonce, PKCE verifier) travel in a signed
cookie (`wardwatch_oidc`, 10 minutes, SameSite=Lax so the provider's redirect
back carries it), so any worker sharing `WARDWATCH_SESSION_SECRET` can finish a
sign-in another one started.

The provider proves *who* someone is; the users file says what they may do:
the first of `preferred_username`, `email`, `sub` that matches a user's `sso`
entry signs them in, and anyone else is refused with a message naming the
identity to add (`wardwatch user add NAME --sso IDENTITY ...`).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any

import orjson
from authlib.integrations.base_client import BaseApp
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client

from streams.webauth import Signer, b64decode, b64encode

FLOW_COOKIE = "wardwatch_oidc"
FLOW_MAX_AGE_S = 600
IDENTITY_CLAIMS = ("preferred_username", "email", "sub")


class _ProviderApp(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):
    """authlib's async OpenID client without a web framework (we keep the flow state ourselves)."""

    client_cls = AsyncOAuth2Client


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str | None = None  # public URL of /console/oidc/callback; else from the request


class OidcSignIn:
    def __init__(self, settings: OidcSettings, secret: bytes) -> None:
        self.settings = settings
        self.signer = Signer(secret, "oidc-flow")
        self.app = _ProviderApp(
            None,
            name="hospital",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256", "timeout": 10},
        )

    def redirect_uri(self, request_base: str) -> str:
        return self.settings.redirect_url or request_base.rstrip("/") + "/console/oidc/callback"

    async def begin(self, redirect_uri: str) -> tuple[str, str]:
        """The provider's sign-in URL and the signed flow cookie to set."""
        rv = await self.app.create_authorization_url(redirect_uri)
        flow = {
            "state": rv["state"],
            "nonce": rv["nonce"],
            "verifier": rv["code_verifier"],
            "exp": int(time.time()) + FLOW_MAX_AGE_S,
        }
        return rv["url"], self._seal(flow)

    async def complete(self, redirect_uri: str, query: dict[str, str], cookie: str | None) -> dict[str, Any]:
        """Exchange the code and return the validated ID-token claims; ValueError says what failed."""
        if query.get("error"):
            raise ValueError(f"the sign-in provider answered {query['error']}: {query.get('error_description', '')}")
        flow = self._open(cookie)
        if flow is None:
            raise ValueError("sign-in expired or started elsewhere: start again")
        if not hmac.compare_digest(str(query.get("state", "")).encode(), str(flow["state"]).encode()):
            raise ValueError("sign-in state does not match: start again")
        if not query.get("code"):
            raise ValueError("the provider sent no authorization code")
        token = await self.app.fetch_access_token(redirect_uri, code=query["code"], code_verifier=flow["verifier"])
        claims = await self.app.parse_id_token(token, nonce=flow["nonce"])
        if claims is None:
            raise ValueError("the provider sent no ID token")
        return dict(claims)

    # ---- the signed flow cookie ---------------------------------------------------
    def _seal(self, flow: dict[str, Any]) -> str:
        return self.signer.sign(b64encode(orjson.dumps(flow)))

    def _open(self, value: str | None) -> dict[str, Any] | None:
        body = self.signer.unsign(value, 2048)
        if body is None:
            return None
        try:
            flow = orjson.loads(b64decode(body))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(flow, dict) or int(flow.get("exp", 0)) < time.time():
            return None
        return flow


def identities(claims: dict[str, Any]) -> list[str]:
    """The claims that may name a wardwatch user, most specific first."""
    return [str(claims[c]) for c in IDENTITY_CLAIMS if claims.get(c)]
