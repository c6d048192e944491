"""Store URLs: which backend a URL names, and how to show one without its password.

Accepted forms (the SQLAlchemy convention for SQLite)::

    memory://                    a new, empty in-process store
    sqlite:///relative/path.db   a SQLite file relative to the working directory
    sqlite:////abs/path.db       a SQLite file at an absolute path
    /any/path/legato.db          a bare path ending in .db, .sqlite or .sqlite3
    postgresql://user:pw@host/db a PostgreSQL database (also postgres://, postgresql+psycopg://);
                                 ?schema=NAME puts legato's tables in that schema
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from legato.errors import StoreError

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")

ACCEPTED_FORMS = (
    "memory:// (in-process, nothing persisted), "
    "sqlite:///relative/path.db or sqlite:////absolute/path.db (SQLite file), "
    "a bare file path ending in .db, .sqlite or .sqlite3, "
    "or postgresql://user:password@host:5432/database (PostgreSQL)"
)

_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|pass)=)[^&#]*")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (``user:***@host``, ``?password=***``).

    Errs on the side of hiding. In a PostgreSQL URL the user information ends at the last
    ``@`` (see ``split_postgres_url``), so a password holding any of ``?#@/:%[]`` and the
    like is hidden whole. In other URLs it ends at the last ``@`` before any ``?`` or
    ``#`` (their queries hold e-mail addresses), so a password holding ``/`` or ``@`` is
    still hidden.
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        end = len(rest)
        if scheme.lower() not in POSTGRES_SCHEMES:
            for mark in "?#":
                index = rest.find(mark)
                if index != -1:
                    end = min(end, index)
        at = rest.rfind("@", 0, end)
        if at != -1:
            user, colon, _ = rest[:at].partition(":")
            if colon:
                rest = f"{user}:***{rest[at:]}"
        url = f"{scheme}://{rest}"
    return _SECRET_QUERY.sub(r"\1***", url)


@dataclass(frozen=True, kw_only=True, slots=True)
class PostgresUrl:
    """A PostgreSQL URL taken apart: ``user`` and ``password`` percent-decoded (``None``
    when absent), ``location`` the rest as written (``host[:port][,...][/db][?query]``)."""

    user: str | None
    password: str | None = field(repr=False)
    location: str


def split_postgres_url(url: str) -> PostgresUrl:
    """Split ``postgresql://user:password@location``. The user information ends at the
    LAST ``@`` and the password starts after the first ``:``, so a password may hold any
    character, reserved ones (``?#@/:%[]!$&'()*+,;=``, space) written as they are or
    percent-encoded; an ``@`` after the host (in a query value) must be written ``%40``.
    The driver then gets user and password as separate values, never a URL to re-parse.
    """
    _, _, rest = url.strip().partition("://")
    userinfo, at, location = rest.rpartition("@")
    if not at:
        return PostgresUrl(user=None, password=None, location=rest)
    user, colon, password = userinfo.partition(":")
    return PostgresUrl(
        user=unquote(user) if user else None,
        password=unquote(password) if colon else None,
        location=location,
    )


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """What a store URL names: ``kind`` is ``"memory"``, ``"sqlite"`` (then ``path`` is the
    file) or ``"postgres"`` (then ``path`` is the URL as given)."""

    kind: str
    path: str = ""


def parse_store_url(url: str) -> StoreLocation:
    """The backend and location ``url`` names; ``StoreError`` saying the accepted forms."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() == "memory":
        if rest.strip("/"):
            raise StoreError(
                f"store URL {redact_url(url)!r}: memory:// takes no path; use exactly "
                "memory:// for an in-process store."
            )
        return StoreLocation("memory")
    if sep and scheme.lower() == "sqlite":
        # SQLAlchemy: sqlite:///rel.db -> "rel.db", sqlite:////abs.db -> "/abs.db".
        if not rest.startswith("/") or not rest[1:]:
            raise StoreError(
                f"store URL {redact_url(url)!r} names no file; write sqlite:///relative/"
                "path.db or sqlite:////absolute/path.db (three slashes, then the path)."
            )
        return StoreLocation("sqlite", rest[1:])
    if sep and scheme.lower() in POSTGRES_SCHEMES:
        return StoreLocation("postgres", text)
    if not sep and text.lower().endswith(SQLITE_SUFFIXES):
        return StoreLocation("sqlite", text)
    raise StoreError(
        f"store URL {redact_url(url)!r} is not one legato knows; use {ACCEPTED_FORMS}."
    )
