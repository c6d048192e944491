"""Every error legato raises on purpose.

    LegatoError
    ├── DefinitionError        a flow or task is declared wrongly (bad option, not a function)
    │   ├── OptionError        an option of a task or flow has a value it cannot take
    │   ├── ExpressionError    a filter or condition does not parse (with its column)
    │   └── ScheduleError      a cron expression, time zone or interval cannot be used
    ├── UsageError             an API is called where or how it cannot work (outside a flow,
    │                          a bad argument)
    ├── ParameterError         a run's parameters are missing, unknown or ill-typed
    ├── SerializationError     a parameter or result cannot be stored
    ├── NonDeterminismError    a replay meets a different task at a recorded step
    ├── StoreError             the store cannot be opened, read or written
    │   ├── RunNotFoundError   no run with that id
    │   └── LeaseLostError     another worker took the run over; this one must stop
    ├── IdempotencyConflictError  an idempotency key reused with other parameters
    ├── RunStateError          the run is not in a state that allows the action
    ├── RunFailedError         a run failed where its exception object is not at hand
    ├── ExecutorError          an executor cannot start or reach its workers (a Dask scheduler)
    ├── NotificationError      a notification channel did not accept a message (retried)
    ├── StepTimeoutError       an attempt ran past its task's timeout (retried like any error)
    ├── FlowTimeoutError       a run ran past its flow's timeout
    ├── WaitTimeout            a durable wait ran out of time and had no default
    ├── Cancelled              the run was cancelled (also an asyncio-style control signal)
    ├── ResultRejected         a result its task's retry_on_result rejected (retried)
    ├── InputError             an answer that cannot be taken (not waited for, invalid, late)
    ├── InputRejected          the person asked by wait_for_input rejected
    └── Permanent              raise it (or subclass it) from a task to skip the remaining retries

A task's own exception is re-raised to the flow's caller with its original type; legato
only extends its message with the run id and step key (see ``engine.steps``).
"""

from __future__ import annotations


class LegatoError(Exception):
    """Base class of every error legato raises on purpose."""


class DefinitionError(LegatoError, TypeError):
    """A flow or task is declared wrongly: say what, where, and how to fix it."""


class OptionError(DefinitionError):
    """An option of a task or flow has a value it cannot take.

    Carries the ``option`` (``retries``, ``retry_policies[ValueError].jitter``), the
    ``value`` given, what is ``allowed``, and ``where`` it was given (``@task on fetch
    (etl.py:12)``, ``flows.yaml:14``; empty when not known yet). ``shown`` replaces the
    value in the message when it may hold a secret (a store URL's password).
    """

    def __init__(
        self,
        *,
        option: str,
        value: object,
        allowed: str,
        where: str = "",
        shown: str | None = None,
    ) -> None:
        self.option = option
        self.value = value
        self.allowed = allowed
        self.where = where
        self.shown = shown
        prefix = f"{where}: " if where else ""
        text = shown if shown is not None else repr(value)
        super().__init__(f"{prefix}{option}={text} {allowed}")

    def at(self, where: str) -> OptionError:
        """The same error given at ``where``."""
        return OptionError(
            option=self.option,
            value=self.value,
            allowed=self.allowed,
            where=where,
            shown=self.shown,
        )


class ExpressionError(DefinitionError):
    """A filter or condition expression does not parse or uses what is not allowed."""

    def __init__(self, *, text: str, where: str, column: int, reason: str) -> None:
        self.text = text
        self.where = where
        self.column = column
        self.reason = reason
        pointer = " " * (column - 1) + "^"
        super().__init__(
            f"{where}: {reason} at column {column}:\n    {text}\n    {pointer}\n"
            "Write comparisons of payload fields with literals, joined by and/or/not, e.g. "
            'severity == "CRITICAL" and service in ["db", "api"]'
        )


class ScheduleError(DefinitionError):
    """A trigger definition that cannot be used: a cron expression, time zone, interval,
    filter, folder, webhook path or stream URL; ``option`` names what was given."""

    def __init__(self, *, option: str, text: str, reason: str, column: int | None = None) -> None:
        self.option = option
        self.text = text
        self.column = column
        where = f" at column {column}" if column else ""
        pointer = f"\n    {text}\n    {' ' * ((column or 1) - 1)}^" if column else ""
        super().__init__(f"{option} {text!r}: {reason}{where}{pointer}")


