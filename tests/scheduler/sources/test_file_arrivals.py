"""FileArrivals on real files in a real folder, with watchdog (inotify) and polling."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import eventually
from source_recorder import Recorder

from legato.errors import ScheduleError
from legato.scheduler.sources.file_arrivals import FileArrivals

MODES = ["watchdog", "poll"]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def started(inbox: Path, recorder: Recorder, mode: str, **options: object) -> FileArrivals:
    options = {"settle": 0.3, "poll_interval": 0.05, **options}
    arrivals = FileArrivals(inbox, "*.csv", "ingest", recorder, watch=mode, **options)  # type: ignore[arg-type]
    arrivals.start()
    return arrivals


@pytest.mark.parametrize("mode", MODES)
def test_a_file_written_at_once_fires_once_with_its_facts(
    inbox: Path, recorder: Recorder, mode: str
) -> None:
    arrivals = started(inbox, recorder, mode)
    try:
        (inbox / "a.csv").write_bytes(b"x,y\n1,2\n")
        (inbox / "notes.txt").write_text("not matched")
        eventually(lambda: recorder.keys(), what="the fire")
        time.sleep(1.0)  # more ticks: none of them fires again
    finally:
        arrivals.stop()
    stat = (inbox / "a.csv").stat()
    assert recorder.calls() == [f"file:{inbox / 'a.csv'}:8:{stat.st_mtime_ns}"]
    (payload,) = recorder.payloads()
    assert payload["path"] == str(inbox / "a.csv") and payload["name"] == "a.csv"
    assert payload["size"] == 8
    assert payload["sha256"] == hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    mtime = datetime.fromisoformat(payload["mtime"])
    assert abs(mtime - datetime.fromtimestamp(stat.st_mtime, UTC)) < timedelta(seconds=1)


@pytest.mark.parametrize("mode", MODES)
def test_a_file_written_slowly_fires_once_after_it_is_complete(
    inbox: Path, recorder: Recorder, mode: str
) -> None:
    arrivals = started(inbox, recorder, mode, settle=1.0)
    chunks = [bytes([65 + n]) * 1000 for n in range(5)]
    try:
        with (inbox / "big.csv").open("wb") as file:
            for chunk in chunks:  # 5 chunks, 0.5 s apart: never stable for 1 s
                assert recorder.calls() == [], "fired before the file was complete"
                file.write(chunk)
                file.flush()
                time.sleep(0.5)
        eventually(lambda: recorder.keys(), what="the fire")
        time.sleep(1.0)
    finally:
        arrivals.stop()
    assert len(recorder.calls()) == 1
    (payload,) = recorder.payloads()
    assert payload["size"] == 5000
    assert payload["sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()


@pytest.mark.parametrize("mode", MODES)
def test_a_file_renamed_into_place_fires_once(inbox: Path, recorder: Recorder, mode: str) -> None:
    # With watchdog the rename itself says the file is complete: no settle wait at all.
    settle = 3600.0 if mode == "watchdog" else 0.3
    arrivals = started(inbox, recorder, mode, settle=settle)
    try:
        temp = inbox / ".report.csv.part"  # hidden: ignored while it is written
        temp.write_bytes(b"a")
        time.sleep(0.5)
        temp.write_bytes(b"complete report")
        temp.rename(inbox / "report.csv")
        eventually(lambda: recorder.keys(), what="the fire")
        time.sleep(0.5)
    finally:
        arrivals.stop()
    assert len(recorder.calls()) == 1
    assert recorder.payloads()[0]["name"] == "report.csv"
    assert recorder.payloads()[0]["size"] == len(b"complete report")


@pytest.mark.parametrize("mode", MODES)
def test_a_restarted_watcher_records_nothing_new_for_a_file_that_fired(
    inbox: Path, recorder: Recorder, mode: str
) -> None:
    (inbox / "a.csv").write_text("1")
    first = started(inbox, recorder, mode)
    try:
        eventually(lambda: recorder.keys(), what="the first fire")
    finally:
        first.stop()
    second = started(inbox, recorder, mode)  # a new scheduler process, same store
    try:
        eventually(lambda: len(recorder.calls()) == 2, what="the file to be seen again")
        (inbox / "b.csv").write_text("2")
        eventually(lambda: len(recorder.keys()) == 2, what="the new file's fire")
    finally:
        second.stop()
    assert [Path(p["path"]).name for p in recorder.payloads()] == ["a.csv", "b.csv"]


def test_a_rewritten_file_fires_again(inbox: Path, recorder: Recorder) -> None:
    arrivals = started(inbox, recorder, "poll")
    try:
        (inbox / "a.csv").write_text("v1")
        eventually(lambda: len(recorder.keys()) == 1, what="the first fire")
        (inbox / "a.csv").write_text("version 2")
        eventually(lambda: len(recorder.keys()) == 2, what="the second fire")
    finally:
        arrivals.stop()
    assert [p["size"] for p in recorder.payloads()] == [2, 9]


def test_settle_time_is_measured_on_the_given_clock(inbox: Path, recorder: Recorder) -> None:
    arrivals = FileArrivals(inbox, "*.csv", "ingest", recorder, settle=10, watch="poll")
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    (inbox / "a.csv").write_text("data")
    assert arrivals.tick(t0) == []
    assert arrivals.tick(t0 + timedelta(seconds=9.9)) == []
    (fire,) = arrivals.tick(t0 + timedelta(seconds=10))
    assert (
        fire.kind == "file"
        and fire.deployment == "ingest"
        and fire.fired_at == t0 + timedelta(seconds=10)
    )
    assert fire.run_id == recorder(fire)  # the run emit returned
    assert arrivals.tick(t0 + timedelta(seconds=60)) == []


def test_a_completed_run_moves_its_file_to_processed_and_a_failed_one_leaves_it(
    inbox: Path, recorder: Recorder
) -> None:
    arrivals = FileArrivals(
        inbox, "*.csv", "ingest", recorder, settle=0, watch="poll", processed_dir="processed"
    )
    (inbox / "ok.csv").write_text("1")
    (inbox / "bad.csv").write_text("2")
    bad, ok = arrivals.tick()
    assert arrivals.finished(bad, "failed") is None
    moved = arrivals.finished(ok, "completed")
    assert moved == inbox / "processed" / "ok.csv" and moved.read_text() == "1"
    assert sorted(p.name for p in inbox.iterdir()) == ["bad.csv", "processed"]
    assert arrivals.tick() == []  # the processed folder is not watched


def test_a_missing_watched_folder_is_refused_naming_it(tmp_path: Path, recorder: Recorder) -> None:
    with pytest.raises(ScheduleError) as caught:
        FileArrivals(tmp_path / "nowhere", "*.csv", "ingest", recorder)
    assert str(tmp_path / "nowhere") in str(caught.value)
    assert "--on-file" in str(caught.value) and "does not exist" in str(caught.value)


FALLBACK = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from source_recorder import Recorder
from legato.scheduler.sources.file_arrivals import FileArrivals
inbox, db = Path(sys.argv[1]), Path(sys.argv[2])
arrivals = FileArrivals(inbox, "*.csv", "ingest", Recorder(db), settle=0.2, poll_interval=0.05)
spare = []
try:  # use up every file descriptor, so that inotify_init fails with EMFILE
    while True:
        spare.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
arrivals.start()
for fd in spare[:50]:
    os.close(fd)
(inbox / "a.csv").write_text("x")
deadline = time.monotonic() + 20
while not Recorder(db).keys() and time.monotonic() < deadline:
    time.sleep(0.05)
status = arrivals.status
arrivals.stop()
print(status.detail, "|", status.last_error)
"""


def test_watchdog_that_cannot_start_falls_back_to_polling(inbox: Path, recorder: Recorder) -> None:
    import resource

    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            FALLBACK,
            str(inbox),
            str(recorder.path),
            str(Path(__file__).parent),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=few_descriptors,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.returncode == 0, out.stderr
    detail, error = out.stdout.strip().split(" | ")
    assert detail == "polling"
    # The fallback's reason, unless a first poll (before the test gave descriptors back)
    # met the same exhaustion and reported that instead.
    assert "watchdog could not start" in error or "Too many open files" in error
    assert [Path(p["path"]).name for p in recorder.payloads()] == ["a.csv"]
