"""Retry policy: which failures are retried and how long to wait before each retry.

``retries=N`` allows N retries after the first attempt. The delay before retry ``k``
(1-based) is ``retry_delay[k-1]`` (the list's last value repeats) times
``backoff ** (k-1)``, capped at ``max_retry_delay``, then spread by ``jitter``: a
fraction in [0, 1]; ``jitter=0.2`` picks uniformly within ±20% of the delay.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from legato.errors import OptionError, Permanent

RetryOn = tuple[type[BaseException], ...] | Callable[[BaseException], bool]


def to_seconds(value: object, *, option: str, where: str = "") -> float:
    """``value`` (seconds or a timedelta) as seconds; ``OptionError`` naming ``option``
    and ``where`` unless it is a finite, non-negative duration."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise OptionError(
            option=option,
            value=value,
            allowed="must be seconds (a number) or a timedelta",
            where=where,
        )
    if not math.isfinite(seconds):
        raise OptionError(
            option=option,
            value=value,
            allowed="must be a finite number of seconds; for no limit leave it unset (None)",
            where=where,
        )
    if seconds < 0:
        raise OptionError(option=option, value=value, allowed="must not be negative", where=where)
    return seconds


def check_count(value: object, *, option: str) -> int:
    """``value`` if it is an integer >= 0 (not a bool); else ``OptionError``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise OptionError(option=option, value=value, allowed="must be an integer >= 0, e.g. 3")
    return value


def _delays(value: object) -> tuple[float, ...]:
    if isinstance(value, str | bytes):
        raise OptionError(
            option="retry_delay",
            value=value,
            allowed="must be seconds, a timedelta or a list of them, e.g. [1, 5, 30]",
        )
    if isinstance(value, Sequence):
        if not value:
            raise OptionError(
                option="retry_delay",
                value=value,
                allowed="needs at least one value, e.g. [1, 5, 30]; for no delay use 0",
            )
        return tuple(to_seconds(each, option="retry_delay") for each in value)
    return (to_seconds(value, option="retry_delay"),)


def _backoff(value: object) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 1
    ):
        raise OptionError(
            option="backoff",
            value=value,
            allowed="must be a finite number >= 1 (1 keeps delays as given, 2 doubles them)",
        )
    return float(value)


def _jitter(value: object) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise OptionError(
            option="jitter",
            value=value,
            allowed="must be a fraction in [0, 1], e.g. 0.2 for delays within ±20%",
        )
    return float(value)


def _is_exception_type(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


def _retry_on(value: object) -> RetryOn:
    if _is_exception_type(value):
        return (value,)  # type: ignore[return-value]  # checked just above
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if value and all(_is_exception_type(each) for each in value):
            return tuple(value)
    elif callable(value) and not isinstance(value, type):
        return value  # a predicate of the exception
    raise OptionError(
        option="retry_on",
        value=value,
        allowed="must be an exception type, a non-empty list of them, or a predicate "
        "taking the exception and returning True to retry",
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """Which failures are retried and the delays between attempts.

    Construction checks and normalizes every field (``delays`` may be given as seconds,
    a timedelta or a list of them; ``retry_on`` as one exception type) and raises
    ``OptionError`` named after the task option (``retry_delay``, ``max_retry_delay``)."""

    retries: int = 0
    delays: tuple[float, ...] = (0.0,)
    backoff: float = 1.0
    max_delay: float | None = None
    jitter: float = 0.0
    retry_on: RetryOn = (Exception,)

    def __post_init__(self) -> None:
        cap = self.max_delay
        checked = {
            "retries": check_count(self.retries, option="retries"),
            "delays": _delays(self.delays),
            "backoff": _backoff(self.backoff),
            "max_delay": None if cap is None else to_seconds(cap, option="max_retry_delay"),
            "jitter": _jitter(self.jitter),
            "retry_on": _retry_on(self.retry_on),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

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
        """The policy from the task options' names; errors say ``where`` they were given."""
        try:
            return cls(
                retries=retries,
                delays=retry_delay,  # type: ignore[arg-type]  # normalized on construction
                backoff=backoff,
                max_delay=max_retry_delay,  # type: ignore[arg-type]
                jitter=jitter,
                retry_on=retry_on,  # type: ignore[arg-type]
            )
        except OptionError as exc:
            raise exc.at(where) from None

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


POLICY_OPTIONS = ("retries", "retry_delay", "backoff", "max_retry_delay", "jitter")


def policies_by_type(
    value: object, *, base: RetryPolicy
) -> tuple[tuple[type[BaseException], RetryPolicy], ...]:
    """``retry_policies={ConnectionError: 5, TimeoutError: {"retries": 2, ...}}``: per
    exception type, a number of retries, the retry options (others as ``base``) or a
    ``RetryPolicy``. Also takes its own result (pairs of type and policy) unchanged.
    ``OptionError`` names the entry and option that cannot be taken."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        pairs: list[Any] = list(value.items())
    elif isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        pairs = list(value)
    else:
        raise OptionError(
            option="retry_policies",
            value=value,
            allowed="must map exception types to a number of retries or a dict of retry "
            f"options ({', '.join(POLICY_OPTIONS)}), e.g. {{ConnectionError: 5}}",
        )
    return tuple((_policy_type(kind), _policy_of(kind, spec, base)) for kind, spec in pairs)


def _policy_type(kind: object) -> type[BaseException]:
    if not _is_exception_type(kind):
        raise OptionError(
            option="retry_policies",
            value=kind,
            allowed="is not an exception type; use the class itself, e.g. ConnectionError",
        )
    return kind  # type: ignore[return-value]  # checked just above


def _policy_of(kind: type[BaseException], spec: object, base: RetryPolicy) -> RetryPolicy:
    entry = f"retry_policies[{kind.__name__}]"
    if isinstance(spec, RetryPolicy):
        return spec
    options = {"retries": spec} if isinstance(spec, int) and not isinstance(spec, bool) else spec
    if not isinstance(options, Mapping):
        raise OptionError(
            option=entry,
            value=spec,
            allowed="must be a number of retries or a dict of retry options "
            f"({', '.join(POLICY_OPTIONS)})",
        )
    unknown = sorted(set(options) - set(POLICY_OPTIONS))
    if unknown:
        raise OptionError(
            option=entry,
            value=dict(options),
            allowed=f"has unknown option(s) {unknown}; it takes {list(POLICY_OPTIONS)}",
        )
    try:
        return RetryPolicy(
            retries=options.get("retries", base.retries),
            delays=options.get("retry_delay", base.delays),
            backoff=options.get("backoff", base.backoff),
            max_delay=options.get("max_retry_delay", base.max_delay),
            jitter=options.get("jitter", base.jitter),
            retry_on=(kind,),
        )
    except OptionError as exc:
        raise OptionError(
            option=f"{entry}.{exc.option}", value=exc.value, allowed=exc.allowed
        ) from None


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
