"""One step: resolve its inputs, consult the cache, run attempts with retries and
timeouts, and record each transition."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, wait
from concurrent.futures import wait as wait_futures
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from legato.clock import utcnow
from legato.engine.context import StepContext, cleaning_up, current_step
from legato.engine.failures import failure_of, run_handlers
from legato.engine.futures import StepFuture
from legato.engine.retries import policy_for
from legato.errors import (
    Cancelled,
    Permanent,
    ResultRejected,
    RunFailedError,
    SerializationError,
    StepTimeoutError,
)
from legato.records import CacheRecord, ErrorInfo, StepRecord
from legato.serialization import dumps, fingerprint, loads
from legato.states import StepState

if TYPE_CHECKING:
    from legato.engine.definitions import Task
    from legato.engine.runner import RunExecution


def execute_step(
    ex: RunExecution,
    task: Task[Any, Any],
    key: str,
    seq: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    prior: StepRecord | None,
    future: StepFuture[Any] | None = None,
) -> Any:
    """Run the step to completion or final failure; return its result or raise.

    Called by the flow's thread (``future`` None) the completion is durable when this
    returns. For a submitted step the completion is committed without waiting, and the
    ``future`` remembers what to wait for before anyone sees the result.
    """
    attempts = prior.attempts if prior is not None else 0
    if ex.lifecycle.replay_only and not cleaning_up.get():
        raise _not_replayable(ex, key, prior)
    if args or kwargs:
        try:
            args, kwargs = resolve_inputs(args, kwargs)
        except Exception as exc:
            upstream = getattr(exc, "__legato_step__", (None, "an upstream step"))[1]
            skipped = StepRecord(
                run_id=ex.run_id,
                key=key,
                seq=seq,
                task_name=task.name,
                state=StepState.SKIPPED,
                attempts=attempts,
                finished_at=utcnow(),
            )
            ex.record_step(skipped, message=f"not run: input from {upstream} failed", wait=False)
            raise
    cache_key = None if task.options.cache_key is None else _cache_key(task, args, kwargs)
    if cache_key is not None:
        hit = ex.store.get_cached(cache_key, now=utcnow())
        if hit is not None:
            now = utcnow()
            done = StepRecord(
                run_id=ex.run_id,
                key=key,
                seq=seq,
                task_name=task.name,
                state=StepState.COMPLETED,
                attempts=attempts,
                started_at=now,
                finished_at=now,
                result=hit.result,
                serializer=hit.serializer,
                cached=True,
            )
            ex.record_step(done, message="result from cache", wait=True)
            value = loads(hit.result, hit.serializer)
            ex.completed(task, key, value)
            return value
    return _attempts(ex, task, key, seq, prior, args, kwargs, cache_key, future)


def _attempts(
    ex: RunExecution,
    task: Task[Any, Any],
    key: str,
    seq: int,
    prior: StepRecord | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cache_key: str | None,
    future: StepFuture[Any] | None,
) -> Any:
    """The attempt loop, continuing from ``prior`` (the step as recorded before this
    execution: a crash, a resume, a retried run).

    Attempts are numbered across executions. The retry budget (``retries=N``) is kept in
    the step record: a crash, even during a backoff, neither resets it nor skips the rest
    of the backoff (``retry_at``). A step that failed for good starts a fresh budget when
    its run is retried. An attempt cut short by a crash did not fail: it runs again
    without using a retry (its body runs at least once).
    """
    options = task.options
    run_id = ex.run_id
    started_at = utcnow()
    attempt = prior.attempts if prior is not None else 0
    failed_before = prior is not None and prior.state is StepState.FAILED
    used = prior.retries_used if prior is not None and not failed_before else 0
    retry_at = prior.retry_at if prior is not None and prior.state is StepState.RETRYING else None
    while True:
        attempt += 1
        running = StepRecord(
            run_id=run_id,
            key=key,
            seq=seq,
            task_name=task.name,
            state=StepState.RUNNING,
            attempts=attempt,
            started_at=started_at,
            retries_used=used,
        )
        try:
            if retry_at is not None:
                _wait_for_retry(ex, retry_at)  # the rest of a backoff a crash cut short
                retry_at = None
            ex.check_live()
        except Cancelled:
            ex.record_step(replace(running, state=StepState.CANCELLED), wait=True)
            raise
        ex.record_step(running, wait=False)
        try:
            value = _invoke(ex, task, key, attempt, args, kwargs)
            if options.retry_on_result is not None and options.retry_on_result(value):
                raise ResultRejected(
                    f"task {task.name!r} returned {value!r}, which its retry_on_result rejected"
                )
            payload = dumps(value, options.serializer)
        except Cancelled:
            ex.record_step(
                replace(running, state=StepState.CANCELLED, finished_at=utcnow()), wait=True
            )
            raise
        except Exception as exc:
            info = error_info(exc, task_name=task.name)
            retry = used + 1
            if _retryable(options, exc, retry):
                delay = policy_for(exc, options.retry, options.retry_policies).delay(retry)
                used = retry
                # Durable before the backoff starts: a crash in it keeps budget and wait.
                ex.record_step(
                    replace(
                        running,
                        state=StepState.RETRYING,
                        error=info,
                        retries_used=used,
                        retry_at=utcnow() + timedelta(seconds=delay),
                    ),
                    message=f"attempt {attempt} failed ({info.summary()}); "
                    f"retrying in {delay:.3g}s",
                    wait=True,
                )
                try:
                    ex.sleep(delay)
                except Cancelled:
                    ex.record_step(replace(running, state=StepState.CANCELLED), wait=True)
                    raise
                continue
            failed = replace(running, state=StepState.FAILED, error=info, finished_at=utcnow())
            ex.record_step(failed, message=info.summary(), wait=True)
            if options.on_failure:
                failure = failure_of(ex, exc, step_key=key, task_name=task.name, attempts=attempt)
                run_handlers(ex, options.on_failure, failure, key_prefix=key, original=exc)
            raise annotate(exc, run_id, key) from None
        finished_at = utcnow()
        done = StepRecord(
            run_id=run_id,
            key=key,
            seq=seq,
            task_name=task.name,
            state=StepState.COMPLETED,
            attempts=attempt,
            started_at=started_at,
            finished_at=finished_at,
            result=payload,
            serializer=options.serializer,
        )
        ex.completed(task, key, value)
        if cache_key is None:
            if future is None:
                ex.record_step(done, wait=True)
            else:
                future.durable_at = ex.record_step(done, wait=False, kick=True)
        else:
            ttl = options.cache_ttl
            entry = CacheRecord(
                cache_key=cache_key,
                task_name=task.name,
                result=payload,
                serializer=options.serializer,
                created_at=finished_at,
                expires_at=None if ttl is None else finished_at + ttl,
            )
            ex.record_step(done, extra=(entry,), wait=True)
        return value


def _wait_for_retry(ex: RunExecution, retry_at: datetime) -> None:
    """Sleep until ``retry_at`` (a cancel wakes it early, raising ``Cancelled``)."""
    remaining = (retry_at - utcnow()).total_seconds()
    if remaining > 0:
        ex.sleep(remaining)


def _retryable(options: Any, exc: Exception, retry: int) -> bool:
    if isinstance(exc, SerializationError):
        return False
    if isinstance(exc, ResultRejected):
        return bool(retry <= options.retry.retries)
    if options.retry_policies:
        policy = policy_for(exc, options.retry, options.retry_policies)
        if policy is not options.retry:
            return not isinstance(exc, Permanent) and retry <= policy.retries
    return bool(options.retry.should_retry(exc, retry))


def _not_replayable(ex: RunExecution, key: str, prior: StepRecord | None) -> BaseException:
    """The error to meet again when replaying a run that was unwinding after a failure:
    the step's recorded error, or the run's failure if the step never ran."""
    error = prior.error if prior is not None else None
    if error is None:
        return RunFailedError(ex.run_id, "legato.RunFailedError", f"step {key} did not complete")
    return RunFailedError(ex.run_id, error.type, error.message)


def _invoke(
    ex: RunExecution,
    task: Task[Any, Any],
    key: str,
    attempt: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    context = StepContext(ex.run_id, ex.flow_name, key, task.name, attempt)
    timeout = task.options.timeout
    run_body = getattr(ex.executor, "run_body", None)  # a RemoteExecutor (Dask)
    if run_body is not None:
        return _run_remote(run_body, task, context, args, kwargs, timeout)
    if task.is_async:
        future = ex.executor.run_coroutine(_run_async(task, context, args, kwargs, timeout))
        # A body that ignores its cancellation is not waited for past the grace period.
        give_up = time.monotonic() + (timeout or 0.0) + ASYNC_GRACE
        # Look for a cancel while the coroutine runs: a cancelled run cancels it.
        while not wait_futures([future], timeout=ex.cancel_poll_seconds).done:
            try:
                ex.check_live(poll=True)
            except Cancelled:
                future.cancel()
                raise
            if timeout is not None and time.monotonic() >= give_up:
                future.cancel()
                raise _timeout_error(task, context, timeout)
        return future.result()
    if timeout is None:
        token = current_step.set(context)
        try:
            return task.fn(*args, **kwargs)
        finally:
            current_step.reset(token)
    return _run_with_timeout(task, context, args, kwargs, timeout)


def _run_remote(
    run_body: Callable[..., Future[Any]],
    task: Task[Any, Any],
    context: StepContext,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    # Only the body leaves the process: the attempt waits here, so timeouts, retries and
    # recording work as with local threads.
    future = run_body(partial(_call_in_step, context, task.fn), args, kwargs, name=task.name)
    if timeout is not None and not wait((future,), timeout).done:
        future.cancel()
        raise _timeout_error(task, context, timeout)
    return future.result()


def _call_in_step(context: StepContext, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a body where it was shipped to, with ``get_run_context()`` answering there too."""
    token = current_step.set(context)
    try:
        value = fn(*args, **kwargs)
        if inspect.iscoroutine(value):  # an async body gets an event loop of its own
            value = asyncio.run(value)
        return value
    finally:
        current_step.reset(token)


