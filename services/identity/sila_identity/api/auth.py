"""Log-in: the OAuth 2.0 token endpoint and the public keys (JWKS)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form
from pydantic import BaseModel
from sqlalchemy import select

from sila_common.app import RuntimeDep
from sila_common.problems import Problem
from sila_identity.api.deps import IdentitySettingsDep, KeyStoreDep
from sila_identity.auth.passwords import verify_password
from sila_identity.auth.tokens import issue_access_token
from sila_identity.tables import agents

router = APIRouter(tags=["log-in"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    scope: str = ""


class OAuthError(Problem):
    """RFC 6749 errors, carried in a problem detail with the ``error`` member clients expect."""

    status, slug, title = 400, "oauth-error", "Log-in refused"


@router.post("/v1/oauth/token", response_model=TokenResponse, summary="Obtain an access token")
async def token(
    runtime: RuntimeDep,
    keys: KeyStoreDep,
    settings: IdentitySettingsDep,
    grant_type: Annotated[str, Form()],
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    if grant_type != "password":
        raise OAuthError(
            f"The grant type {grant_type!r} is not supported here.", error="unsupported_grant_type"
        )
    if not username or not password:
        raise OAuthError("username and password are required.", error="invalid_request")
    async with runtime.session_factory() as session:
        agent = (
            await session.execute(select(agents).where(agents.c.username == username))
        ).one_or_none()
    valid = verify_password(agent.password_hash if agent else None, password)
    if agent is None or not valid or agent.disabled:
        raise OAuthError(
            "The username or password is wrong, or the account is disabled.",
            status=400,
            error="invalid_grant",
        )
    access = await issue_access_token(
        keys,
        runtime.platform,
        subject=agent.id,
        kind="agent",
        ttl_seconds=settings.access_token_ttl_seconds,
        roles=list(agent.roles),
        extra={"wilayas": list(agent.wilayas), "agency": agent.agency, "name": agent.display_name},
    )
    return TokenResponse(access_token=access, expires_in=settings.access_token_ttl_seconds)


@router.get("/.well-known/jwks.json", summary="The public keys that verify Sila's tokens")
async def jwks(keys: KeyStoreDep) -> dict[str, Any]:
    return await keys.jwks()
