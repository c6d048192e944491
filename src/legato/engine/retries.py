"""Retry policy: which failures are retried and how long to wait before each retry.

``retries=N`` allows N retries after the first attempt. The delay before retry ``k``
(1-based) is ``retry_delay[k-1]`` (the list's last value repeats) times
``backoff ** (k-1)``, capped at ``max_retry_delay``, then spread by ``jitter``: a
fraction in [0, 1]; ``jitter=0.2`` picks uniformly within ±20% of the delay.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from legato.errors import DefinitionError, Permanent

RetryOn = tuple[type[BaseException], ...] | Callable[[BaseException], bool]


def to_seconds(value: float | int | timedelta, *, option: str, where: str) -> float:
    """``value`` (seconds or a timedelta) as seconds; ``DefinitionError`` naming ``option``
    and ``where`` unless it is a finite, non-negative duration."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise DefinitionError(
            f"{where}: {option}={value!r} must be seconds (a number) or a timedelta"
        )
    if not math.isfinite(seconds):
        raise DefinitionError(
            f"{where}: {option}={value!r} must be a finite number of seconds; for no limit "
            "leave it unset (None)"
        )
    if seconds < 0:
        raise DefinitionError(f"{where}: {option}={value!r} must not be negative")
    return seconds


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    retries: int = 0
    delays: tuple[float, ...] = (0.0,)
    backoff: float = 1.0
    max_delay: float | None = None
    jitter: float = 0.0
    retry_on: RetryOn = (Exception,)

    @classmethod
    def build(
        cls,
        *,
        where: str,
        retries: int,
        retry_delay: float | timedelta | Sequence[float | timedelta],
        backoff: float,
        max_retry_delay: float | timedelta | None,
        jitter: float,
        retry_on: type[BaseException] | Sequence[type[BaseException]] | Callable[..., bool],
    ) -> RetryPolicy:
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise DefinitionError(f"{where}: retries={retries!r} must be an integer >= 0")
        if isinstance(retry_delay, str | bytes):
            raise DefinitionError(f"{where}: retry_delay={retry_delay!r} must be seconds")
        if isinstance(retry_delay, Sequence):
            if not retry_delay:
                raise DefinitionError(f"{where}: retry_delay=[] needs at least one value")
            delays = tuple(to_seconds(d, option="retry_delay", where=where) for d in retry_delay)
        else:
            delays = (to_seconds(retry_delay, option="retry_delay", where=where),)
        if not isinstance(backoff, int | float) or not math.isfinite(backoff) or backoff < 1:
            raise DefinitionError(f"{where}: backoff={backoff!r} must be a number >= 1")
        cap = (
            None
            if max_retry_delay is None
            else to_seconds(max_retry_delay, option="max_retry_delay", where=where)
        )
        if not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
            raise DefinitionError(f"{where}: jitter={jitter!r} must be a fraction in [0, 1]")
        return cls(
            retries=retries,
            delays=delays,
            backoff=float(backoff),
            max_delay=cap,
            jitter=float(jitter),
            retry_on=_retry_on(retry_on, where),
        )

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """True when attempt number ``attempt`` (1-based) failed with ``exc`` and may retry."""
        if attempt > self.retries or isinstance(exc, Permanent):
            return False
        if isinstance(self.retry_on, tuple):
            return isinstance(exc, self.retry_on)
        return bool(self.retry_on(exc))

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = self.delays[min(retry, len(self.delays)) - 1]
        seconds = base * self.backoff ** (retry - 1)
        if self.max_delay is not None:
            seconds = min(seconds, self.max_delay)
        if self.jitter and seconds:
            seconds *= 1 + (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, seconds)


def policies_by_type(
    value: object, *, base: RetryPolicy, where: str
) -> tuple[tuple[type[BaseException], RetryPolicy], ...]:
    """``retry_policies={ConnectionError: 5, TimeoutError: {"retries": 2, ...}}``: per
    exception type, a number of retries or the retry options (others as the task's)."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise DefinitionError(
            f"{where}: retry_policies={value!r} must map exception types to a number of "
            "retries or a dict of retry options"
        )
    policies = []
    for kind, spec in value.items():
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise DefinitionError(f"{where}: retry_policies key {kind!r} is not an exception type")
        options = {"retries": spec} if isinstance(spec, int) else spec
        if not isinstance(options, dict):
            raise DefinitionError(
                f"{where}: retry_policies[{kind.__name__}]={spec!r} must be a number of "
                "retries or a dict of retry options"
            )
        unknown = set(options) - {"retries", "retry_delay", "backoff", "max_retry_delay", "jitter"}
        if unknown:
            raise DefinitionError(
                f"{where}: retry_policies[{kind.__name__}] has unknown option(s) {sorted(unknown)}"
            )
        policies.append(
            (
                kind,
                RetryPolicy.build(
                    where=f"{where} retry_policies[{kind.__name__}]",
                    retries=options.get("retries", base.retries),
                    retry_delay=options.get("retry_delay", list(base.delays)),
                    backoff=options.get("backoff", base.backoff),
                    max_retry_delay=options.get("max_retry_delay", base.max_delay),
                    jitter=options.get("jitter", base.jitter),
                    retry_on=kind,
                ),
            )
        )
    return tuple(policies)


def policy_for(
    exc: BaseException,
    base: RetryPolicy,
    by_type: tuple[tuple[type[BaseException], RetryPolicy], ...],
) -> RetryPolicy:
    """The policy for ``exc``: the most specific type in ``by_type``, else ``base``."""
    if by_type:
        table = dict(by_type)
        for kind in type(exc).__mro__:
            policy = table.get(kind)
            if policy is not None:
                return policy
    return base


def _retry_on(value: object, where: str) -> RetryOn:
    if isinstance(value, type) and issubclass(value, BaseException):
        return (value,)
    if isinstance(value, Sequence) and all(
        isinstance(t, type) and issubclass(t, BaseException) for t in value
    ):
        return tuple(value)
    if callable(value):
        return value
    raise DefinitionError(
        f"{where}: retry_on={value!r} must be an exception type, a list of them, "
        "or a predicate taking the exception"
    )
