"""The seed's first trigger: a new file arriving in a storage bucket starts a pipeline.

A folder stands for the bucket. Each CSV that lands in it, fully written, starts one
run: IngestData reads it, Validate keeps the good rows (and says which were dropped),
Load writes them to the warehouse folder under the file's sha256, so loading the same
content twice writes one record.

    mkdir -p bucket warehouse
    legato deploy examples/triggers/bucket_ingest.py:bucket_ingest --name bucket-ingest \\
        --on-file bucket --pattern '*.csv' --processed-dir processed \\
        -p warehouse="$PWD/warehouse"
    legato up                       # scheduler + worker + server, in another terminal
    printf 'id,amount\\n1,10\\n2,oops\\n' > bucket/orders.csv
    legato runs list --deployment bucket-ingest

When the run completes, the file moves to ``bucket/processed/``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from legato import flow, get_run_context, task


@task
def ingest_data(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@task
def validate(rows: list[dict[str, str]]) -> dict[str, list]:
    good, dropped = [], []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            good.append({"id": row["id"], "amount": float(row["amount"])})
        except (KeyError, TypeError, ValueError):
            dropped.append(number)
    return {"rows": good, "dropped_lines": dropped}


@task
def load(rows: list[dict], warehouse: str, sha256: str, source: str) -> str:
    target = Path(warehouse) / f"{sha256}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"source": source, "rows": rows}), encoding="utf-8")
    return str(target)


@flow
def bucket_ingest(warehouse: str = "warehouse", path: str | None = None) -> dict:
    """Ingest the file that started the run (or ``path``, run by hand)."""
    trigger = get_run_context().trigger
    facts = trigger.payload if trigger is not None and trigger.kind == "file" else {}
    path = path or facts["path"]
    sha256 = facts.get("sha256") or "manual"
    checked = validate(ingest_data(path))
    loaded = load(checked["rows"], warehouse, sha256, Path(path).name)
    return {"loaded": len(checked["rows"]), "dropped_lines": checked["dropped_lines"], "to": loaded}
