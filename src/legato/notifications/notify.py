"""``notify``: send a message as a durable, retried step; ``notifier``: a failure handler.

Inside a flow, ``notify(...)`` is the step ``notify#n``: retried three times (after 1, 5
and 30 seconds) when the channel does not take the message, and returned from the record
on replay, so a message is never sent twice by a resumed run. Outside a flow it simply sends.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from legato.engine.context import current_step
from legato.engine.decorators import task
from legato.engine.definitions import Task
from legato.errors import DefinitionError, NotificationError
from legato.notifications.channels import configured_channels, resolve_channel
from legato.notifications.delivery import Message, send

# What a failure handler's message template may use, read from the failure by name.
FAILURE_FIELDS = (
    "run_id",
    "flow_name",
    "step_key",
    "task_name",
    "error_type",
    "message",
    "traceback",
    "attempts",
)


# A channel that is down for a minute should not lose the message: three retries, spread out.
# Only a refused delivery is retried: a setup error (unknown channel, missing ${ENV},
# malformed URL) fails the same way every time, so it fails at once.
RETRIES = 3
RETRY_DELAY = [1, 5, 30]
RETRY_ON = (NotificationError,)


@task(name="notify", retries=RETRIES, retry_delay=RETRY_DELAY, retry_on=RETRY_ON)
def notify(
    channel: str,
    message: str,
    *,
    subject: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Send ``message`` through ``channel``: a channel name from settings
    (``LEGATO_NOTIFY_<NAME>``) or a URL (see ``legato.notifications.channels``).

    Raises ``DefinitionError`` for an unknown channel or a missing ``${ENV}`` secret (never
    retried), and ``NotificationError`` when the channel did not take the message (retried
    in a flow).
    """
    step = current_step.get()
    try:
        target = resolve_channel(channel)
    except DefinitionError as exc:
        if step is None:
            raise
        raise DefinitionError(
            f"{exc} This is a setup error, so the step is not retried: fix the channel, "
            "then retry the run (legato runs retry RUN_ID)."
        ) from None
    send(
        target,
        Message(
            text=message,
            subject=subject,
            data=dict(data or {}),
            run_id=step.run_id if step else None,
            step_key=step.step_key if step else None,
            idempotency_key=step.idempotency_key if step else None,
        ),
    )


def notifier(
    channel: str, message_template: str, *, subject: str | None = None
) -> Task[[Any], None]:
    """A failure handler for ``on_failure=`` that sends ``message_template`` filled from the
    failure: ``{run_id}``, ``{flow_name}``, ``{step_key}``, ``{task_name}``, ``{error_type}``, ``{message}``,
    ``{traceback}``, ``{attempts}`` (``subject`` takes the same fields).

    The channel and the templates are checked now, when the flow is defined: an unknown
    channel, a missing secret or an unknown field raises ``DefinitionError`` here, as does a
    bad channel anywhere in settings.
    """
    configured_channels()
    target = resolve_channel(channel)
    _check_template(message_template, "message_template")
    if subject is not None:
        _check_template(subject, "subject")

    def handler(failure: Any) -> None:
        fields = {name: getattr(failure, name, None) for name in FAILURE_FIELDS}
        shown = {name: "" if value is None else value for name, value in fields.items()}
        notify(
            channel,
            message_template.format(**shown),
            subject=None if subject is None else subject.format(**shown),
            data={name: value for name, value in fields.items() if name != "traceback"},
        )

    handler.__name__ = handler.__qualname__ = "notify_failure"
    handler.__doc__ = f"Send a failure notification through {target.label()}."
    # A task itself, so the handler step has notify's retries (inside it, notify just sends).
    return task(name="notify", retries=RETRIES, retry_delay=RETRY_DELAY, retry_on=RETRY_ON)(handler)


def _check_template(template: str, option: str) -> None:
    if not isinstance(template, str):
        raise DefinitionError(f"notifier(): {option}={template!r} must be a string")
    try:
        names = {
            field.split(".")[0].split("[")[0]
            for _, field, _, _ in string.Formatter().parse(template)
            if field is not None
        }
    except ValueError as exc:
        raise DefinitionError(f"notifier(): {option} {template!r} is malformed: {exc}") from None
    unknown = sorted(names - set(FAILURE_FIELDS))
    if unknown:
        raise DefinitionError(
            f"notifier(): {option} {template!r} uses unknown field(s) {unknown} "
            "('' is a positional {}); use named fields among {list(FAILURE_FIELDS)}, "
            "e.g. 'run {run_id} failed at {step_key}: {error_type}: {message}'"
        )
