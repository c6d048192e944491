"""A watched folder as a trigger: each file that arrives fires the deployment once,
when it is fully written.

A file is fully written when it was renamed into the folder (write it under a name the
pattern does not match, or a hidden ``.name``, then rename: seen by watchdog at once), or
when its size and modification time stayed the same for ``settle`` seconds. Its fire key
is ``file:<absolute path>:<size>:<mtime_ns>``, so a watcher that starts again (a new
scheduler process) and sees the same file hands ``emit`` the same key, which records
nothing new; a file rewritten later (new size or mtime) fires again. The payload holds
``path``, ``name``, ``size``, ``sha256`` and ``mtime`` (ISO UTC).

Files whose name starts with ``.`` are ignored (temporary names), as are sub-folders:
the pattern is a glob on file names in the folder itself.

Two ways to notice files: watchdog's native observer (inotify on Linux) or polling the
folder every ``poll_interval`` seconds (for network and other filesystems without
change notification). ``watch="auto"`` uses watchdog and falls back to polling when its
observer cannot start; the mode in use is in :attr:`FileArrivals.status`.

Drive it either way: call :meth:`FileArrivals.tick` from the scheduler's own loop, or
``start()`` / ``stop()`` it on a thread of its own. When its run completes, the scheduler
calls :meth:`FileArrivals.finished` to move the file to ``processed_dir`` (if set).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from legato.clock import utcnow
from legato.errors import ScheduleError
from legato.records import FireRecord
from legato.scheduler.sources.status import Emit, SourceStatus

Watch = Literal["auto", "watchdog", "poll"]
Signature = tuple[int, int]  # (size, mtime_ns)


@dataclass(slots=True)
class _Seen:
    signature: Signature
    since: datetime


class FileArrivals:
    """Fires ``deployment`` once per fully written file matching ``pattern`` in
    ``directory``; see the module docstring. Raises ``ScheduleError`` at once when the
    folder does not exist or ``settle`` is negative."""

    kind = "file"

    def __init__(
        self,
        directory: str | Path,
        pattern: str,
        deployment: str,
        emit: Emit,
        *,
        settle: float = 1.0,
        processed_dir: str | Path | None = None,
        watch: Watch = "auto",
        poll_interval: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        folder = Path(directory).expanduser()
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise ScheduleError(
                option="--on-file",
                text=str(directory),
                reason=f"the watched folder {what}; create it first or give an existing folder",
            )
        if settle < 0:
            raise ScheduleError(
                option="settle", text=str(settle), reason="must be 0 or more seconds"
            )
        if watch not in ("auto", "watchdog", "poll"):
            raise ScheduleError(
                option="watch", text=str(watch), reason="must be auto, watchdog or poll"
            )
        self.directory = folder.resolve()
        self.pattern = pattern
        self.deployment = deployment
        self.settle = settle
        self.processed_dir = (
            None if processed_dir is None else (self.directory / Path(processed_dir).expanduser())
        )
        self.poll_interval = poll_interval
        self._emit = emit
        self._clock = clock
        self._watch: Watch = watch
        self._mode: Literal["watchdog", "polling"] = "polling"
        self._seen: dict[Path, _Seen] = {}  # candidates not fired yet
        self._fired: dict[Path, Signature] = {}  # what fired, so a tick does not emit again
        self._changed: set[Path] = set()  # reported by watchdog since the last tick
        self._renamed: set[Path] = set()  # renamed into place: complete at once
        self._full_scan = True
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer: Any = None
        self._thread: threading.Thread | None = None
        self._status = SourceStatus(state="stopped", since=clock(), detail="polling")

    def __repr__(self) -> str:
        return f"FileArrivals({str(self.directory)!r}, {self.pattern!r}, {self.deployment!r})"

    @property
    def status(self) -> SourceStatus:
        """Started or stopped, the way files are noticed (``detail``), the last error."""
        with self._lock:
            return self._status

    # -- one tick -------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[FireRecord]:
        """Look at the candidate files once and fire those fully written; returns the
        fires (with their run ids). In polling mode (and on the first tick) the whole
        folder is scanned, otherwise only what watchdog reported and what is still
        settling. Raises what ``emit`` raises; a file whose ``emit`` failed is tried
        again on the next tick."""
        now = now or self._clock()
        with self._lock:
            scan = self._full_scan or self._mode == "polling"
            self._full_scan = False
            changed, self._changed = self._changed, set()
            renamed, self._renamed = self._renamed, set()
        if scan:
            present = {p for p in self.directory.iterdir() if self._matches(p.name)}
            for gone in set(self._fired) - present:
                del self._fired[gone]
            changed |= present
        fires = []
        for path in sorted(changed | set(self._seen) | renamed):
            signature = self._ready(path, now, renamed=path in renamed)
            if signature is not None:
                fire = self._fire(path, signature, now)
                if fire is not None:
                    fires.append(fire)
        return fires

    def _matches(self, name: str) -> bool:
        return not name.startswith(".") and fnmatch.fnmatchcase(name, self.pattern)

    def _ready(self, path: Path, now: datetime, *, renamed: bool) -> Signature | None:
        """The file's (size, mtime_ns) when it is complete and not fired yet, else None
        (and start or restart its settle time)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._seen.pop(path, None)
            self._fired.pop(path, None)
            return None
        if path.parent != self.directory or not self._matches(path.name) or not path.is_file():
            return None
        signature = (stat.st_size, stat.st_mtime_ns)
        if self._fired.get(path) == signature:
            return None
        seen = self._seen.get(path)
        if renamed or (
            seen
            and seen.signature == signature
            and (now - seen.since).total_seconds() >= self.settle
        ):
            return signature
        if seen is None or seen.signature != signature:
            self._seen[path] = _Seen(signature, now)
            if self.settle == 0:
                return signature
        return None

    def _fire(self, path: Path, signature: Signature, now: datetime) -> FireRecord | None:
        digest = hashlib.sha256()
        try:
            with path.open("rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    digest.update(chunk)
            stat = path.stat()
        except FileNotFoundError:
            self._seen.pop(path, None)
            return None
        if (stat.st_size, stat.st_mtime_ns) != signature:  # written to while we read it
            self._seen[path] = _Seen((stat.st_size, stat.st_mtime_ns), now)
            return None
        size, mtime_ns = signature
        payload = {
            "path": str(path),
            "name": path.name,
            "size": size,
            "sha256": digest.hexdigest(),
            "mtime": datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat(),
        }
        fire = FireRecord(
            deployment=self.deployment,
            key=f"file:{path}:{size}:{mtime_ns}",
            kind=self.kind,
            fired_at=now,
            payload=json.dumps(payload, separators=(",", ":")),
        )
        fire = replace(fire, run_id=self._emit(fire))
        self._seen.pop(path, None)
        self._fired[path] = signature
        return fire

    # -- after the run ----------------------------------------------------------------

    def finished(self, fire: FireRecord, state: str) -> Path | None:
        """Called by the scheduler when the run ``fire`` started ends in ``state``.
        With ``processed_dir`` set and the run ``completed``, moves the file there (a
        name already taken gets the run id added) and returns its new path; otherwise,
        or when the file is gone or was rewritten since it fired, leaves it and returns
        None. A failed run's file stays, to be looked at or fired again by hand."""
        if self.processed_dir is None or str(state) != "completed":
            return None
        facts = json.loads(fire.payload)
        path = Path(facts["path"])
        _, size, mtime_ns = fire.key.rsplit(":", 2)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        if (stat.st_size, stat.st_mtime_ns) != (int(size), int(mtime_ns)):
            return None
        self.processed_dir.mkdir(parents=True, exist_ok=True)
        target = self.processed_dir / path.name
        if target.exists():
            target = target.with_name(f"{path.stem}.{fire.run_id or 'run'}{path.suffix}")
        shutil.move(path, target)
        return target

    # -- its own loop ------------------------------------------------------------------

    def start(self) -> None:
        """Notice files (watchdog, or polling as chosen and as a fallback) and tick on a
        daemon thread until :meth:`stop`; returns at once."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._mode = "polling"
        error = None
        if self._watch != "poll":
            try:
                self._observer = self._start_observer()
                self._mode = "watchdog"
            except Exception as exc:  # no inotify, too many watches, watchdog missing
                if self._watch == "watchdog":
                    raise
                error = f"watchdog could not start ({type(exc).__name__}: {exc}); polling"
        with self._lock:
            self._full_scan = True
            self._status = SourceStatus(
                state="connected", since=self._clock(), detail=self._mode, last_error=error
            )
        self._thread = threading.Thread(
            target=self._loop, daemon=True, name=f"legato-files-{self.deployment}"
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop noticing files and wait up to ``timeout`` seconds for the loop."""
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            self._status = replace(self._status, state="stopped", since=self._clock())

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # emit failed (store away): keep the file, try again
                with self._lock:
                    message = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                    self._status = replace(self._status, last_error=message)
            waiting = bool(self._seen)
            wait = self.poll_interval if waiting or self._mode == "polling" else 5.0
            if waiting and self.settle:
                wait = min(wait, self.settle / 4)
            self._wake.wait(wait)
            self._wake.clear()

    def _start_observer(self) -> Any:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        arrivals = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory or event.event_type in ("opened", "closed_no_write"):
                    return
                with arrivals._lock:
                    arrivals._changed.add(Path(str(event.src_path)))
                    if event.event_type == "moved":
                        dest = Path(str(event.dest_path))
                        arrivals._changed.add(dest)
                        arrivals._renamed.add(dest)
                arrivals._wake.set()

        observer = Observer()
        observer.schedule(Handler(), str(self.directory), recursive=False)
        observer.start()
        return observer
