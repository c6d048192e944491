"""Keeping channel secrets out of every logger of the process.

The libraries that send (httpx, httpcore, apprise, requests, urllib3) log the URLs they
call, and the application decides which loggers print: a filter on some loggers would
miss their children and any logger created later. So once a channel is used, its secrets
are registered here and a log-record factory, installed once and chained to the one in
place, replaces each of them by ``***`` in every record's message and traceback text,
whichever logger made it. Records that hold no secret are left untouched.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

# The libraries that send: their records also lose any password written in a URL, in
# whatever shortened form they print it (apprise shows "user:H...t@host").
_SENDING_LOGGERS = ("httpx", "httpcore", "apprise", "requests", "urllib3", "aiohttp")
_URL_PASSWORD = re.compile(r"(?<=://)([^\s/:@]*):[^\s@]*@")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # longest first; replaced whole, read without the lock
_installed = False


def hide_in_logs(secrets: Iterable[str]) -> None:
    """Make every log record from now on show ``***`` instead of each of ``secrets`` (as
    given and percent-encoded, as a URL library may print it). Thread-safe; cheap when
    the secrets are already registered."""
    global _secrets
    wanted = {form for secret in secrets if secret for form in _forms(secret)}
    if wanted <= set(_secrets):
        return
    with _lock:
        _secrets = tuple(sorted(wanted | set(_secrets), key=len, reverse=True))
        _install()


def scrub(text: str, *, url_passwords: bool = False) -> str:
    """``text`` with every registered secret replaced by ``***``, and with
    ``url_passwords`` the password of every ``scheme://user:password@`` too."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return _URL_PASSWORD.sub(r"\1:***@", text) if url_passwords else text


def _forms(secret: str) -> set[str]:
    # Short values ("1", "on") would blank out unrelated text; secrets are never that short.
    return {form for form in (secret, quote(secret, safe=""), quote(secret)) if len(form) >= 4}


def _install() -> None:
    """Chain the scrubbing factory in front of the current one, once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    logging.setLogRecordFactory(_scrubbing(logging.getLogRecordFactory()))


def _scrubbing(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _scrub_record(record)
        return record

    return factory


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
        return
    sending = record.name.startswith(_SENDING_LOGGERS)
    clean = scrub(message, url_passwords=sending)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        clean = scrub(text, url_passwords=sending)
        if clean != text:
            record.exc_text = clean
