"""Who is calling, and what each role may do.

A request sends ``Authorization: Bearer TOKEN``; the token is looked up by its hash and
compared in constant time (``legato.store.tokens``). Only a server started on a loopback
address with no token in the store (``create_app(allow_anonymous=True)``) lets requests
without a token in, as ``anonymous`` with every permission; once a token exists, every
request needs one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request

from legato.server.errors import ApiError
from legato.store.tokens import Role, TokenStore, hash_token, matches

ANONYMOUS = "anonymous"
CREATE_HINT = "Create a token with: legato tokens create --name NAME --role viewer"


class Permission(StrEnum):
    READ = "read"
    OPERATE = "operate"  # start, cancel, pause, unpause, retry runs; send events
    ANSWER = "answer"  # approve or reject inputs
    ADMIN = "admin"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.OPERATE}),
    Role.APPROVER: frozenset({Permission.READ, Permission.ANSWER}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    """The caller: its token's name (the actor recorded in history) and role."""

    name: str
    role: Role

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


def authenticate(request: Request) -> Principal:
    """The caller of ``request``; ``ApiError`` 401 without a valid token."""
    store: TokenStore = request.app.state.store
    header = request.headers.get("authorization")
    if header is None:
        if request.app.state.allow_anonymous and not store.has_tokens():
            return Principal(name=ANONYMOUS, role=Role.ADMIN)
        raise ApiError(
            401,
            "unauthenticated",
            "this request needs a token: send the header Authorization: Bearer TOKEN",
            CREATE_HINT,
        )
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "unauthenticated",
            "the Authorization header must read: Bearer TOKEN",
            CREATE_HINT,
        )
    record = store.find_token(hash_token(token))
    if record is None or not matches(record, token):
        raise ApiError(
            401,
            "unauthenticated",
            "the token is not known (mistyped, or revoked)",
            "List tokens with legato tokens list; " + CREATE_HINT.lower(),
        )
    return Principal(name=record.name, role=record.role)


def require(permission: Permission) -> Callable[[Request], Principal]:
    """A dependency: the caller, if its role grants ``permission``; else 401/403."""

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if not principal.may(permission):
            allowed = ", ".join(r.value for r, grants in GRANTS.items() if permission in grants)
            raise ApiError(
                403,
                "forbidden",
                f"token {principal.name!r} has role {principal.role.value}, which may not "
                f"{permission.value} (roles that may: {allowed})",
                "Use a token with one of those roles.",
            )
        return principal

    return dependency
