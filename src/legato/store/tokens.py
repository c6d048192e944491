"""API tokens (``TokenStore``): who may call ``legato server``, and with which role.

A token is shown once, when it is made (:func:`new_token`); the store keeps only its
SHA-256 (:func:`hash_token`), so reading the store gives no token away. A request's
token is found by its hash, then compared with ``hmac.compare_digest``.

Implemented by every backend: ``MemoryTokens`` (mixed into ``MemoryStore``) and
``SqlTokens`` (mixed into ``SqlStore``), one contract suite
(``tests/store/test_tokens_contract.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from legato.errors import StoreError, UsageError
from legato.store import rows

if TYPE_CHECKING:
    from legato.records import Change
    from legato.store.sql import Cursor

T = TypeVar("T")
A = TypeVar("A")

TOKEN_PREFIX = "lgt_"  # tells a legato token apart in a secret scanner or a config file
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class Role(StrEnum):
    """What a token may do: ``viewer`` reads; ``operator`` also starts, cancels, pauses,
    retries runs and sends events; ``approver`` reads and answers inputs; ``admin`` all."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenRecord:
    name: str  # unique; the actor recorded in history for what the token does
    role: Role
    token_hash: str  # hex SHA-256 of the token
    created_at: datetime
    created_by: str | None = None


def new_token() -> str:
    """A new random token (32 random bytes, URL-safe text with a ``lgt_`` prefix)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The hex SHA-256 of ``token``: what the store keeps and looks tokens up by."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def matches(record: TokenRecord, token: str) -> bool:
    """Whether ``token`` is the one ``record`` was made from, compared in constant time."""
    return hmac.compare_digest(record.token_hash, hash_token(token))


def check_token_name(name: str) -> str:
    """``name`` if it can name a token; ``UsageError`` saying what names look like."""
    if not _NAME.match(name):
        raise UsageError(
            f"token name {name!r}: use 1 to 64 letters, digits and _ . @ - (starting with a "
            "letter or digit), e.g. ci-deploy or alice@example.com"
        )
    return name


def duplicate_token(name: str) -> StoreError:
    return StoreError(
        f"a token named {name!r} exists already; revoke it first (legato tokens revoke "
        f"{name}) or choose another --name"
    )


@runtime_checkable
class TokenStore(Protocol):
    """The tokens of ``legato server``."""

    def create_token(self, token: TokenRecord) -> None:
        """Insert the token atomically. Raises ``StoreError`` (nothing written) when a
        token of that name exists, or the write fails."""

    def find_token(self, token_hash: str) -> TokenRecord | None:
        """The token with that hash, if any. Raises ``StoreError`` if the read fails."""

    def list_tokens(self) -> list[TokenRecord]:
        """Every token, by name. Raises ``StoreError``."""

    def has_tokens(self) -> bool:
        """Whether any token exists. Raises ``StoreError``."""

    def revoke_token(self, name: str) -> bool:
        """Delete the token named ``name`` atomically; False when there is none."""


class MemoryTokens:
    """Mixed into ``MemoryStore``; every method holds the store's lock."""

    _lock: threading.Lock
    _tokens: dict[str, TokenRecord]

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...

    def create_token(self, token: TokenRecord) -> None:
        """Insert the token; ``StoreError`` when its name is taken."""
        with self._lock:
            self._check_open()
            if token.name in self._tokens:
                raise duplicate_token(token.name)
            self._tokens[token.name] = token

    def find_token(self, token_hash: str) -> TokenRecord | None:
        """The token with that hash, if any."""
        with self._lock:
            self._check_open()
            return next((t for t in self._tokens.values() if t.token_hash == token_hash), None)

    def list_tokens(self) -> list[TokenRecord]:
        """Every token, by name."""
        with self._lock:
            self._check_open()
            return sorted(self._tokens.values(), key=lambda t: t.name)

    def has_tokens(self) -> bool:
        """Whether any token exists."""
        with self._lock:
            self._check_open()
            return bool(self._tokens)

    def revoke_token(self, name: str) -> bool:
        """Delete the token named ``name``; False when there is none."""
        with self._lock:
            self._check_open()
            return self._tokens.pop(name, None) is not None


TOKEN_COLUMNS = "name, role, token_hash, created_at, created_by"
INSERT_TOKEN = f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
SELECT_TOKEN_BY_HASH = f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?"
SELECT_TOKENS = f"SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY name"
ANY_TOKEN = "SELECT 1 FROM tokens LIMIT 1"
DELETE_TOKEN = "DELETE FROM tokens WHERE name = ?"


class SqlTokens:
    """Mixed into ``SqlStore``; relies on its ``_write``, ``_fetch`` and placeholder."""

    placeholder: ClassVar[str]

    if TYPE_CHECKING:

        def _write(
            self, doing: str, work: Callable[[Cursor, A], T], arg: A, changes: Sequence[Change]
        ) -> T: ...

        def _fetch(self, doing: str, sql: str, params: Sequence[Any], one: bool = False) -> Any: ...

    def _sql(self, query: str) -> str:
        return query.replace("?", self.placeholder)

    def create_token(self, token: TokenRecord) -> None:
        """Insert the token in one transaction; ``StoreError`` (nothing written) when its
        name is taken or the write fails."""
        row = (
            token.name,
            str(token.role),
            token.token_hash,
            rows.micros(token.created_at),
            token.created_by,
        )
        sql = self._sql(INSERT_TOKEN)

        def work(cur: Cursor, _: None) -> None:
            cur.execute(sql, row)
            if cur.rowcount == 0:
                raise duplicate_token(token.name)

        self._write(f"create token {token.name!r}", work, None, ())

    def find_token(self, token_hash: str) -> TokenRecord | None:
        """The token with that hash, if any. ``StoreError`` if the read fails."""
        row = self._fetch("look up a token", self._sql(SELECT_TOKEN_BY_HASH), (token_hash,), True)
        return None if row is None else _decode(row)

    def list_tokens(self) -> list[TokenRecord]:
        """Every token, by name. ``StoreError`` if the read fails."""
        return [_decode(row) for row in self._fetch("list tokens", SELECT_TOKENS, ())]

    def has_tokens(self) -> bool:
        """Whether any token exists. ``StoreError`` if the read fails."""
        return self._fetch("look for tokens", ANY_TOKEN, (), True) is not None

    def revoke_token(self, name: str) -> bool:
        """Delete the token named ``name`` in one transaction; False when there is none."""
        sql = self._sql(DELETE_TOKEN)

        def work(cur: Cursor, _: None) -> bool:
            return cur.execute(sql, (name,)).rowcount > 0

        return self._write(f"revoke token {name!r}", work, None, ())


def _decode(row: Sequence[Any]) -> TokenRecord:
    created_at = rows.from_micros(row[3])
    assert created_at is not None  # NOT NULL column
    return TokenRecord(
        name=row[0], role=Role(row[1]), token_hash=row[2], created_at=created_at, created_by=row[4]
    )
