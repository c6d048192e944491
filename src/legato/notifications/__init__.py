"""Notifications: ``notify`` sends a message through a channel (webhook, SMTP e-mail, or a
chat service through apprise) as a durable, retried step; ``notifier`` builds a failure
handler for ``on_failure=``. Channels are URLs, or names configured in settings with
``LEGATO_NOTIFY_<NAME>=<url>``. apprise, httpx and smtplib are imported only to send.
"""

from __future__ import annotations

from legato.notifications.channels import (
    Channel,
    configured_channels,
    parse_channel,
    resolve_channel,
)
from legato.notifications.notify import notifier, notify

__all__ = [
    "Channel",
    "configured_channels",
    "notifier",
    "notify",
    "parse_channel",
    "resolve_channel",
]
