"""Settings, read once from the environment. The only module that reads ``LEGATO_*``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    db_url: str
    max_workers: int
    durability: str  # "normal": survives a process crash; "full": survives power loss
    # A run whose worker died or lost it this many times fails instead of being claimed
    # again (LEGATO_RECOVERY_LIMIT).
    recovery_limit: int = 5
    # Notification channel name -> URL, from LEGATO_NOTIFY_<NAME>=<url> (name lower-cased).
    # Kept as text here; legato.notifications parses and validates them.
    notify_channels: dict[str, str] = field(default_factory=dict)
    # LEGATO_HOME (default ~/.legato): where this machine's legato keeps local files.
    home: Path = field(default_factory=lambda: Path.home() / ".legato")


def default_db_url(home: Path) -> str:
    return f"sqlite:///{home / 'legato.db'}"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    home = Path(env.get("LEGATO_HOME") or Path.home() / ".legato")
    workers_text = env.get("LEGATO_MAX_WORKERS", "16")
    try:
        max_workers = int(workers_text)
        if max_workers < 1:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"LEGATO_MAX_WORKERS={workers_text!r} is not a positive integer; set it to the "
            "number of threads that run task bodies, for example 16."
        ) from None
    durability = env.get("LEGATO_DURABILITY", "normal")
    if durability not in ("normal", "full"):
        raise ValueError(
            f"LEGATO_DURABILITY={durability!r} is not one of 'normal' (survive a process "
            "crash) or 'full' (survive power loss)."
        )
    return Settings(
        db_url=env.get("LEGATO_DB") or default_db_url(home),
        max_workers=max_workers,
        durability=durability,
        recovery_limit=_recovery_limit(env),
        notify_channels=_notify_channels(env),
        home=home,
    )


def _recovery_limit(env: dict[str, str]) -> int:
    text = env.get("LEGATO_RECOVERY_LIMIT", "5")
    try:
        limit = int(text)
        if limit < 1:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"LEGATO_RECOVERY_LIMIT={text!r} is not a positive integer; set it to how many "
            "times a run may take down or lose its worker before it fails, for example 5."
        ) from None
    return limit


NOTIFY_PREFIX = "LEGATO_NOTIFY_"


def _notify_channels(env: dict[str, str]) -> dict[str, str]:
    channels: dict[str, str] = {}
    for key, url in sorted(env.items()):
        if key.startswith(NOTIFY_PREFIX) and len(key) > len(NOTIFY_PREFIX):
            # Never echo the value: a channel URL usually holds a password or token.
            if not url.strip():
                raise ValueError(
                    f"{key} is set but empty; set it to a channel URL (for example "
                    "https://hooks.example.com/..., smtp://user:pw@host:587?from=...&to=..., "
                    "slack://...) or unset it."
                )
            channels[key[len(NOTIFY_PREFIX) :].lower()] = url.strip()
    return channels
