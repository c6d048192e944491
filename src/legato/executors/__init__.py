"""Where step bodies run: threads here (the default) or a Dask cluster."""

from __future__ import annotations

from urllib.parse import urlsplit

from legato.errors import ExecutorError
from legato.executors.base import Executor
from legato.executors.threads import ThreadExecutor

DEFAULT_THREADS = 16


def executor_from_url(url: str) -> Executor:
    """The executor a URL names: ``threads``, ``threads://N`` or ``dask://HOST:PORT``.

    Raises ``ExecutorError`` for any other URL, or when the Dask scheduler is unreachable.
    """
    if url == "threads":
        return ThreadExecutor(DEFAULT_THREADS)
    parts = urlsplit(url)
    if parts.scheme == "threads" and not parts.path and parts.netloc.isdigit():
        count = int(parts.netloc)
        if count >= 1:
            return ThreadExecutor(count)
    if parts.scheme == "dask" and parts.hostname and not parts.path.strip("/"):
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is not None:
            from legato.executors.dask import DaskExecutor

            return DaskExecutor(address=f"tcp://{parts.netloc}")
    raise ExecutorError(
        f"executor {url!r} is not one legato knows. Use 'threads', 'threads://N' (N worker "
        "threads, at least 1) or 'dask://HOST:PORT' (the address of a `dask scheduler`)."
    )
