"""examples/triggers/bucket_ingest.py: deployed with --on-file, a CSV landing in the
bucket folder runs IngestData -> Validate -> Load once, through a scheduler and a worker,
and the file moves to processed/ when its run completed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from triggers_kit import eventually, legato, services, target

from legato.states import RunState


def test_a_csv_landing_in_the_bucket_is_ingested_once_and_moved_to_processed(
    sqlite_store, db_url, tmp_path
):
    bucket, warehouse = tmp_path / "bucket", tmp_path / "warehouse"
    bucket.mkdir()
    legato(
        db_url,
        "deploy",
        target("bucket_ingest"),
        "--name",
        "bucket-ingest",
        "--on-file",
        str(bucket),
        "--pattern",
        "*.csv",
        "--settle",
        "0.3s",
        "--processed-dir",
        "processed",
        "-p",
        f"warehouse={warehouse}",
    )
    body = b"id,amount\n1,10\n2,oops\n3,2.5\n"
    with services(sqlite_store):
        with (bucket / "orders.csv").open("wb") as file:  # written in two parts
            file.write(body[:12])
            file.flush()
            file.write(body[12:])
        (bucket / "readme.txt").write_text("not a csv: ignored")
        moved = bucket / "processed" / "orders.csv"
        eventually(moved.exists, "the ingested file to move to processed/")
    [fire] = sqlite_store.list_fires("bucket-ingest")
    run = sqlite_store.get_run(fire.run_id)
    assert run.state is RunState.COMPLETED
    result = json.loads(run.result)
    digest = hashlib.sha256(body).hexdigest()
    assert result == {
        "loaded": 2,
        "dropped_lines": [3],
        "to": str(warehouse / f"{digest}.json"),
    }
    assert json.loads(Path(result["to"]).read_text())["rows"] == [
        {"id": "1", "amount": 10.0},
        {"id": "3", "amount": 2.5},
    ]
    steps = [s.key for s in sorted(sqlite_store.get_steps(run.run_id), key=lambda s: s.seq)]
    assert steps == ["ingest_data#0", "validate#0", "load#0"]
    assert (bucket / "readme.txt").exists()