class UsageError(LegatoError, ValueError):
    """A legato function was called where or how it cannot work: a wait outside a running
    flow, a malformed argument. The message says what to call instead."""


class ParameterError(LegatoError, ValueError):
    """A run's parameters do not fit the flow's signature, or the iterables given to
    ``task.map`` differ in length. Nothing was written or submitted."""


class SerializationError(LegatoError, TypeError):
    """A value cannot be stored with the chosen serializer."""


class StoreError(LegatoError):
    """The store cannot be opened, read or written."""


class RunNotFoundError(StoreError, LookupError):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"no run with id {run_id!r} in this store. List runs with `legato runs list`, "
            "and check that --db / LEGATO_DB points at the store the run was started on."
        )


class LeaseLostError(StoreError):
    """A write was fenced off: the run's lease now belongs to another claim."""

    def __init__(self, run_id: str, epoch: int) -> None:
        self.run_id = run_id
        self.epoch = epoch
        super().__init__(
            f"run {run_id}: this process's lease (epoch {epoch}) was taken over by another "
            "worker after it expired; nothing more is recorded from here. The other worker "
            "resumes the run by replay. If this happens often, raise the worker's --lease."
        )


class IdempotencyConflictError(LegatoError):
    def __init__(self, *, key: str, run_id: str, existing: str, given: str) -> None:
        self.key = key
        self.run_id = run_id
        super().__init__(
            f"idempotency key {key!r} already belongs to run {run_id} with parameters "
            f"{existing}, not {given}. Use another key for different parameters, or the "
            "same parameters to get that run back."
        )


class RunStateError(LegatoError):
    """The run's state does not allow the requested action."""


class NonDeterminismError(LegatoError):
    def __init__(self, *, run_id: str, step_key: str, expected: str, found: str) -> None:
        self.run_id = run_id
        self.step_key = step_key
        self.expected = expected
        self.found = found
        super().__init__(
            f"run {run_id}: step {step_key} was recorded as task {expected!r} but the flow "
            f"now calls {found!r}. The flow's code changed since the run started (or it "
            "branches on something that is not a step, such as the time). The run fails: "
            "restore the code it started with, then `legato runs retry "
            f"{run_id}` (completed steps keep their results); or start a new run."
        )


class StepTimeoutError(LegatoError, TimeoutError):
    """An attempt of a task ran longer than its ``timeout``; retries apply."""


class FlowTimeoutError(LegatoError, TimeoutError):
    """A run ran longer than its flow's ``timeout``."""


class WaitTimeout(LegatoError, TimeoutError):
    """A wait (``wait_for_event``) reached its timeout with no default given."""


class Cancelled(LegatoError):
    """The run was cancelled; ``except Cancelled`` handlers and ``finally`` blocks run."""


class ResultRejected(LegatoError):
    """A task's result was rejected by its ``retry_on_result``; retried like a failure."""


class Permanent(LegatoError):
    """Raise (or subclass) this in a task to fail at once without further retries."""


class RunFailedError(LegatoError):
    """A run failed in another process (or earlier); carries the stored error."""

    def __init__(self, run_id: str, error_type: str, message: str) -> None:
        self.run_id = run_id
        self.error_type = error_type
        super().__init__(
            f"run {run_id} failed with {error_type}: {message}. "
            f"See `legato runs show {run_id}` for the failing step and its traceback."
        )


class ExecutorError(LegatoError):
    """An executor cannot start, or cannot reach where it runs task bodies."""


class NotificationError(LegatoError):
    """A notification channel did not take a message; the message names the channel with
    its secrets hidden. Raised inside the ``notify`` step, so its retries apply."""


class InputError(LegatoError):
    """An answer that cannot be taken: not waited for, invalid, not allowed, or late."""


class InputRejected(LegatoError):
    """The person asked (``wait_for_input``) rejected; carries who and why."""

    def __init__(self, *, run_id: str, name: str, reason: str, by: str | None) -> None:
        self.run_id = run_id
        self.name = name
        self.reason = reason
        self.by = by
        super().__init__(
            f"run {run_id}: input {name!r} was rejected by {by or 'someone'}: {reason}"
        )
