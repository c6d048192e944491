"""The seed's plain-Python pipeline (fetch_data -> process_data -> store_results), as a flow.

The seed orchestrates three functions by calling them in order from a script. Here the
same functions are tasks and the script is a flow, so each step's result is recorded and
a crashed run resumes after the last completed step instead of starting over. The sleeps
are shorter than the seed's one second, and ``seed`` makes the random value repeatable.

    legato run examples/seed/pipeline.py:pipeline -p seed=7
"""

from __future__ import annotations

import random
import time

from legato import flow, task


@task
def fetch_data(source: str, seed: int | None = None, delay: float = 0.1) -> dict:
    print(f"Fetching data from {source}...")
    time.sleep(delay)
    return {"source": source, "value": random.Random(seed).randint(1, 100)}


@task
def process_data(data: dict, delay: float = 0.1) -> dict:
    print(f"Processing data: {data}")
    time.sleep(delay)
    # A copy, not the seed's in-place update: a task should not change its inputs.
    data = dict(data)
    data["processed"] = True
    data["score"] = data["value"] * 0.5
    return data


@task
def store_results(results: dict, delay: float = 0.1) -> None:
    print(f"Storing results: {results}")
    time.sleep(delay)
    print("Workflow complete.")


@flow(name="pipeline")
def pipeline(source: str = "api/v1/data", seed: int | None = None, delay: float = 0.1) -> dict:
    raw_data = fetch_data(source, seed, delay)
    processed_results = process_data(raw_data, delay)
    store_results(processed_results, delay)
    return processed_results


if __name__ == "__main__":
    print(pipeline())
