"""Task bodies on a ``dask.distributed`` cluster; the orchestration stays in this process.

``DaskExecutor`` runs the engine's jobs (replay, retries, recording) on a local
``ThreadExecutor`` and ships only each attempt's body (the task's function with its
resolved arguments) to the cluster. Dask sends it with cloudpickle; the result comes back
and legato stores it with the task's serializer, as with any executor.

The Dask workers need legato and the flow's code importable, like any function run on
Dask. A local thread waits for each body while it runs remotely, so ``max_workers`` is
the number of bodies in flight on the cluster at once.

``dask`` is an optional extra (``pip install legato[dask]``): it is imported when a
``DaskExecutor`` is created, never by ``import legato``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from concurrent.futures import CancelledError, Future, InvalidStateError
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from legato.errors import ExecutorError
from legato.executors.threads import ThreadExecutor

if TYPE_CHECKING:
    from distributed import Client
    from distributed import Future as DaskFuture

DEFAULT_ADDRESS = "tcp://127.0.0.1:8786"


class DaskExecutor:
    """Run task bodies on the Dask scheduler at ``address``, or through ``client``.

    Raises ``ExecutorError`` when dask is not installed or the scheduler does not answer
    within ``connect_timeout``. A ``client`` passed in stays open on ``shutdown()``.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        client: Client | None = None,
        max_workers: int = 64,
        connect_timeout: timedelta = timedelta(seconds=5),
    ) -> None:
        if client is None:
            client = _connect(address, connect_timeout)
            self._owns_client = True
        else:
            address = client.scheduler.address
            self._owns_client = False
        self.address = address
        self.client = client
        self._local = ThreadExecutor(max_workers)

    def __repr__(self) -> str:
        return f"DaskExecutor(address={self.address!r})"

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        self._local.submit(fn, *args)

    def run_body(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, name: str
    ) -> Future[Any]:
        # One body, one key: the task name first, so the dashboard groups by task; never
        # pure, since a body may have side effects and a retry must run again.
        remote = self.client.submit(
            partial(fn, *args, **kwargs), key=f"{name}-{uuid4().hex}", pure=False
        )
        local: Future[Any] = Future()
        local.add_done_callback(lambda done: remote.cancel() if done.cancelled() else None)
        remote.add_done_callback(partial(_settle, local, self.address))
        return local

    def run_coroutine(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return self._local.run_coroutine(coro)

    def help(self) -> bool:
        return self._local.help()

    def shutdown(self) -> None:
        """Stop the local jobs once queued ones ran, and close the client if it is ours.

        Bodies still running on the cluster are dropped; their steps run again when the
        run is resumed.
        """
        self._local.shutdown()
        if self._owns_client:
            self.client.close()


def _connect(address: str, timeout: timedelta) -> Client:
    try:
        from distributed import Client
    except ImportError:
        raise ExecutorError(
            "DaskExecutor needs dask.distributed, which is not installed. "
            "Install it with `pip install 'legato[dask]'`."
        ) from None
    seconds = timeout.total_seconds()
    try:
        return Client(address, timeout=seconds, set_as_default=False)
    except OSError as exc:
        raise ExecutorError(
            f"cannot reach the Dask scheduler at {address} within {seconds:g}s ({exc}). "
            f"Start one with `dask scheduler` and workers with `dask worker {address}`, "
            "or fix the address."
        ) from None


def _settle(local: Future[Any], address: str, remote: DaskFuture) -> None:
    # Runs on Dask's callback thread once the body finished, failed or was dropped.
    if local.done():  # the attempt gave up (timeout): the late outcome is discarded
        return
    try:
        value = remote.result()
    except CancelledError:
        error: BaseException = ExecutorError(
            f"the Dask cluster at {address} dropped task {remote.key} before it finished "
            "(the scheduler restarted, or this client lost its connection). The attempt "
            "counts as failed and is retried if the task allows it."
        )
    except BaseException as exc:  # noqa: BLE001 - the body's own error, with its type
        error = exc
    else:
        try:
            local.set_result(value)
        except InvalidStateError:  # cancelled meanwhile
            pass
        return
    try:
        local.set_exception(error)
    except InvalidStateError:
        pass
