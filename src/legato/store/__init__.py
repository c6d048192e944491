"""Persistence: the ``Store`` protocol, its backends, and ``open_store(url)``.

Importing this package stays light: the SQLite backend (and ``sqlite3``) loads on first
use of ``SqliteStore`` or of a ``sqlite:`` URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from legato.store.base import Store
from legato.store.memory import MemoryStore
from legato.store.urls import parse_store_url, redact_url

if TYPE_CHECKING:
    from legato.store.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "Store", "open_store", "redact_url"]


def open_store(url: str, *, durability: str = "normal") -> Store:
    """Open the store ``url`` names (see ``legato.store.urls`` for the accepted forms).

    ``memory://`` gives a new empty ``MemoryStore`` (``durability`` does not apply);
    ``sqlite:///path.db``, ``sqlite:////abs/path.db`` or a bare ``*.db`` path give a
    ``SqliteStore`` with that ``durability`` (``"normal"`` survives a process crash,
    ``"full"`` also power loss), creating the file and its directory if needed.

    Raises ``StoreError`` for an unknown or unsupported URL (passwords removed from the
    message) or a file that cannot be opened, ``ValueError`` for an unknown durability.
    """
    if durability not in ("normal", "full"):
        raise ValueError(
            f"durability={durability!r} is not one of 'normal' (survive a process crash) "
            "or 'full' (survive power loss)."
        )
    location = parse_store_url(url)
    if location.kind == "memory":
        return MemoryStore()
    from legato.store.sqlite import SqliteStore

    return SqliteStore(location.path, durability=durability)


def __getattr__(name: str) -> Any:
    if name == "SqliteStore":
        from legato.store.sqlite import SqliteStore

        return SqliteStore
    raise AttributeError(f"module 'legato.store' has no attribute {name!r}")
