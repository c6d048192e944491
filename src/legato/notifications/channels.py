"""Notification channels: a URL parsed and checked once, shown only with its secrets hidden.

Accepted forms::

    https://host/path, http://host/path     webhook: a JSON POST of {"message", "subject",
                                             "data", "run_id", "step_key"}
    smtp://user:password@host:587?from=a@x.org&to=b@y.org,c@z.org[&starttls=1]
    smtps://user:password@host:465?from=...&to=...   email over SMTP (smtps: TLS from the start)
    slack://..., discord://..., mailto://..., json://..., ...   any service apprise knows

A secret may be written as ``${ENV_NAME}`` anywhere in the URL; it is resolved when the
channel is parsed (a missing variable is an error naming it) and hidden by ``redacted()``.
Channels named in settings (``LEGATO_NOTIFY_<NAME>=<url>``) are used by their lower-cased name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from legato.errors import DefinitionError
from legato.notifications.redaction import hide_in_logs
from legato.settings import Settings, load_settings
from legato.store.urls import redact_url

ChannelKind = Literal["webhook", "smtp", "apprise"]

ACCEPTED_FORMS = (
    "https://host/path or http://host/path (webhook, JSON POST), "
    "smtp://user:password@host:587?from=a@example.org&to=b@example.org[,c@example.org]"
    "[&starttls=1] or smtps://... (email), "
    "or any URL apprise knows (slack://, discord://, mailto://, msteams://, json://, ...); "
    "write secrets as ${ENV_NAME}"
)

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEY = re.compile(r"(?i)pass|pwd|secret|token|key|sig|auth|code|credential")
# A path segment that looks like a generated token (webhook ids, API keys): hide it.
_TOKEN_SEGMENT = re.compile(r"^(?=.*\d)[A-Za-z0-9_\-.~]{16,}$")
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True, kw_only=True, slots=True)
class Channel:
    """Where a notification goes. ``url`` holds secrets: show ``redacted()`` instead."""

    kind: ChannelKind
    url: str = field(repr=False)
    shown: str  # the URL with passwords and tokens replaced by ***
    name: str | None = None  # the settings name, for a configured channel
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def redacted(self) -> str:
        """The URL with passwords and tokens replaced by ``***``: safe to log or show."""
        return self.shown

    def label(self) -> str:
        """How errors name this channel: its settings name, else its redacted URL."""
        return f"channel {self.name!r}" if self.name else f"channel {self.shown}"

    def scrub(self, text: str) -> str:
        """``text`` with this channel's URL and every secret in it replaced by ``***``."""
        for secret in sorted((self.url, *self.secrets), key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return text


@dataclass(frozen=True, kw_only=True, slots=True)
class SmtpTarget:
    """An ``smtp://`` or ``smtps://`` channel taken apart."""

    host: str
    port: int
    username: str | None
    password: str | None
    sender: str
    recipients: tuple[str, ...]
    ssl: bool
    starttls: bool


def parse_channel(
    url: str, *, name: str | None = None, env: Mapping[str, str] | None = None
) -> Channel:
    """Parse and check ``url`` (``${ENV}`` placeholders resolved from ``env``, by default the
    process environment). Raises ``DefinitionError`` naming the redacted URL and the accepted
    forms, or the missing variable; never the value of a secret."""
    if not isinstance(url, str) or not url.strip():
        raise DefinitionError(
            f"notification channel {url!r} is not a URL; use one of: {ACCEPTED_FORMS}"
        )
    template = url.strip()
    resolved, secrets = _resolve(template, name, os.environ if env is None else env)
    where = f"channel {name!r}" if name else "notification channel"
    scheme, sep, _ = resolved.partition("://")
    if not sep or not scheme:
        # Not echoed: without a scheme nothing tells a token from a host name.
        raise DefinitionError(
            f"{where} is not a URL (it has no scheme://); use one of: {ACCEPTED_FORMS}"
        )
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        kind: ChannelKind = "webhook"
        secrets = (*secrets, *_url_secrets(resolved))
        _check_webhook(resolved, where, _redact(resolved, secrets))
        shown = _redact(resolved, secrets)
    elif scheme in ("smtp", "smtps"):
        kind = "smtp"
        secrets = (*secrets, *_url_secrets(resolved))
        shown = _redact(resolved, secrets)
        smtp_target(resolved, where=f"{where} {shown!r}")
    else:
        kind = "apprise"
        secrets = (*secrets, *_url_secrets(resolved))
        # Services put tokens anywhere (user, host, path): until apprise has parsed the URL
        # and can show its own privacy form, show the scheme only. apprise logs the URL.
        hide_in_logs((resolved, *secrets))
        shown = _check_apprise(resolved, where, f"{scheme}://***", secrets)
    return Channel(kind=kind, url=resolved, shown=shown, name=name, secrets=secrets)


def configured_channels(settings: Settings | None = None) -> dict[str, Channel]:
    """Every channel named in settings (``LEGATO_NOTIFY_<NAME>``), parsed and checked, so a
    bad URL or a missing secret fails when a process starts, not at the first failure."""
    settings = load_settings() if settings is None else settings
    return {name: parse_channel(url, name=name) for name, url in settings.notify_channels.items()}


def resolve_channel(channel: str | Channel, *, settings: Settings | None = None) -> Channel:
    """``channel`` as a ``Channel``: a URL is parsed, a bare name looked up in settings."""
    if isinstance(channel, Channel):
        return channel
    if not isinstance(channel, str) or not channel.strip():
        raise DefinitionError(
            f"notification channel {channel!r} must be a channel name (LEGATO_NOTIFY_<NAME>) "
            f"or a URL: {ACCEPTED_FORMS}"
        )
    if "://" in channel:
        return parse_channel(channel)
    configured = configured_channels(settings)
    found = configured.get(channel.strip().lower())
    if found is None:
        known = ", ".join(sorted(configured)) or "none"
        raise DefinitionError(
            f"no notification channel named {channel!r} (configured: {known}). Define it with "
            f"the environment variable LEGATO_NOTIFY_{channel.strip().upper()}=<url>, or pass "
            f"a URL: {ACCEPTED_FORMS}"
        )
    return found


def smtp_target(url: str, *, where: str) -> SmtpTarget:
    """The parts of an ``smtp://`` / ``smtps://`` URL; ``DefinitionError`` (naming ``where``,
    which must already be redacted) when one is missing or malformed."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise DefinitionError(f"{where}: the port is not a number; write host:587") from None
    if not parts.hostname:
        raise DefinitionError(
            f"{where} names no host; write smtp://user:password@host:587?from=...&to=..."
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"from", "to", "starttls"}
    if unknown:
        raise DefinitionError(
            f"{where}: unknown option(s) {sorted(unknown)}; smtp:// takes from, to, starttls"
        )
    recipients = tuple(
        r.strip() for value in query.get("to", []) for r in value.split(",") if r.strip()
    )
    username = unquote(parts.username) if parts.username else None
    sender = (query.get("from") or [""])[-1].strip() or (
        username if username and "@" in username else ""
    )
    if not recipients or not sender or not all("@" in a for a in (sender, *recipients)):
        raise DefinitionError(
            f"{where} needs a sender and recipients as e-mail addresses: "
            "?from=alerts@example.org&to=oncall@example.org,boss@example.org"
        )
    ssl = parts.scheme.lower() == "smtps"
    starttls = (query.get("starttls") or ["0"])[-1].strip().lower() in _TRUE
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if ssl else 25),
        username=username,
        password=unquote(parts.password) if parts.password is not None else None,
        sender=sender,
        recipients=recipients,
        ssl=ssl,
        starttls=starttls,
    )


def _resolve(
    template: str, name: str | None, env: Mapping[str, str]
) -> tuple[str, tuple[str, ...]]:
    secrets: list[str] = []

    def value(match: re.Match[str]) -> str:
        variable = match.group(1)
        found = env.get(variable)
        if found is None or found == "":
            what = f"channel {name!r}" if name else "a notification channel URL"
            raise DefinitionError(
                f"{what} uses ${{{variable}}}, but the environment variable {variable} is not "
                f"set (or empty). Set {variable} where legato runs, or write the value into "
                "the URL."
            )
        secrets.append(found)
        return found

    return _PLACEHOLDER.sub(value, template), tuple(secrets)


def _url_secrets(url: str) -> tuple[str, ...]:
    """The parts of ``url`` that look secret: the password, secret-named query values,
    token-like path segments; raw and percent-decoded."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return ()
    if password:
        found.append(password)
    for pair in parts.query.split("&"):
        key, eq, value = pair.partition("=")
        if eq and value and _SECRET_KEY.search(key):
            found.append(value)
    for segment in (parts.netloc.rpartition("@")[2], *parts.path.split("/")):
        if _TOKEN_SEGMENT.match(segment):
            found.append(segment)
    return tuple({s for item in found for s in (item, unquote(item)) if s})


def _redact(url: str, secrets: tuple[str, ...]) -> str:
    shown = redact_url(url)
    for secret in sorted(secrets, key=len, reverse=True):
        shown = shown.replace(secret, "***")
    return shown


def _check_webhook(url: str, where: str, shown: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise DefinitionError(
            f"{where} {shown!r} is malformed (check the host and port); use one of: "
            f"{ACCEPTED_FORMS}"
        ) from None
    if not parts.hostname:
        raise DefinitionError(
            f"{where} {shown!r} names no host; write https://host/path. Accepted: {ACCEPTED_FORMS}"
        )


def _check_apprise(url: str, where: str, shown: str, secrets: tuple[str, ...]) -> str:
    """Check ``url`` with apprise (no network) and return apprise's own privacy URL, with
    our secrets hidden too."""
    try:
        import apprise
    except ImportError:
        raise DefinitionError(
            f"{where} {shown!r} needs the apprise package (pip install apprise), or use a "
            f"webhook or smtp:// URL. Accepted: {ACCEPTED_FORMS}"
        ) from None
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not plugin:
        raise DefinitionError(
            f"{where} {shown!r} is not a URL legato or apprise knows (unknown scheme, or a "
            f"malformed URL for that service). Use one of: {ACCEPTED_FORMS}; see "
            "https://github.com/caronc/apprise/wiki for each service's URL."
        )
    private = str(plugin)  # apprise's url(privacy=True): tokens shortened, passwords hidden
    for secret in sorted(secrets, key=len, reverse=True):
        private = private.replace(secret, "***")
    return private
