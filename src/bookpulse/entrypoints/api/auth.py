"""Auth routes: register, tokens, refresh, me."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, status

from bookpulse.domain.errors import Unauthenticated
from bookpulse.entrypoints.api.deps import ContainerDep, PrincipalDep
from bookpulse.entrypoints.api.schemas import RefreshIn, RegisterIn, TokenIn, TokenOut, UserOut
from bookpulse.services import accounts

router = APIRouter(prefix="/api/v1", tags=["auth"])


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterIn, c: ContainerDep) -> dict[str, object]:
    user = await accounts.register_user(db=c.db, hasher=c.hasher, email=str(body.email),
                                        password=body.password, name=body.name,
                                        phone=body.phone, now=c.clock.now())
    return {"id": user.id, "email": user.email, "name": user.name, "phone": user.phone,
            "created_at": user.created_at, "memberships": []}


async def _tokens(c: ContainerDep, user_id: int, refresh: str) -> TokenOut:
    now = c.clock.now()
    return TokenOut(access_token=c.tokens.issue(user_id=user_id, now=now),
                    refresh_token=refresh, expires_in=int(c.tokens.ttl.total_seconds()))


@router.post("/auth/token", response_model=TokenOut)
async def token(body: TokenIn, request: Request, c: ContainerDep) -> TokenOut:
    keys = (f"ip:{client_ip(request)}", f"email:{body.email.strip().lower()}")
    c.login_limiter.check(*keys)
    try:
        user = await accounts.authenticate(db=c.db, hasher=c.hasher, email=body.email,
                                           password=body.password)
    except Unauthenticated:
        c.login_limiter.fail(*keys)
        raise
    refresh = await accounts.issue_refresh_token(
        db=c.db, user_id=user.id, now=c.clock.now(),
        ttl=timedelta(days=c.settings.refresh_token_days))
    return await _tokens(c, user.id, refresh)


@router.post("/auth/refresh", response_model=TokenOut)
async def refresh(body: RefreshIn, c: ContainerDep) -> TokenOut:
    user_id, new_refresh = await accounts.rotate_refresh_token(
        db=c.db, raw=body.refresh_token, now=c.clock.now(),
        ttl=timedelta(days=c.settings.refresh_token_days))
    return await _tokens(c, user_id, new_refresh)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshIn, c: ContainerDep) -> None:
    """Revoke a refresh token (and its whole rotation family)."""
    await accounts.revoke_refresh_token(db=c.db, raw=body.refresh_token, now=c.clock.now())


@router.get("/me", response_model=UserOut)
async def me(principal: PrincipalDep, c: ContainerDep) -> dict[str, object]:
    async with c.db(write=False) as uow:
        user = await uow.users.get(principal.user_id)
        orgs = {o.id: o.name for o in await uow.catalog.orgs(list(principal.memberships))}
    return {"id": user.id, "email": user.email, "name": user.name, "phone": user.phone,
            "created_at": user.created_at,
            "memberships": [{"org_id": org_id, "role": str(role), "org_name": orgs.get(org_id)}
                            for org_id, role in sorted(principal.memberships.items())]}