async def _run_async(
    task: Task[Any, Any],
    context: StepContext,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    current_step.set(context)  # this asyncio task has its own context copy
    if timeout is None:
        return await task.fn(*args, **kwargs)
    try:
        async with asyncio.timeout(timeout) as scope:
            value = await task.fn(*args, **kwargs)
    except TimeoutError:
        if not scope.expired():
            raise  # the body's own TimeoutError
        raise _timeout_error(task, context, timeout) from None
    if scope.expired():
        # The body swallowed its cancellation and returned anyway: the attempt timed out,
        # and its late result is discarded, as a sync body's is.
        raise _timeout_error(task, context, timeout)
    return value


ASYNC_GRACE = 1.0  # seconds a timed-out async body gets to end before it is abandoned


def _run_with_timeout(
    task: Task[Any, Any],
    context: StepContext,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float,
) -> Any:
    # A sync body cannot be interrupted: it runs on its own daemon thread, and when the
    # deadline passes the attempt fails while the body's late result is discarded.
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def body() -> None:
        current_step.set(context)
        try:
            outcome["value"] = task.fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=body, name=f"legato-{context.step_key}", daemon=True).start()
    if not finished.wait(timeout):
        raise _timeout_error(task, context, timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _timeout_error(task: Task[Any, Any], context: StepContext, timeout: float) -> StepTimeoutError:
    return StepTimeoutError(
        f"task {task.name!r} attempt {context.attempt} ran longer than its timeout of "
        f"{timeout:g}s. Raise the task's timeout= or make the work faster"
    )


def resolve_inputs(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Replace futures (also inside lists, tuples and dicts) by their results."""
    for value in args:
        if _has_future(value):
            break
    else:
        for value in kwargs.values():
            if _has_future(value):
                break
        else:
            return args, kwargs
    return tuple(_resolve(a) for a in args), {k: _resolve(v) for k, v in kwargs.items()}


def futures_in(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[StepFuture[Any]]:
    found: list[StepFuture[Any]] = []
    for value in (*args, *kwargs.values()):
        _collect(value, found)
    return found


def _collect(value: Any, found: list[StepFuture[Any]]) -> None:
    if isinstance(value, StepFuture):
        found.append(value)
    elif type(value) in (list, tuple, set, frozenset):
        for item in value:
            _collect(item, found)
    elif type(value) is dict:
        for item in value.values():
            _collect(item, found)


_SCALARS = frozenset({int, str, float, bool, type(None), bytes})


def _has_future(value: Any) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return False
    if kind is StepFuture:
        return True
    if kind in (list, tuple, set, frozenset):
        return any(_has_future(item) for item in value)
    if kind is dict:
        return any(_has_future(item) for item in value.values())
    return False


def _resolve(value: Any) -> Any:
    if isinstance(value, StepFuture):
        return value.result()
    kind = type(value)
    if kind in (list, tuple, set, frozenset):
        return kind(_resolve(item) for item in value)
    if kind is dict:
        return {k: _resolve(v) for k, v in value.items()}
    return value


def _cache_key(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    chosen = task.options.cache_key
    if chosen == "inputs":
        bound = task.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return f"{task.name}:{fingerprint(dict(bound.arguments))}"
    return f"{task.name}:{chosen(*args, **kwargs)}"  # type: ignore[misc,operator]


def error_info(exc: BaseException, *, task_name: str | None = None) -> ErrorInfo:
    kind = type(exc)
    message = str(exc)
    if isinstance(exc, SerializationError) and task_name and task_name not in message:
        message = f"result of task {task_name!r}: {message}"
    return ErrorInfo(
        type=f"{kind.__module__}.{kind.__qualname__}",
        message=message,
        traceback="".join(traceback.format_exception(exc)),
    )


def annotate(exc: BaseException, run_id: str, step_key: str) -> BaseException:
    """Extend the exception's message with where it happened, once, keeping its type."""
    if getattr(exc, "__legato_step__", None) is None:
        try:
            object.__setattr__(exc, "__legato_step__", (run_id, step_key))
        except AttributeError:
            return exc
        where = f"(run {run_id}, step {step_key})"
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (f"{exc.args[0]} {where}", *exc.args[1:])
        else:
            exc.add_note(f"legato: raised in {where}")
    return exc
