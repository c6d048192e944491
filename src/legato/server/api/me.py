"""``/api/v1/me``: who the caller is and what its role may do (the web UI shows only the
buttons the caller may use)."""

from __future__ import annotations

from fastapi import APIRouter

from legato.server.api.deps import ERRORS, Reader
from legato.server.auth import Permission
from legato.server.schemas import MeOut

router = APIRouter(tags=["auth"], responses=ERRORS)


@router.get("/me", response_model=MeOut)
def me(caller: Reader) -> MeOut:
    """The caller's token name, role and permissions."""
    return MeOut(
        name=caller.name,
        role=caller.role.value,
        permissions=sorted(p.value for p in Permission if caller.may(p)),
    )
